"""Replay and time through the real Envoy (docs/hardening.md, "Replay and time").

Client clocks: Nitro documents a little ahead of or behind the server are
accepted, further out refused, and certificates are backdated so a client a
little behind accepts them. Server clock jumps: forward expires nonces and
freshness, backward never lowers a CRL number or revives a used nonce. Reused
evidence carries its old nonce and is refused.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509

from aura_grpc.auth.scopes import Scope
from aura_grpc.ca.profile import BACKDATE
from tests.attestation.aws_nitro.minting import NitroTestPKI, mint_document
from tests.e2e.test_skeleton import reason_of
from tests.harness import TEST_VERIFIERS, Stack, make_stack
from tests.mtls_devices import enroll

pytestmark = pytest.mark.e2e

PKI = NitroTestPKI(not_before=datetime.now(UTC) - timedelta(days=1))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    verifiers = {
        "extra": TEST_VERIFIERS,
        "options": {"aws_nitro": {"extra_roots_pem": PKI.root_pem}},
    }
    running = make_stack(
        tmp_path_factory.mktemp("aura-time"), verifiers=verifiers
    ).start()
    try:
        running.create_org("clocks")
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.create_token("clocks", Scope.ADMIN)) as made:
        yield made


@contextmanager
def issuing_clock_moved(stack: Stack, delta: timedelta) -> Iterator[None]:
    stack.issuing_clock.advance(delta)
    try:
        yield
    finally:
        stack.issuing_clock.advance(-delta)


def challenge(client: httpx.Client) -> str:
    response = client.post("/v2/attest/challenge", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["nonce"])


def nitro_payload(nonce: str, skew: timedelta) -> dict[str, str]:
    """A Nitro document for `nonce` stamped `skew` from the server's now."""
    document = mint_document(
        PKI, timestamp=datetime.now(UTC) + skew, nonce=base64.b64decode(nonce)
    )
    return {"document": base64.b64encode(document).decode(), "nonce": nonce}


def attest_nitro(client: httpx.Client, payload: dict[str, str]) -> httpx.Response:
    return client.post("/v2/attest", json={"type": "aws_nitro", "payload": payload})


def attest_serial(client: httpx.Client, nonce: str, serial: str) -> httpx.Response:
    payload = {"nonce": nonce, "serial": serial}
    return client.post("/v2/attest", json={"type": "serial_number", "payload": payload})


def current_crl(client: httpx.Client) -> x509.CertificateRevocationList:
    response = client.get("/v2/certs/crl.pem")
    assert response.status_code == 200, response.text
    return x509.load_pem_x509_crl(response.content)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


# -- client clocks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "skew",
    [timedelta(seconds=30), timedelta(seconds=-200)],
    ids=["30 s ahead", "200 s behind"],
)
def test_nitro_document_within_the_allowed_skew_is_accepted(
    client: httpx.Client, skew: timedelta
) -> None:
    response = attest_nitro(client, nitro_payload(challenge(client), skew))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("skew", "reason"),
    [
        (timedelta(seconds=120), "NITRO_DOCUMENT_FROM_FUTURE"),
        (timedelta(seconds=-400), "NITRO_DOCUMENT_STALE"),
    ],
    ids=["120 s ahead", "400 s behind"],
)
def test_nitro_document_outside_the_allowed_skew_is_refused(
    client: httpx.Client, skew: timedelta, reason: str
) -> None:
    response = attest_nitro(client, nitro_payload(challenge(client), skew))

    assert (response.status_code, reason_of(response)) == (401, reason)


def test_certificate_is_backdated_for_clients_whose_clocks_lag(
    stack: Stack, client: httpx.Client
) -> None:
    device = enroll(client)
    issued_by = stack.issuing_clock.now()

    cert = x509.load_pem_x509_certificate(device.cert_pem.encode())

    assert timedelta(seconds=60) <= BACKDATE
    assert cert.not_valid_before_utc <= issued_by - timedelta(seconds=60)
    # Not backdated further than that (X.509 times drop the fraction).
    assert cert.not_valid_before_utc >= issued_by - BACKDATE - timedelta(seconds=5)


# -- server clock jumps ------------------------------------------------------------


def test_forward_jump_past_the_nonce_ttl_expires_an_outstanding_nonce(
    stack: Stack, client: httpx.Client
) -> None:
    nonce = challenge(client)
    ttl = timedelta(seconds=stack.settings.nonce_ttl_seconds + 1)

    with issuing_clock_moved(stack, ttl):
        response = attest_serial(client, nonce, "jump-nonce")

    assert (response.status_code, reason_of(response)) == (400, "NONCE_INVALID")


def test_forward_jump_past_the_freshness_window_refuses_issuance(
    stack: Stack, client: httpx.Client
) -> None:
    attested = attest_serial(client, challenge(client), "jump-fresh")
    assert attested.status_code == 200, attested.text
    window = timedelta(hours=stack.settings.freshness_hours, minutes=1)
    request = {
        "device_id": attested.json()["device_id"],
        "subject_cn": "fresh",
        "days": 1,
    }

    with issuing_clock_moved(stack, window):
        stale = client.post("/v2/certs/issue", json=request)
    fresh = client.post("/v2/certs/issue", json=request)

    assert (stale.status_code, reason_of(stale)) == (400, "ATTESTATION_STALE")
    assert fresh.status_code == 200, fresh.text


def test_backward_jump_never_lowers_crl_numbers(
    client: httpx.Client, stack: Stack
) -> None:
    first, second = enroll(client), enroll(client)
    assert client.post(f"/v2/certs/{first.serial}/revoke", json={}).is_success
    before = crl_number(current_crl(client))

    with issuing_clock_moved(stack, -timedelta(hours=2)):
        revoked = client.post(f"/v2/certs/{second.serial}/revoke", json={})
        after = current_crl(client)

    assert revoked.is_success, revoked.text
    assert crl_number(after) > before
    serials = {format(entry.serial_number, "x") for entry in after}
    assert {first.serial.lower(), second.serial.lower()} <= serials


def test_backward_jump_never_makes_a_used_nonce_usable_again(
    stack: Stack, client: httpx.Client
) -> None:
    nonce = challenge(client)
    assert attest_serial(client, nonce, "jump-back").status_code == 200

    with issuing_clock_moved(stack, -timedelta(hours=1)):
        replay = attest_serial(client, nonce, "jump-back")

    assert (replay.status_code, reason_of(replay)) == (400, "NONCE_INVALID")


def test_crl_resigned_after_a_forward_jump_verifies_with_a_higher_number(
    stack: Stack, client: httpx.Client
) -> None:
    device = enroll(client)
    ca = x509.load_pem_x509_certificate(
        client.get("/v2/ca").json()["bundle_pem"].encode()
    )
    before = current_crl(client)
    jump = timedelta(hours=stack.settings.crl_period_hours * 2)

    with issuing_clock_moved(stack, jump):
        jumped_to = stack.issuing_clock.now()
        assert client.post(f"/v2/certs/{device.serial}/revoke", json={}).is_success
        after = current_crl(client)

    assert crl_number(after) > crl_number(before)
    assert after.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert after.last_update_utc >= jumped_to - timedelta(seconds=5)
    assert after.next_update_utc is not None and after.next_update_utc > jumped_to


# -- reused evidence ---------------------------------------------------------------


def test_reused_evidence_is_refused_with_a_fresh_nonce_and_with_its_own(
    client: httpx.Client,
) -> None:
    first = nitro_payload(challenge(client), timedelta())
    assert attest_nitro(client, first).status_code == 200

    renamed = attest_nitro(client, {**first, "nonce": challenge(client)})
    replayed = attest_nitro(client, first)

    assert (renamed.status_code, reason_of(renamed)) == (400, "NONCE_MISMATCH")
    assert (replayed.status_code, reason_of(replayed)) == (400, "NONCE_INVALID")
