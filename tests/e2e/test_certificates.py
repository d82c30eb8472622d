"""Certificates end to end: HTTPS JSON through the real Envoy only."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from aura_grpc.auth.scopes import Scope
from aura_grpc.services.audit import Actor
from tests.certs import csr_pem, openssl_verify, public_pem
from tests.e2e.test_skeleton import attest, reason_of
from tests.harness import Stack, make_stack
from tests.stub_evidence import StubTPM

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("aura-certs")
    running = make_stack(state, crl_check_seconds=0.2, crl_period_hours=24).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def org(stack: Stack) -> str:
    stack.create_org("acme")
    return stack.create_token("acme", Scope.ADMIN)


def fresh_device(client: httpx.Client) -> dict[str, Any]:
    response = attest(client, StubTPM())
    assert response.status_code == 200, response.text
    return dict(response.json())


def issue(
    client: httpx.Client, device: dict[str, Any], **fields: Any
) -> httpx.Response:
    body = {"device_id": device["device_id"], "subject_cn": "laptop-42", "days": 30}
    return client.post("/v2/certs/issue", json={**body, **fields})


def bundle(client: httpx.Client) -> str:
    response = client.get("/v2/ca")
    assert response.status_code == 200, response.text
    return str(response.json()["bundle_pem"])


@pytest.mark.parametrize(
    "key_kind",
    [
        "server-made Ed25519",
        "CSR Ed25519",
        "CSR P-256",
        "public key P-256",
        "CSR RSA-2048",
    ],
)
def test_issued_certificate_matches_the_profile(
    stack: Stack, org: str, tmp_path: Path, key_kind: str
) -> None:
    fields: dict[str, str] = {}
    if key_kind == "CSR Ed25519":
        fields["csr_pem"] = csr_pem(ed25519.Ed25519PrivateKey.generate())
    elif key_kind == "CSR P-256":
        fields["csr_pem"] = csr_pem(ec.generate_private_key(ec.SECP256R1()))
    elif key_kind == "public key P-256":
        fields["public_key_pem"] = public_pem(ec.generate_private_key(ec.SECP256R1()))
    elif key_kind == "CSR RSA-2048":
        fields["csr_pem"] = csr_pem(rsa.generate_private_key(65537, 2048))

    with stack.client(org) as client:
        device = fresh_device(client)
        response = issue(client, device, issue_ticket=device["issue_ticket"], **fields)
        assert response.status_code == 200, response.text
        body = response.json()
        trust = bundle(client)

    assert set(body) >= {"serial", "cert_pem", "not_before", "not_after"}
    assert bool(body["private_key_pem"]) == (key_kind == "server-made Ed25519")
    verified = openssl_verify(tmp_path, trust, body["cert_pem"])
    assert verified.returncode == 0, verified.stdout + verified.stderr

    cert = x509.load_pem_x509_certificate(body["cert_pem"].encode())
    assert format(cert.serial_number, "x") == body["serial"]
    assert 64 <= cert.serial_number.bit_length() <= 159
    assert cert.subject.rfc4514_string() == "CN=laptop-42"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    org_id = stack.run(stack.backend.orgs().get_org("acme")).id  # type: ignore[union-attr]
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"spiffe://aura.local/org/{org_id}/device/{device['device_id']}"
    ]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    url = cdp.value[0].full_name[0].value  # type: ignore[index]
    assert url == f"{stack.base_url}/v2/crl/{body['ca_id']}"
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=30) <= lifetime <= timedelta(days=30, minutes=2)


def test_tampered_csr_is_refused(stack: Stack, org: str) -> None:
    pem = csr_pem(ec.generate_private_key(ec.SECP256R1()))
    der = bytearray(
        x509.load_pem_x509_csr(pem.encode()).public_bytes(
            __import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
            ).Encoding.DER
        )
    )
    der[-5] ^= 0x01  # inside the signature
    tampered = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der)).decode()
        + "-----END CERTIFICATE REQUEST-----\n"
    )
    with stack.client(org) as client:
        response = issue(client, fresh_device(client), csr_pem=tampered)
    assert response.status_code == 400, response.text
    assert reason_of(response) in {"CSR_SIGNATURE_INVALID", "CSR_INVALID"}


@pytest.mark.parametrize("days", [0, -1, 398, 100000])
def test_days_out_of_range_is_refused(stack: Stack, org: str, days: int) -> None:
    with stack.client(org) as client:
        response = issue(client, fresh_device(client), days=days)
    assert response.status_code == 400
    assert "days must be" in response.json()["message"]


@pytest.mark.parametrize("cn", ["", "x" * 65, "bad\nname", "<script>"])
def test_bad_subject_cn_is_refused(stack: Stack, org: str, cn: str) -> None:
    with stack.client(org) as client:
        response = issue(client, fresh_device(client), subject_cn=cn)
    assert response.status_code == 400


def test_unknown_device_is_not_found(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        response = issue(client, {"device_id": "dev_nosuchdevice"})
    assert response.status_code == 404


def test_another_orgs_device_is_not_found(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        device = fresh_device(client)
    stack.create_org("rival")
    rival = stack.create_token("rival", Scope.ADMIN)
    with stack.client(rival) as client:
        response = issue(client, device)
    assert response.status_code == 404


def test_stale_attestation_is_refused(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        device = fresh_device(client)
        stack.issuing_clock.advance(timedelta(hours=24, minutes=1))
        try:
            response = issue(client, device)
        finally:
            stack.issuing_clock.advance(-timedelta(hours=24, minutes=1))
    assert response.status_code == 400
    assert reason_of(response) == "ATTESTATION_STALE"


def test_failed_posture_is_refused(stack: Stack) -> None:
    stack.create_org("strict")
    token = stack.create_token("strict", Scope.ADMIN)
    with stack.client(token) as client:
        client.put("/v2/reference-values/tpm", json={"pcrs": {"0": []}})
        device = fresh_device(client)
        response = issue(client, device)
    assert device["posture_ok"] is False
    assert response.status_code == 400
    assert reason_of(response) == "POSTURE_NOT_OK"


def test_ticket_is_single_use(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        device = fresh_device(client)
        first = issue(client, device, issue_ticket=device["issue_ticket"])
        second = issue(client, device, issue_ticket=device["issue_ticket"])
    assert first.status_code == 200, first.text
    assert second.status_code == 400
    assert reason_of(second) == "ISSUE_TICKET_INVALID"


def test_ticket_of_another_device_is_refused(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        one, two = fresh_device(client), fresh_device(client)
        response = issue(client, one, issue_ticket=two["issue_ticket"])
    assert response.status_code == 400
    assert reason_of(response) == "ISSUE_TICKET_INVALID"


def test_retry_with_request_id_returns_the_same_certificate(
    stack: Stack, org: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with stack.client(org) as client:
        device = fresh_device(client)
        first = issue(client, device, csr_pem=csr_pem(key), request_id="req-1")
        again = issue(client, device, csr_pem=csr_pem(key), request_id="req-1")
        made = issue(client, device, request_id="req-2")
        made_again = issue(client, device, request_id="req-2")
    assert first.json()["serial"] == again.json()["serial"]
    assert made.status_code == 200
    assert made_again.status_code == 409
    assert made.json()["serial"] in made_again.json()["message"]


def test_listing_pages_through_everything(stack: Stack) -> None:
    stack.create_org("lister")
    token = stack.create_token("lister", Scope.ADMIN)
    with stack.client(token) as client:
        device = fresh_device(client)
        serials = {issue(client, device).json()["serial"] for _ in range(7)}
        seen: list[str] = []
        page_token = ""
        while True:
            params = {
                "page_size": "3",
                **({"page_token": page_token} if page_token else {}),
            }
            page = client.get("/v2/certs", params=params).json()
            seen += [c["serial"] for c in page["certificates"]]
            page_token = page["next_page_token"]
            if not page_token:
                break
        by_device = client.get("/v2/certs", params={"device_id": device["device_id"]})
        revoked = client.get("/v2/certs", params={"status": "revoked"})
        bad_token = client.get("/v2/certs", params={"page_token": "garbage!"})
    assert len(seen) == 7 and set(seen) == serials
    assert len(by_device.json()["certificates"]) == 7
    assert revoked.json()["certificates"] == []
    assert bad_token.status_code == 400


def test_revocation_and_crls(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        device = fresh_device(client)
        serial = issue(client, device).json()["serial"]
        first = client.post(
            f"/v2/certs/{serial.upper()}/revoke", json={"reason": "key_compromise"}
        )
        second = client.post(
            f"/v2/certs/{serial}/revoke", json={"reason": "superseded"}
        )
        unknown = client.post("/v2/certs/00ab/revoke", json={})
        bad_reason = client.post(f"/v2/certs/{serial}/revoke", json={"reason": "bored"})
        listed = client.get("/v2/certs", params={"status": "revoked"}).json()
        pem = client.get("/v2/certs/crl.pem")
        ca = client.get("/v2/ca").json()["cas"][0]
    with httpx.Client(verify=False) as anonymous:  # public route, no token
        der = anonymous.get(f"{stack.base_url}/v2/crl/{ca['ca_id']}")

    assert first.status_code == 200, first.text
    assert first.json()["certificate"]["status"] == "revoked"
    assert (
        second.json()["certificate"]["revoked_at"]
        == first.json()["certificate"]["revoked_at"]
    )
    assert second.json()["certificate"]["revocation_reason"] == "key_compromise"
    assert unknown.status_code == 404
    assert bad_reason.status_code == 400
    assert serial in [c["serial"] for c in listed["certificates"]]

    assert pem.status_code == 200
    assert pem.headers["content-type"] == "application/pkix-crl"
    assert der.status_code == 200
    issuer = x509.load_pem_x509_certificate(ca["cert_pem"].encode())
    for crl in (
        x509.load_pem_x509_crl(pem.content),
        x509.load_der_x509_crl(der.content),
    ):
        assert crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        assert crl.issuer == issuer.subject
        entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
        assert entry is not None
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert reason == x509.ReasonFlags.key_compromise
        assert crl.next_update_utc is not None
        assert crl.next_update_utc > datetime.now(UTC)


def crl_number(client: httpx.Client) -> int:
    crl = x509.load_pem_x509_crl(client.get("/v2/certs/crl.pem").content)
    return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


def test_crl_is_resigned_at_half_life(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        issue(client, fresh_device(client))
        before = crl_number(client)
        stack.issuing_clock.advance(timedelta(hours=12, minutes=1))
        try:
            deadline = time.monotonic() + 10
            after = before
            while after == before and time.monotonic() < deadline:
                time.sleep(0.2)
                after = crl_number(client)
        finally:
            stack.issuing_clock.advance(-timedelta(hours=12, minutes=1))
    assert after > before


def test_rotation_keeps_both_cas_trusted(stack: Stack, tmp_path: Path) -> None:
    stack.create_org("rotator")
    token = stack.create_token("rotator", Scope.ADMIN)
    with stack.client(token) as client:
        device = fresh_device(client)
        old = issue(client, device).json()
        org_id = stack.run(stack.backend.orgs().get_org("rotator")).id  # type: ignore[union-attr]
        authorities = stack.backend.authority_service()  # type: ignore[union-attr]
        stack.run(
            authorities.create_ca(org_id, Actor(org_id, None), replace_active=True)
        )
        new = issue(client, device).json()
        cas = client.get("/v2/ca").json()
        crls = client.get("/v2/certs/crl.pem").content

    assert old["ca_id"] != new["ca_id"]
    assert {c["status"] for c in cas["cas"]} == {"active", "retiring"}
    for body in (old, new):
        result = openssl_verify(tmp_path, cas["bundle_pem"], body["cert_pem"])
        assert result.returncode == 0, result.stdout + result.stderr
    assert crls.count(b"BEGIN X509 CRL") == 2


def test_crl_before_any_ca_is_not_found(stack: Stack) -> None:
    stack.create_org("empty")
    token = stack.create_token("empty", Scope.READ)
    with stack.client(token) as client:
        assert client.get("/v2/certs/crl.pem").status_code == 404


def test_request_id_reused_for_another_request_is_refused(
    stack: Stack, org: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with stack.client(org) as client:
        device, other = fresh_device(client), fresh_device(client)
        first = issue(client, device, csr_pem=csr_pem(key), request_id="shared-1")
        other_device = issue(client, other, csr_pem=csr_pem(key), request_id="shared-1")
        other_key = issue(
            client,
            device,
            public_key_pem=public_pem(ec.generate_private_key(ec.SECP256R1())),
            request_id="shared-1",
        )
    assert first.status_code == 200, first.text
    for response in (other_device, other_key):
        assert response.status_code == 409
        assert reason_of(response) == "REQUEST_ID_REUSED"
        assert first.json()["serial"] not in response.text


def test_device_token_needs_a_ticket_even_in_dev(stack: Stack) -> None:
    stack.create_org("ticketed")
    admin = stack.create_token("ticketed", Scope.ADMIN)
    device_token = stack.create_token("ticketed", Scope.DEVICE)
    with stack.client(admin) as client:
        attested_by_admin = fresh_device(client)
    with stack.client(device_token) as client:
        own = fresh_device(client)
        without = issue(client, attested_by_admin)
        with_ticket = issue(client, own, issue_ticket=own["issue_ticket"])
    assert without.status_code == 400
    assert reason_of(without) == "BINDING_REQUIRED"
    assert with_ticket.status_code == 200, with_ticket.text


def test_dev_stub_cannot_bind_a_key(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        nonce = client.post("/v2/attest/challenge", json={}).json()["nonce"]
        payload = StubTPM().payload(nonce)
        payload["bound_key_pem"] = public_pem(ec.generate_private_key(ec.SECP256R1()))
        response = client.post("/v2/attest", json={"type": "tpm", "payload": payload})
    assert response.status_code == 400
    assert reason_of(response) == "TPM_DEV_STUB_CANNOT_BIND"
