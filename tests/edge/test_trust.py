"""What may reach Envoy: every CRL is checked against the CA it claims to cover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.crl import RevokedEntry, build_crl
from aura_grpc.edge.trust import CRLRejected, check_crl, placeholder_ca, snapshot_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
DER = Encoding.DER


def ca(name: str = "acme"):  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    return make_ca_certificate(name, f"ca_{name}", key, NOW - DAY), key


def test_a_fresh_crl_of_its_own_ca_is_accepted() -> None:
    cert, key = ca()
    revoked = [RevokedEntry(1 << 70, NOW, "key_compromise")]
    crl = check_crl(cert, build_crl(cert, key, 3, NOW, NOW + DAY, revoked), NOW)
    assert crl.get_revoked_certificate_by_serial_number(1 << 70) is not None


@pytest.mark.parametrize(
    "case",
    [
        "signed by another CA with the same name",
        "another CA's CRL",
        "past nextUpdate",
        "about to lapse",
        "thisUpdate in the future",
        "a certificate instead of a CRL",
        "garbage",
    ],
)
def test_a_crl_that_would_lock_clients_out_is_refused(case: str) -> None:
    cert, key = ca()
    impostor, impostor_key = ca()  # same subject, different key
    other, other_key = ca("rival")
    der = {
        "signed by another CA with the same name": build_crl(
            impostor, impostor_key, 1, NOW, NOW + DAY, []
        ),
        "another CA's CRL": build_crl(other, other_key, 1, NOW, NOW + DAY, []),
        "past nextUpdate": build_crl(cert, key, 1, NOW - 2 * DAY, NOW - DAY, []),
        "about to lapse": build_crl(
            cert, key, 1, NOW - DAY, NOW + timedelta(seconds=30), []
        ),
        "thisUpdate in the future": build_crl(
            cert, key, 1, NOW + DAY, NOW + 2 * DAY, []
        ),
        "a certificate instead of a CRL": cert.public_bytes(DER),
        "garbage": b"\x30\x03\x02\x01\x01",
    }[case]
    with pytest.raises(CRLRejected):
        check_crl(cert, der, NOW)


def test_placeholder_has_a_long_valid_crl_and_no_org() -> None:
    placeholder = placeholder_ca(NOW)
    check_crl(
        placeholder.certificate, placeholder.crl.public_bytes(DER), NOW + 365 * DAY
    )
    assert placeholder.org_id == ""


def test_snapshot_pairs_one_crl_with_each_ca_and_versions_by_content() -> None:
    first, second = placeholder_ca(NOW), placeholder_ca(NOW)
    both = snapshot_of([second, first], [])
    again = snapshot_of([first, second], ["ab"])
    assert both.bundle_pem.count(b"BEGIN CERTIFICATE") == 2
    assert both.crl_pem.count(b"BEGIN X509 CRL") == 2
    assert both.version == again.version  # order and revoked set do not change bytes
    assert snapshot_of([first], []).version != both.version
