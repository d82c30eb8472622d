"""Issuance policy, approvals and posture loss end to end, through Envoy only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from aura_grpc.auth.scopes import Scope
from aura_grpc.store.models import AuditEvent
from tests.certs import csr_pem, openssl_verify
from tests.e2e.test_skeleton import attest, challenge, reason_of
from tests.harness import Stack, make_stack
from tests.stub_evidence import PCR0, StubTPM

pytestmark = pytest.mark.e2e

DENY_DEV_STUB = """package aura.issuance
import rego.v1

default decision := "allow"

decision := "deny" if input.device.posture.dev_stub
reasons contains "development stub evidence is not accepted" if {
    input.device.posture.dev_stub
}
"""

APPROVE_NEW_DEVICES = """package aura.issuance
import rego.v1

default decision := "allow"

decision := "require_approval" if input.device.certificates_issued == 0
reasons contains "first certificate for this device" if {
    input.device.certificates_issued == 0
}
"""

# Two complete-rule values at once: an evaluation error, never a decision.
CONFLICTING = """package aura.issuance
import rego.v1

decision := "allow" if input.request.days > 0
decision := "deny" if input.request.subject_cn != ""
"""

ALLOW_ALL = 'package aura.issuance\nimport rego.v1\n\ndefault decision := "allow"\n'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = make_stack(tmp_path_factory.mktemp("aura-policy")).start()
    try:
        yield running
    finally:
        running.stop()


def new_org(stack: Stack, name: str, *scopes: Scope) -> str:
    stack.create_org(name)
    return stack.create_token(name, *(scopes or (Scope.ADMIN,)))


def issue(client: httpx.Client, device_id: str, **fields: Any) -> httpx.Response:
    body = {"device_id": device_id, "subject_cn": "laptop-7", "days": 30, **fields}
    return client.post("/v2/certs/issue", json=body)


def attested(client: httpx.Client, device: StubTPM) -> dict[str, Any]:
    response = attest(client, device)
    assert response.status_code == 200, response.text
    return dict(response.json())


def put_policy(client: httpx.Client, rego: str, **fields: Any) -> httpx.Response:
    return client.put("/v2/policy", json={"rego": rego, **fields})


def metadata_of(response: httpx.Response) -> dict[str, str]:
    return dict(response.json()["details"][0].get("metadata", {}))


def certs_of(client: httpx.Client, device_id: str) -> list[dict[str, Any]]:
    response = client.get("/v2/certs", params={"device_id": device_id})
    assert response.status_code == 200, response.text
    return list(response.json()["certificates"])


def decisions(stack: Stack, org_token_org: str) -> list[AuditEvent]:
    async def read() -> list[AuditEvent]:
        assert stack.backend is not None and stack.backend.sessions is not None
        async with stack.backend.sessions() as session:
            org = await stack.backend.orgs().get_org(org_token_org)
            query = select(AuditEvent).where(
                AuditEvent.org_id == org.id, AuditEvent.event == "policy.decision"
            )
            return list((await session.scalars(query)).all())

    return stack.run(read())


def test_default_policy_allows_a_fresh_compliant_device(stack: Stack) -> None:
    token = new_org(stack, "plain")
    with stack.client(token) as client:
        policy = client.get("/v2/policy").json()
        device = attested(client, StubTPM())
        response = issue(client, device["device_id"])
    assert policy["version"] == 0
    assert 'default decision := "allow"' in policy["rego"]
    assert response.status_code == 200, response.text

    [event] = decisions(stack, "plain")
    assert event.outcome == "allow"
    assert event.device_id == device["device_id"]
    assert len(event.detail["input_sha256"]) == 64
    assert event.detail["policy_version"] == 0


def test_policy_denying_on_posture_gives_403_with_its_reasons(stack: Stack) -> None:
    token = new_org(stack, "nostub")
    with stack.client(token) as client:
        stored = put_policy(client, DENY_DEV_STUB)
        device = attested(client, StubTPM())
        response = issue(client, device["device_id"])
    assert stored.status_code == 200, stored.text
    assert stored.json()["version"] == 1
    assert response.status_code == 403
    assert reason_of(response) == "POLICY_DENIED"
    assert "development stub evidence is not accepted" in response.json()["message"]
    assert decisions(stack, "nostub")[-1].detail["policy_version"] == 1


def test_one_orgs_policy_never_affects_another(stack: Stack) -> None:
    strict = new_org(stack, "strict-a")
    relaxed = new_org(stack, "relaxed-b")
    with stack.client(strict) as client:
        assert put_policy(client, DENY_DEV_STUB).status_code == 200
    device = StubTPM()  # the same hardware, enrolled in both orgs
    with stack.client(relaxed) as client:
        allowed = issue(client, attested(client, device)["device_id"])
        assert client.get("/v2/policy").json()["version"] == 0
    with stack.client(strict) as client:
        denied = issue(client, attested(client, device)["device_id"])
    assert allowed.status_code == 200, allowed.text
    assert denied.status_code == 403


def test_invalid_policy_is_refused_and_the_old_one_still_decides(
    stack: Stack,
) -> None:
    token = new_org(stack, "careful")
    case = {
        "name": "stub devices are refused",
        "input": {"device": {"posture": {"dev_stub": True}}},
        "expect": "deny",
    }
    with stack.client(token) as client:
        first = put_policy(client, DENY_DEV_STUB, test_cases=[case])
        broken = put_policy(client, "package aura.issuance\ndecision := if {")
        failing = put_policy(client, ALLOW_ALL)  # breaks the stored test case
        current = client.get("/v2/policy").json()
        response = issue(client, attested(client, StubTPM())["device_id"])

    assert first.status_code == 200, first.text
    assert broken.status_code == 400
    assert reason_of(broken) == "POLICY_INVALID"
    assert "policy.rego:2:" in broken.json()["message"]
    assert failing.status_code == 400
    assert reason_of(failing) == "POLICY_TEST_FAILED"
    assert "stub devices are refused" in failing.json()["message"]
    assert current["version"] == 1
    assert current["test_cases"][0]["expect"] == "deny"
    assert response.status_code == 403


def test_policy_in_another_package_is_refused(stack: Stack) -> None:
    token = new_org(stack, "pkg")
    with stack.client(token) as client:
        response = put_policy(client, 'package other\ndecision := "allow"\n')
    assert response.status_code == 400
    assert "package aura.issuance" in response.json()["message"]


def test_policy_that_errors_at_run_time_denies(stack: Stack) -> None:
    token = new_org(stack, "erring")
    with stack.client(token) as client:
        assert put_policy(client, CONFLICTING).status_code == 200
        response = issue(client, attested(client, StubTPM())["device_id"])
    assert response.status_code == 403
    assert reason_of(response) == "POLICY_DENIED"
    event = decisions(stack, "erring")[-1]
    assert event.outcome == "deny"
    assert "failed while evaluating" in event.reason


def test_draft_is_evaluated_without_being_stored(stack: Stack) -> None:
    token = new_org(stack, "drafts")
    document = {"action": "issue_cert", "device": {"posture": {"dev_stub": True}}}
    with stack.client(token) as client:
        draft = client.post(
            "/v2/policy:test", json={"rego": DENY_DEV_STUB, "input": document}
        )
        in_force = client.post("/v2/policy:test", json={"input": document})
        broken = client.post(
            "/v2/policy:test", json={"rego": "package aura.issuance\nx :="}
        )
        version = client.get("/v2/policy").json()["version"]
    assert draft.status_code == 200, draft.text
    assert draft.json()["decision"] == "deny"
    assert draft.json()["reasons"] == ["development stub evidence is not accepted"]
    assert in_force.json()["decision"] == "allow"
    assert broken.status_code == 400
    assert version == 0


@pytest.fixture(scope="module")
def approvals_org(stack: Stack) -> dict[str, str]:
    admin = new_org(stack, "held")
    with stack.client(admin) as client:
        assert put_policy(client, APPROVE_NEW_DEVICES).status_code == 200
    return {
        "admin": admin,
        "device": stack.create_token("held", Scope.DEVICE),
        "approver": stack.create_token("held", Scope.APPROVE),
    }


def request_approval(stack: Stack, device_token: str) -> tuple[str, str]:
    """A new device asks for a certificate; returns (device id, approval id)."""
    with stack.client(device_token) as client:
        device = attested(client, StubTPM())
        response = issue(
            client,
            device["device_id"],
            csr_pem=csr_pem(ec.generate_private_key(ec.SECP256R1())),
            issue_ticket=device["issue_ticket"],
        )
    assert response.status_code == 403, response.text
    assert reason_of(response) == "APPROVAL_REQUIRED"
    return device["device_id"], metadata_of(response)["approval_id"]


def test_approved_request_is_issued_and_collected(
    stack: Stack, approvals_org: dict[str, str], tmp_path: Path
) -> None:
    device_id, approval_id = request_approval(stack, approvals_org["device"])

    with stack.client(approvals_org["approver"]) as approver:
        pending = approver.get("/v2/approvals").json()["approvals"]
        approved = approver.post(f"/v2/approvals/{approval_id}/approve", json={})
    with stack.client(approvals_org["device"]) as device:
        self_approved = device.post(f"/v2/approvals/{approval_id}/approve", json={})
        collected = device.get(f"/v2/approvals/{approval_id}")
        bundle = device.get("/v2/ca").json()["bundle_pem"]

    assert [a["approval_id"] for a in pending] == [approval_id]
    assert pending[0]["reasons"] == ["first certificate for this device"]
    assert self_approved.status_code == 403
    assert approved.status_code == 200, approved.text
    body = collected.json()
    assert body["status"] == "approved"
    assert body["device_id"] == device_id
    verified = openssl_verify(tmp_path, bundle, body["cert_pem"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    cert = x509.load_pem_x509_certificate(body["cert_pem"].encode())
    assert format(cert.serial_number, "x") == body["serial"]


def test_denied_approval_yields_nothing(
    stack: Stack, approvals_org: dict[str, str]
) -> None:
    device_id, approval_id = request_approval(stack, approvals_org["device"])

    with stack.client(approvals_org["approver"]) as approver:
        denied = approver.post(f"/v2/approvals/{approval_id}/deny", json={})
        late = approver.post(f"/v2/approvals/{approval_id}/approve", json={})
        pending = approver.get("/v2/approvals").json()["approvals"]
    with stack.client(approvals_org["admin"]) as admin:
        certificates = certs_of(admin, device_id)
    with stack.client(approvals_org["device"]) as device:
        collected = device.get(f"/v2/approvals/{approval_id}").json()

    assert denied.status_code == 200, denied.text
    assert late.status_code == 400
    assert reason_of(late) == "APPROVAL_DECIDED"
    assert approval_id not in [a["approval_id"] for a in pending]
    assert certificates == []
    assert collected["status"] == "denied"
    assert collected["cert_pem"] == ""


def test_approval_needs_the_devices_own_key(
    stack: Stack, approvals_org: dict[str, str]
) -> None:
    with stack.client(approvals_org["device"]) as client:
        device = attested(client, StubTPM())
        # No key in the request: the server would make it.
        response = issue(
            client, device["device_id"], issue_ticket=device["issue_ticket"]
        )
    assert response.status_code == 403
    assert reason_of(response) == "APPROVAL_NEEDS_DEVICE_KEY"


def test_expired_approval_cannot_be_approved(
    stack: Stack, approvals_org: dict[str, str]
) -> None:
    _, approval_id = request_approval(stack, approvals_org["device"])
    past_ttl = timedelta(hours=stack.settings.approval_ttl_hours, minutes=1)
    stack.issuing_clock.advance(past_ttl)
    try:
        with stack.client(approvals_org["approver"]) as approver:
            late = approver.post(f"/v2/approvals/{approval_id}/approve", json={})
            shown = approver.get(f"/v2/approvals/{approval_id}").json()
            pending = approver.get("/v2/approvals").json()["approvals"]
    finally:
        stack.issuing_clock.advance(-past_ttl)
    assert late.status_code == 400
    assert reason_of(late) == "APPROVAL_EXPIRED"
    assert shown["status"] == "expired"
    assert approval_id not in [a["approval_id"] for a in pending]


def posture_loss_org(stack: Stack, name: str, action: str) -> str:
    token = new_org(stack, name)
    with stack.client(token) as client:
        stored = put_policy(client, ALLOW_ALL, on_posture_loss=action)
        assert stored.status_code == 200, stored.text
        assert stored.json()["on_posture_loss"] == action
        put = client.put("/v2/reference-values/tpm", json={"pcrs": {"0": [PCR0]}})
        assert put.status_code == 200, put.text
    return token


def enrolled_with_cert(client: httpx.Client) -> tuple[StubTPM, str, str]:
    tpm = StubTPM()
    device = attested(client, tpm)
    assert device["posture_ok"] is True
    response = issue(client, device["device_id"])
    assert response.status_code == 200, response.text
    return tpm, device["device_id"], response.json()["serial"]


@pytest.mark.parametrize("action", ["revoke", "keep"])
def test_failed_reattestation_acts_on_certificates(stack: Stack, action: str) -> None:
    token = posture_loss_org(stack, f"loss-{action}", action)
    with stack.client(token) as client:
        tpm, device_id, serial = enrolled_with_cert(client)
        tpm.pcrs["0"] = "c" * 64  # the firmware changed: appraisal fails
        again = attested(client, tpm)
        [cert] = certs_of(client, device_id)
        crl = x509.load_pem_x509_crl(client.get("/v2/certs/crl.pem").content)

    assert again["device_id"] == device_id
    assert again["posture_ok"] is False
    revoked = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    if action == "revoke":
        assert cert["status"] == "revoked"
        assert cert["revocation_reason"] == "privilege_withdrawn"
        assert revoked is not None
    else:
        assert cert["status"] == "active"
        assert revoked is None


def test_forged_evidence_naming_the_device_changes_nothing(stack: Stack) -> None:
    token = posture_loss_org(stack, "forged", "revoke")
    with stack.client(token) as client:
        tpm, device_id, _ = enrolled_with_cert(client)
        before = client.get(f"/v2/devices/{device_id}").json()

        # The same EK, a failing PCR, and a malformed field: it cannot verify.
        payload = tpm.payload(challenge(client))
        payload["pcrs"] = {"0": "c" * 64, "7": "not hex"}
        forged = client.post("/v2/attest", json={"type": "tpm", "payload": payload})
        after = client.get(f"/v2/devices/{device_id}").json()
        [cert] = certs_of(client, device_id)

    assert forged.status_code == 400
    assert reason_of(forged) == "EVIDENCE_MALFORMED"
    assert after == before
    assert after["posture_ok"] is True
    assert cert["status"] == "active"
