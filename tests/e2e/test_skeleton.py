"""The service skeleton end to end: HTTPS JSON through the real Envoy only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aura_grpc.auth.scopes import Scope
from gateway.bootstrap import validate
from tests.harness import Stack
from tests.stub_evidence import PCR0, StubTPM

pytestmark = pytest.mark.e2e


def challenge(client: httpx.Client) -> str:
    response = client.post("/v2/attest/challenge", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["nonce"])


def attest(
    client: httpx.Client, device: StubTPM, nonce: str | None = None
) -> httpx.Response:
    payload = device.payload(nonce or challenge(client))
    return client.post("/v2/attest", json={"type": "tpm", "payload": payload})


def reason_of(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["details"][0]["reason"])


def test_envoy_accepts_the_rendered_bootstrap(stack: Stack) -> None:
    result = validate(stack.state_dir / "gateway" / "envoy.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_challenge_gives_a_32_byte_nonce_that_expires(
    stack: Stack, admin_token: str
) -> None:
    import base64

    with stack.client(admin_token) as client:
        body = client.post("/v2/attest/challenge", json={}).json()
    assert len(base64.b64decode(body["nonce"])) == 32
    assert body["expires_at"].endswith("Z")


def test_same_ek_gives_same_device_and_other_org_another(
    stack: Stack, admin_token: str
) -> None:
    device = StubTPM()
    with stack.client(admin_token) as client:
        first = attest(client, device)
        second = attest(client, device)
    assert first.status_code == 200, first.text
    assert first.json()["posture_ok"] is True
    assert first.json()["device_id"] == second.json()["device_id"]
    assert first.json()["issue_ticket"]

    stack.create_org("globex")
    other = stack.create_token("globex", Scope.DEVICE)
    with stack.client(other) as client:
        third = attest(client, device)
    assert third.status_code == 200, third.text
    assert third.json()["device_id"] != first.json()["device_id"]


def test_posture_records_the_dev_stub(stack: Stack, admin_token: str) -> None:
    with stack.client(admin_token) as client:
        device_id = attest(client, StubTPM()).json()["device_id"]
        device = client.get(f"/v2/devices/{device_id}").json()
    assert device["posture"]["dev_stub"] is True
    assert device["posture"]["appraisal"]["appraised"] is False
    assert device["posture_ok"] is True
    assert device["last_attested_at"]


def test_replayed_nonce_is_refused(stack: Stack, admin_token: str) -> None:
    device = StubTPM()
    with stack.client(admin_token) as client:
        nonce = challenge(client)
        assert attest(client, device, nonce).status_code == 200
        replay = attest(client, device, nonce)
    assert replay.status_code == 400
    assert reason_of(replay) == "NONCE_INVALID"


def test_unknown_nonce_is_refused(stack: Stack, admin_token: str) -> None:
    with stack.client(admin_token) as client:
        response = attest(client, StubTPM(), "q" * 43 + "=")
    assert response.status_code == 400
    assert reason_of(response) == "NONCE_INVALID"


def test_nonce_from_another_org_is_refused(stack: Stack, admin_token: str) -> None:
    stack.create_org("initech")
    foreign = stack.create_token("initech", Scope.DEVICE)
    with stack.client(foreign) as client:
        nonce = challenge(client)
    with stack.client(admin_token) as client:
        response = attest(client, StubTPM(), nonce)
    assert response.status_code == 400
    assert reason_of(response) == "NONCE_INVALID"


def test_posture_follows_reference_values(stack: Stack, admin_token: str) -> None:
    stack.create_org("umbrella")
    token = stack.create_token("umbrella", Scope.ADMIN)
    good, bad = StubTPM(), StubTPM()
    bad.pcrs["0"] = "c" * 64

    with stack.client(token) as client:
        put = client.put("/v2/reference-values/tpm", json={"pcrs": {"0": [PCR0]}})
        assert put.status_code == 200, put.text
        assert put.json()["version"] == 1
        ok = attest(client, good).json()
        failed = attest(client, bad).json()
        device = client.get(f"/v2/devices/{failed['device_id']}").json()

    assert ok["posture_ok"] is True
    assert failed["posture_ok"] is False
    assert failed["failed_checks"] == ["pcr0"]
    assert failed["issue_ticket"] == ""
    assert device["posture"]["appraisal"]["failed_checks"] == ["pcr0"]
    assert device["posture"]["appraisal"]["reference_version"] == 1


def test_empty_allow_list_matches_nothing(stack: Stack) -> None:
    stack.create_org("hooli")
    token = stack.create_token("hooli", Scope.ADMIN)
    with stack.client(token) as client:
        client.put("/v2/reference-values/tpm", json={"pcrs": {"7": []}})
        result = attest(client, StubTPM()).json()
    assert result["posture_ok"] is False
    assert result["failed_checks"] == ["pcr7"]


def test_invalid_reference_values_are_refused(stack: Stack, admin_token: str) -> None:
    with stack.client(admin_token) as client:
        response = client.put(
            "/v2/reference-values/tpm", json={"pcrs": {"99": ["zz"]}, "extra": 1}
        )
    assert response.status_code == 400
    assert reason_of(response) == "REFERENCE_VALUES_INVALID"
    assert "unknown keys" in response.json()["message"]


@pytest.mark.parametrize(
    ("case", "request_kwargs", "status"),
    [
        (
            "malformed JSON",
            {"content": b'{"type": ', "method": "POST", "url": "/v2/attest"},
            400,
        ),
        ("unknown route", {"method": "GET", "url": "/v2/nothing-here"}, 404),
        (
            "unknown type",
            {
                "method": "POST",
                "url": "/v2/attest",
                "json": {"type": "punch_card", "payload": {"nonce": "AAAA"}},
            },
            400,
        ),
        (
            "a type not built yet",
            {
                "method": "POST",
                "url": "/v2/attest",
                "json": {"type": "future_type", "payload": {"nonce": "AAAA"}},
            },
            501,
        ),
        (
            "unknown query parameter",
            {"method": "GET", "url": "/v2/devices/x?colour=red"},
            400,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_requests_get_the_right_status(
    stack: Stack,
    admin_token: str,
    case: str,
    request_kwargs: dict[str, Any],
    status: int,
) -> None:
    with stack.client(admin_token) as client:
        response = client.request(**request_kwargs)
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text


def test_missing_and_bad_tokens_are_unauthenticated(stack: Stack) -> None:
    with stack.client() as client:
        assert client.post("/v2/attest/challenge", json={}).status_code == 401
    with stack.client("aura_tok_0000000000000000." + "x" * 43) as client:
        assert client.post("/v2/attest/challenge", json={}).status_code == 401
    with stack.client("not-a-token") as client:
        assert client.post("/v2/attest/challenge", json={}).status_code == 401


def test_token_without_scope_is_forbidden(stack: Stack) -> None:
    stack.create_org("soylent")
    reader = stack.create_token("soylent", Scope.READ)
    with stack.client(reader) as client:
        response = client.put("/v2/reference-values/tpm", json={"pcrs": {}})
    assert response.status_code == 403


def test_another_orgs_device_is_not_found(stack: Stack, admin_token: str) -> None:
    with stack.client(admin_token) as client:
        device_id = attest(client, StubTPM()).json()["device_id"]

    stack.create_org("cyberdyne")
    outsider = stack.create_token("cyberdyne", Scope.ADMIN)
    with stack.client(outsider) as client:
        response = client.get(f"/v2/devices/{device_id}")
    assert response.status_code == 404
    with stack.client(outsider) as client:
        unknown = client.get("/v2/devices/dev_doesnotexist")
    assert unknown.json()["message"] == response.json()["message"].replace(
        device_id, "dev_doesnotexist"
    )


def test_restart_keeps_devices_and_tokens(stack: Stack, admin_token: str) -> None:
    with stack.client(admin_token) as client:
        device_id = attest(client, StubTPM()).json()["device_id"]

    stack.stop_backend()
    stack.start_backend()

    with stack.client(admin_token) as client:
        device = client.get(f"/v2/devices/{device_id}")
    assert device.status_code == 200, device.text
    assert device.json()["attestation_count"] == 1


def test_a_verifier_added_by_configuration_attests(
    stack: Stack, admin_token: str
) -> None:
    with stack.client(admin_token) as client:
        nonce = challenge(client)
        payload = {"nonce": nonce, "serial": "SN-0042"}
        response = client.post(
            "/v2/attest", json={"type": "serial_number", "payload": payload}
        )
    assert response.status_code == 200, response.text
    assert response.json()["posture_ok"] is True


@pytest.mark.parametrize(
    "path",
    ["/v2/devices/%ff%fe", "/v2/crl/%ff", "/v2/certs?device_id=%ff"],
    ids=["device id", "public CRL route", "query parameter"],
)
def test_text_that_is_not_utf8_is_a_clean_400(
    stack: Stack, admin_token: str, path: str
) -> None:
    with stack.client(admin_token) as client:
        response = client.get(path)
    assert response.status_code == 400, response.text
    assert "class" not in response.text and "DecodeError" not in response.text


def test_oversized_headers_are_refused_by_envoy(stack: Stack) -> None:
    with stack.client("aura_tok_" + "x" * 20000) as client:
        response = client.post("/v2/attest/challenge", json={})
    assert response.status_code == 431


def test_paths_are_normalised_before_routing(stack: Stack) -> None:
    with stack.client() as client:
        dotted = client.get("/v2/devices/../version")
        doubled = client.get("/v2//version")
        escaped = client.get("/v2%2Fversion")
    assert dotted.status_code == 200 and dotted.json()["version"]
    assert doubled.status_code == 200
    assert escaped.status_code == 400
