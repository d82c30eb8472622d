"""Hostile sizes and floods through the real Envoy: bodies past the limit get
413, payloads past their type's limit 400 before any nonce is spent, CSRs past
16 KiB 400, and too many calls 429 with a retry hint (docs/hardening.md)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.auth.scopes import Scope
from aura_grpc.ca.requested_key import MAX_PEM_BYTES
from aura_grpc.limits import MAX_REQUEST_BYTES
from tests.certs import csr_pem
from tests.e2e.test_skeleton import reason_of
from tests.harness import TEST_VERIFIERS, Stack, make_stack
from tests.mtls_devices import device_client, enroll

pytestmark = pytest.mark.e2e

VERIFIERS = {**TEST_VERIFIERS, "tiny": "tests.hardening.verifiers:TinyVerifier"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = make_stack(
        tmp_path_factory.mktemp("aura-limits"), verifiers={"extra": VERIFIERS}
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> str:
    stack.create_org("limits")
    return stack.create_token("limits", Scope.ADMIN)


def challenge(client: httpx.Client) -> str:
    response = client.post("/v2/attest/challenge", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["nonce"])


# -- sizes ---------------------------------------------------------------------


def test_body_past_one_mebibyte_is_refused_by_envoy_with_413(
    stack: Stack, admin: str
) -> None:
    body = json.dumps({"type": "tpm", "payload": {"pad": "x" * MAX_REQUEST_BYTES}})
    with stack.client(admin) as client:
        response = client.post("/v2/attest", content=body)
        after = client.get("/v2/certs")
    assert response.status_code == 413, response.text
    assert after.status_code == 200  # the gateway is still serving


def test_body_past_one_mebibyte_is_refused_on_the_device_listener(
    stack: Stack, admin: str
) -> None:
    with stack.client(admin) as client:
        device = enroll(client)
    assert stack.ca_cert is not None
    with device_client(stack.ca_cert, stack.settings.device_port, device) as client:
        response = client.post(
            "/v2/certs/renew", content=b"{" + b" " * (MAX_REQUEST_BYTES + 10) + b"}"
        )
    assert response.status_code == 413, response.text


def test_payload_past_its_types_limit_is_refused_and_the_nonce_stays_unspent(
    stack: Stack, admin: str
) -> None:
    with stack.client(admin) as client:
        nonce = challenge(client)
        big = client.post(
            "/v2/attest",
            json={"type": "tiny", "payload": {"nonce": nonce, "serial": "s" * 300}},
        )
        small = client.post(
            "/v2/attest",
            json={"type": "tiny", "payload": {"nonce": nonce, "serial": "sn-1"}},
        )
    assert (big.status_code, reason_of(big)) == (400, "PAYLOAD_TOO_LARGE")
    assert small.status_code == 200, small.text


def test_body_that_grows_past_the_limit_when_transcoded_gets_413(
    stack: Stack, admin: str
) -> None:
    # 300 KB of JSON zeros become 1.6 MB of protobuf Struct in the transcoder.
    with stack.client(admin) as client:
        body = {
            "type": "tpm",
            "payload": {"nonce": challenge(client), "z": [0] * 150_000},
        }
        response = client.post(
            "/v2/attest", content=json.dumps(body, separators=(",", ":"))
        )
    assert response.status_code == 413, response.text


def test_csr_past_16_kib_is_refused_as_invalid(stack: Stack, admin: str) -> None:
    pem = csr_pem(ec.generate_private_key(ec.SECP256R1()))
    padded = pem + "\n" * (MAX_PEM_BYTES + 1 - len(pem))
    with stack.client(admin) as client:
        device = enroll(client)
        response = client.post(
            "/v2/certs/issue",
            json={
                "device_id": device.device_id,
                "subject_cn": "big",
                "days": 1,
                "csr_pem": padded,
            },
        )
    assert (response.status_code, reason_of(response)) == (400, "CSR_INVALID")


# -- rate limits -----------------------------------------------------------------


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Slow refills so the test's own pace cannot top a bucket up mid-way.
    running = make_stack(
        tmp_path_factory.mktemp("aura-throttled"),
        rate_limit_org_per_second=0.05,
        rate_limit_org_burst=3,
        rate_limit_source_per_second=0.05,
        rate_limit_source_burst=6,
    ).start()
    try:
        yield running
    finally:
        running.stop()


def test_floods_get_429_with_a_retry_hint_per_org_then_per_address(
    throttled: Stack,
) -> None:
    throttled.create_org("loud")
    throttled.create_org("quiet")
    loud = throttled.create_token("loud", Scope.ADMIN)
    quiet = throttled.create_token("quiet", Scope.ADMIN)
    with throttled.client(loud) as client:
        loud_codes = [client.post("/v2/attest/challenge", json={}) for _ in range(4)]
        listing = client.get("/v2/certs")
    with throttled.client(quiet) as client:
        quiet_codes = [client.post("/v2/attest/challenge", json={}) for _ in range(3)]

    # The org's bucket (3) runs dry first; the address's (6, spent by refused
    # calls too) two calls of the other org later.
    assert [r.status_code for r in loud_codes] == [200, 200, 200, 429]
    assert [r.status_code for r in quiet_codes] == [200, 200, 429]
    for refused, what in ((loud_codes[-1], "org"), (quiet_codes[-1], "address")):
        assert reason_of(refused) == "RATE_LIMITED"
        assert what in refused.json()["message"]
        assert int(refused.headers["retry-after"]) >= 1
        details = refused.json()["details"]
        retry = [d for d in details if d["@type"].endswith("google.rpc.RetryInfo")]
        assert retry and retry[0]["retry_delay"].endswith("s"), details
        assert details[0]["metadata"]["retry_after_seconds"].isdigit()
    assert listing.status_code == 200  # only the costly calls are limited


# -- database faults ---------------------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def test_locked_database_gives_503_with_a_retry_hint_and_recovers(
    stack: Stack, admin: str
) -> None:
    url = stack.settings.resolved_database_url
    if not url.startswith("sqlite"):
        pytest.skip("locks an SQLite file; PostgreSQL outages are in the docs")
    path = url.split("///", 1)[1]
    with stack.client(admin) as client:
        nonce = challenge(client)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, path, "8"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            locked = client.post(
                "/v2/attest",
                json={
                    "type": "serial_number",
                    "payload": {"nonce": nonce, "serial": "a"},
                },
            )
        finally:
            holder.wait(timeout=30)
        retried = client.post(
            "/v2/attest",
            json={"type": "serial_number", "payload": {"nonce": nonce, "serial": "a"}},
        )
    assert (locked.status_code, reason_of(locked)) == (503, "DATABASE_UNAVAILABLE")
    assert locked.headers["retry-after"] == "1"
    # The claim of the nonce rolled back with the failed write: the retry works.
    assert retried.status_code == 200, retried.text
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
