"""Evidence made here under a test Intel PKI: the checks real quotes cannot reach."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.intel_tdx import TDXVerifier
from aura_grpc.errors import (
    ChainInvalid,
    ClaimMismatch,
    EvidenceExpired,
    NonceMismatch,
    SignatureInvalid,
)
from tests.attestation.intel_tdx.conftest import context
from tests.attestation.intel_tdx.factory import (
    NOW,
    PLATFORM_SVNS,
    FakeIntelPKI,
    Options,
    make_evidence,
)

NONCE = b"\x11" * 32
DEFAULT = Options()
REFERENCE = {"mrtd": ["aa" * 48]}


def payload_of(pki: FakeIntelPKI, opts: Options = DEFAULT) -> dict[str, Any]:
    quote, collateral = make_evidence(pki, opts)
    return {"quote": base64.b64encode(quote).decode(), "collateral": collateral}


def test_fresh_quote_verifies_and_passes_appraisal(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    evidence = test_verifier.verify(payload_of(pki), context(NONCE, NOW))
    reference = test_verifier.parse_reference_values(REFERENCE)

    assert evidence.claims["tcb_status"] == "UpToDate"
    assert test_verifier.appraise(evidence, reference) == []


def test_revoked_pck_certificate_is_refused(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    with pytest.raises(ChainInvalid) as caught:
        test_verifier.verify(
            payload_of(pki, Options(revoke_leaf=True)), context(NONCE, NOW)
        )
    assert caught.value.reason == "TDX_PCK_REVOKED"


def test_quote_from_another_root_is_untrusted(test_verifier: TDXVerifier) -> None:
    with pytest.raises(ChainInvalid) as caught:
        test_verifier.verify(payload_of(FakeIntelPKI()), context(NONCE, NOW))
    assert caught.value.reason == "TDX_PCK_ROOT_UNTRUSTED"


def test_real_verifier_refuses_test_pki_evidence(pki: FakeIntelPKI) -> None:
    with pytest.raises(ChainInvalid):
        TDXVerifier().verify(payload_of(pki), context(NONCE, NOW))


def test_report_data_binds_the_named_key(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    opts = Options(report_data=hashlib.sha512(NONCE + spki).digest())

    payload = payload_of(pki, opts) | {"bound_key_pem": pem}
    evidence = test_verifier.verify(payload, context(NONCE, NOW))
    assert evidence.bound_key_spki == spki

    payload["bound_key_pem"] = pem.replace(pem, _other_pem())
    with pytest.raises(NonceMismatch):
        test_verifier.verify(payload, context(NONCE, NOW))


def _other_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


def test_debug_td_fails_appraisal_unless_allowed(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    evidence = test_verifier.verify(
        payload_of(pki, Options(td_attributes=1)), context(NONCE, NOW)
    )
    assert evidence.claims["td_attributes"]["debug"] is True

    strict = test_verifier.parse_reference_values(REFERENCE)
    lenient = test_verifier.parse_reference_values(REFERENCE | {"allow_debug": True})
    assert test_verifier.appraise(evidence, strict) == ["debug"]
    assert test_verifier.appraise(evidence, lenient) == []


def test_out_of_date_platform_passes_only_when_listed(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    older = tuple(max(s - 1, 0) for s in PLATFORM_SVNS)
    opts = Options(pck_svns=older, pce_svn=6)
    evidence = test_verifier.verify(payload_of(pki, opts), context(NONCE, NOW))
    assert evidence.claims["tcb_status"] == "OutOfDate"
    assert evidence.claims["advisory_ids"] == ["INTEL-SA-00001"]

    listed = REFERENCE | {"accepted_tcb_statuses": ["UpToDate", "OutOfDate"]}
    assert test_verifier.appraise(
        evidence, test_verifier.parse_reference_values(REFERENCE)
    ) == ["tcb_status"]
    assert (
        test_verifier.appraise(evidence, test_verifier.parse_reference_values(listed))
        == []
    )


def test_platform_below_every_level_is_a_posture_failure_not_an_error(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    evidence = test_verifier.verify(
        payload_of(pki, Options(pce_svn=1)), context(NONCE, NOW)
    )
    assert evidence.claims["tcb_status"] == "NoMatchingLevel"
    reference = test_verifier.parse_reference_values(REFERENCE)
    assert test_verifier.appraise(evidence, reference) == ["tcb_status"]


def test_stale_collateral_cannot_be_replayed(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    old = Options(
        issue_date=NOW.replace(year=2025), next_update=NOW.replace(year=2025, month=7)
    )
    with pytest.raises(EvidenceExpired) as caught:
        test_verifier.verify(payload_of(pki, old), context(NONCE, NOW))
    assert caught.value.reason == "TDX_COLLATERAL_EXPIRED"


def test_unbound_attestation_key_is_refused(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    quote, collateral = make_evidence(pki)
    # Flip a byte of the attestation key: the QE report no longer vouches for it.
    key_at = 48 + 584 + 4 + 64
    tampered = bytearray(quote)
    tampered[key_at + 10] ^= 1
    payload = {
        "quote": base64.b64encode(bytes(tampered)).decode(),
        "collateral": collateral,
    }
    with pytest.raises(ClaimMismatch) as caught:
        test_verifier.verify(payload, context(NONCE, NOW))
    assert caught.value.reason == "TDX_ATTESTATION_KEY_NOT_BOUND"


def test_forged_qe_report_fails_its_signature(
    pki: FakeIntelPKI, test_verifier: TDXVerifier
) -> None:
    quote, collateral = make_evidence(pki)
    qe_report_at = 48 + 584 + 4 + 128 + 6
    tampered = bytearray(quote)
    struct.pack_into("<H", tampered, qe_report_at + 258, 9)  # raise the QE ISVSVN
    payload = {
        "quote": base64.b64encode(bytes(tampered)).decode(),
        "collateral": collateral,
    }
    with pytest.raises(SignatureInvalid) as caught:
        test_verifier.verify(payload, context(NONCE, NOW))
    assert caught.value.reason == "TDX_QE_REPORT_SIGNATURE_INVALID"
