"""Running AURA for several orgs, end to end through Envoy: scopes, token
lifetimes, org isolation, disabling an org, the audit trail and the metrics."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client.parser import text_string_to_metric_families

from aura_grpc.auth.scopes import ALL_SCOPES, METHOD_SCOPES, Scope
from tests.certs import csr_pem
from tests.e2e.test_mtls import refused, whoami
from tests.e2e.test_policy import APPROVE_NEW_DEVICES
from tests.e2e.test_skeleton import reason_of
from tests.harness import Stack, free_port, make_stack
from tests.mtls_devices import DeviceCert, attest_stub, enroll
from tests.ops.routes import routes, token_methods
from tests.stub_evidence import StubTPM

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("aura-ops")
    running = make_stack(
        state, metrics_port=free_port(), metrics_refresh_seconds=0.2
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def platform(stack: Stack) -> str:
    stack.create_org("platform")
    return stack.create_token("platform", Scope.PLATFORM)


def new_org(stack: Stack, name: str) -> str:
    stack.create_org(name)
    return stack.create_token(name, Scope.ADMIN)


@dataclass(frozen=True)
class OrgWorld:
    """One org with something of every kind for another org to reach for."""

    name: str
    org_id: str
    admin: str
    admin_token_id: str
    device: DeviceCert
    approval_id: str


def build_world(stack: Stack, name: str) -> OrgWorld:
    admin = new_org(stack, name)
    with stack.client(admin) as client:
        device = enroll(client)
        held = client.put("/v2/policy", json={"rego": APPROVE_NEW_DEVICES})
        assert held.status_code == 200, held.text
        fresh = attest_stub(client, StubTPM())
        asked = client.post(
            "/v2/certs/issue",
            json={
                "device_id": fresh["device_id"],
                "subject_cn": "held",
                "days": 5,
                "csr_pem": csr_pem(ec.generate_private_key(ec.SECP256R1())),
                "issue_ticket": fresh["issue_ticket"],
            },
        )
        assert reason_of(asked) == "APPROVAL_REQUIRED", asked.text
        approval_id = asked.json()["details"][0]["metadata"]["approval_id"]
    org_id = stack.sql(f"SELECT id FROM orgs WHERE name = '{name}'")[0]["id"]
    token_id = admin.split(".")[0].removeprefix("aura_")
    return OrgWorld(name, org_id, admin, token_id, device, approval_id)


def metric(stack: Stack, name: str, **labels: str) -> float:
    port = stack.settings.metrics_port
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
    return 0.0


# -- scopes ------------------------------------------------------------------


def test_token_without_a_needed_scope_is_refused_for_every_method(
    stack: Stack,
) -> None:
    stack.create_org("scoped")
    table = routes()
    refused_methods = []
    for method in token_methods():
        # Every scope but the ones that allow it (platform is for its org only).
        others = ALL_SCOPES - METHOD_SCOPES[method] - {Scope.PLATFORM}
        token = stack.create_token("scoped", *others)
        with stack.client(token) as client:
            response = table[method].call(client, {"type": "tpm"})
        assert response.status_code == 403, (method, response.text)
        assert reason_of(response) == "PERMISSION_DENIED", (method, response.text)
        refused_methods.append(method)
    assert len(refused_methods) == len(token_methods())


def test_expired_and_revoked_tokens_are_unauthenticated(stack: Stack) -> None:
    admin = new_org(stack, "lifetimes")
    with stack.client(admin) as client:
        short = client.post(
            "/v2/admin/tokens",
            json={"scopes": ["read"], "label": "short", "ttl_seconds": 60},
        ).json()
        doomed = client.post("/v2/admin/tokens", json={"scopes": ["read"]}).json()
        revoked = client.post(
            f"/v2/admin/tokens/{doomed['token']['token_id']}:revoke", json={}
        )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["token"]["status"] == "revoked"

    with stack.client(short["bearer"]) as client:
        assert client.get("/v2/certs").status_code == 200
        stack.issuing_clock.advance(timedelta(seconds=61))
        try:
            expired = client.get("/v2/certs")
        finally:
            stack.issuing_clock.advance(timedelta(seconds=-61))
    with stack.client(doomed["bearer"]) as client:
        gone = client.get("/v2/certs")
    assert (expired.status_code, reason_of(expired)) == (401, "UNAUTHENTICATED")
    assert (gone.status_code, reason_of(gone)) == (401, "UNAUTHENTICATED")


def test_token_secrets_are_shown_once_and_never_listed(stack: Stack) -> None:
    admin = new_org(stack, "secrets")
    with stack.client(admin) as client:
        made = client.post("/v2/admin/tokens", json={"scopes": ["device"]}).json()
        listed = client.get("/v2/admin/tokens").text
    secret = made["bearer"].split(".", 1)[1]
    assert made["token"]["token_id"] in listed
    assert secret not in listed
    stored = stack.sql(
        f"SELECT secret_sha256 FROM tokens WHERE id = '{made['token']['token_id']}'"
    )
    assert secret.encode() not in stored[0]["secret_sha256"]


def test_only_a_platform_token_may_grant_platform_or_act_on_other_orgs(
    stack: Stack, platform: str
) -> None:
    admin = new_org(stack, "ambitious")
    with stack.client(admin) as client:
        grant = client.post("/v2/admin/tokens", json={"scopes": ["platform"]})
        other = client.get("/v2/admin/tokens", params={"org": "platform"})
    with stack.client(platform) as client:
        for_ambitious = client.post(
            "/v2/admin/tokens", json={"org": "ambitious", "scopes": ["read"]}
        )
        outside = client.post(
            "/v2/admin/tokens", json={"org": "ambitious", "scopes": ["platform"]}
        )
    assert grant.status_code == 403, grant.text
    assert other.status_code == 403, other.text
    assert for_ambitious.status_code == 200, for_ambitious.text
    assert for_ambitious.json()["token"]["org"] == "ambitious"
    assert reason_of(outside) == "PLATFORM_ORG_ONLY"


# -- isolation ---------------------------------------------------------------


def test_one_orgs_admin_reaches_nothing_of_another_org(stack: Stack) -> None:
    a = build_world(stack, "org-a")
    b = build_world(stack, "org-b")
    ca_b = b.device.ca_id
    values = {
        "device_id": b.device.device_id,
        "serial": b.device.serial,
        "approval_id": b.approval_id,
        "ca_id": ca_b,
        "token_id": b.admin_token_id,
        "name": b.name,
        "type": "tpm",
    }
    body = {
        "org": b.name,
        "device_id": b.device.device_id,
        "subject_cn": "stolen",
        "days": 1,
        "scopes": ["admin"],
        "name": b.name,
    }
    secrets = [b.org_id, b.device.device_id, b.device.serial, b.approval_id, ca_b]

    table = routes()
    with stack.client(a.admin) as client:
        for method in token_methods():
            params = {"org": b.name, "device_id": b.device.device_id}
            if method.endswith(("/ListCerts", "/ListDevices")):
                params = {"device_id": b.device.device_id}
                if method.endswith("/ListDevices"):
                    params = {}
            response = table[method].call(client, values, body, params)
            if response.status_code == 200:
                leaked = [s for s in secrets if s in response.text]
                assert not leaked, (method, leaked)
            else:
                assert response.status_code in (400, 403, 404), (method, response.text)

    # Nothing of B's changed.
    rows = stack.sql(
        f"SELECT revoked_at FROM certificates WHERE serial = '{b.device.serial}'"
    )
    assert rows[0]["revoked_at"] is None
    status = stack.sql(f"SELECT status FROM approvals WHERE id = '{b.approval_id}'")
    assert status[0]["status"] == "pending"
    cas = stack.sql(
        f"SELECT id FROM certificate_authorities WHERE org_id = '{b.org_id}'"
        " AND status = 'active'"
    )
    assert [row["id"] for row in cas] == [ca_b]
    token = stack.sql(f"SELECT revoked_at FROM tokens WHERE id = '{b.admin_token_id}'")
    assert token[0]["revoked_at"] is None
    devices = stack.sql(
        "SELECT count(*) AS n FROM attestations"
        f" WHERE device_id = '{b.device.device_id}'"
    )
    assert devices[0]["n"] == 1
    assert stack.sql(f"SELECT disabled FROM orgs WHERE id = '{b.org_id}'")[0][
        "disabled"
    ] in (False, 0)


# -- disabling an org ----------------------------------------------------------


def test_disabled_orgs_tokens_and_certificates_stop_working(
    stack: Stack, platform: str
) -> None:
    admin = new_org(stack, "leaving")
    with stack.client(admin) as client:
        device = enroll(client)
    assert whoami(stack, device).status_code == 200

    with stack.client(platform) as client:
        answer = client.post("/v2/admin/orgs/leaving:disable", json={})
        listed = client.get("/v2/admin/orgs").json()["orgs"]
    assert answer.status_code == 200, answer.text
    assert answer.json()["revoked_serials"] == [device.serial]
    assert {o["name"]: o["disabled"] for o in listed}["leaving"] is True

    with stack.client(admin) as client:
        after = client.get("/v2/certs")
    assert (after.status_code, reason_of(after)) == (401, "UNAUTHENTICATED")
    assert "revoked" in refused(stack, device).lower()


def test_the_platform_org_cannot_be_disabled(stack: Stack, platform: str) -> None:
    with stack.client(platform) as client:
        response = client.post("/v2/admin/orgs/platform:disable", json={})
    assert (response.status_code, reason_of(response)) == (400, "ORG_PROTECTED")


# -- devices, certificates, CA -------------------------------------------------


def test_device_history_forget_and_bulk_revocation(stack: Stack) -> None:
    admin = new_org(stack, "fleet")
    tpm = StubTPM()
    with stack.client(admin) as client:
        first = enroll(client, tpm=tpm)
        second = enroll(client, tpm=tpm)
        history = client.get(f"/v2/admin/devices/{first.device_id}").json()
        bulk = client.post(
            f"/v2/admin/devices/{first.device_id}/certs:revoke",
            json={"reason": "superseded"},
        ).json()
        shown = client.get(f"/v2/admin/certs/{second.serial}").json()["certificate"]
        forgot = client.post(f"/v2/admin/devices/{first.device_id}:forget", json={})
        after = client.get(f"/v2/admin/devices/{first.device_id}").json()
        refused_issue = client.post(
            "/v2/certs/issue",
            json={"device_id": first.device_id, "subject_cn": "again", "days": 1},
        )

    assert len(history["attestations"]) == 2
    assert {c["serial"] for c in history["certificates"]} == {
        first.serial,
        second.serial,
    }
    assert sorted(bulk["revoked_serials"]) == sorted([first.serial, second.serial])
    assert (shown["status"], shown["revocation_reason"]) == ("revoked", "superseded")
    assert forgot.status_code == 200 and forgot.json()["revoked_serials"] == []
    assert after["attestations"] == [] and after["device"]["posture_ok"] is False
    assert reason_of(refused_issue) == "POSTURE_NOT_OK"


def test_ca_rotation_through_the_api_keeps_the_old_ca_trusted(stack: Stack) -> None:
    admin = new_org(stack, "rotating")
    with stack.client(admin) as client:
        device = enroll(client)
        rotated = client.post("/v2/admin/ca:rotate", json={}).json()
        cas = {ca["ca_id"]: ca["status"] for ca in client.get("/v2/ca").json()["cas"]}
    assert rotated["previous_ca_id"] == device.ca_id
    assert cas == {rotated["ca_id"]: "active", device.ca_id: "retiring"}
    assert whoami(stack, device).status_code == 200


# -- audit ---------------------------------------------------------------------


def audit(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = ""
    while True:
        page = client.get(
            "/v2/audit", params={**params, "page_token": token, "page_size": 3}
        ).json()
        events += page["events"]
        if len(page["events"]) < 3:
            return events
        token = page["next_page_token"]


def test_audit_records_each_security_event_exactly_once(stack: Stack) -> None:
    admin = new_org(stack, "audited")
    with stack.client(admin) as client:
        device = enroll(client)
        bad = client.post(
            "/v2/attest",
            json={"type": "tpm", "payload": {"nonce": "AAAA", "quote": "x"}},
        )
        made = client.post("/v2/admin/tokens", json={"scopes": ["read"]}).json()
        client.post(f"/v2/admin/tokens/{made['token']['token_id']}:revoke", json={})
        client.post(f"/v2/certs/{device.serial}/revoke", json={})
        client.post(f"/v2/certs/{device.serial}/revoke", json={})  # no-op
        client.post("/v2/admin/ca:rotate", json={})
        client.post(f"/v2/admin/devices/{device.device_id}:forget", json={})
        denied = client.post(
            "/v2/certs/issue",
            json={"device_id": device.device_id, "subject_cn": "x", "days": 1},
        )
        events = audit(client)
        by_serial = audit(client, serial=device.serial)
        certs_only = audit(client, event="cert.")
    assert bad.status_code >= 400 and denied.status_code == 400

    counts = Counter((e["event"], e["outcome"]) for e in events)
    assert counts == {
        ("org.create", "ok"): 1,
        ("token.create", "ok"): 2,
        ("attestation", "accepted"): 1,
        ("attestation", "rejected"): 1,
        ("ca.create", "ok"): 1,
        ("policy.decision", "allow"): 1,
        ("cert.issue", "ok"): 1,
        ("token.revoke", "ok"): 1,
        ("cert.revoke", "ok"): 1,
        ("ca.rotate", "ok"): 1,
        ("device.forget", "ok"): 1,
        ("cert.deny", "denied"): 1,
    }, counts
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [e["event"] for e in by_serial] == ["cert.issue", "cert.revoke"]
    assert {e["event"] for e in certs_only} == {
        "cert.issue",
        "cert.revoke",
        "cert.deny",
    }
    serialised = json.dumps(events)
    assert admin.split(".", 1)[1] not in serialised and "BEGIN" not in serialised


def test_audit_newest_first_and_since_filters(stack: Stack) -> None:
    admin = new_org(stack, "paged")
    with stack.client(admin) as client:
        enroll(client)
        newest = client.get("/v2/audit", params={"newest_first": "true"}).json()
        later = client.get("/v2/audit", params={"since": "2999-01-01T00:00:00Z"}).json()
        bad = client.get("/v2/audit", params={"since": "yesterday"})
        bad_cursor = client.get("/v2/audit", params={"page_token": "nope"})
    ids = [int(e["id"]) for e in newest["events"]]
    assert ids == sorted(ids, reverse=True)
    assert later["events"] == [] and later["next_page_token"] == ""
    assert bad.status_code == 400 and bad_cursor.status_code == 400


# -- metrics -------------------------------------------------------------------


def test_metrics_follow_attestation_issuance_and_revocation(stack: Stack) -> None:
    admin = new_org(stack, "measured")
    before = {
        "ok": metric(stack, "aura_attestations_total", type="tpm", result="ok"),
        "issued": metric(stack, "aura_certificates_issued_total"),
        "revoked": metric(
            stack, "aura_certificates_revoked_total", reason="key_compromise"
        ),
        "verified": metric(stack, "aura_verification_seconds_count", type="tpm"),
    }
    with stack.client(admin) as client:
        device = enroll(client)
        client.post(
            f"/v2/certs/{device.serial}/revoke", json={"reason": "key_compromise"}
        )

    assert metric(stack, "aura_attestations_total", type="tpm", result="ok") == (
        before["ok"] + 1
    )
    assert metric(stack, "aura_verification_seconds_count", type="tpm") == (
        before["verified"] + 1
    )
    assert metric(stack, "aura_certificates_issued_total") == before["issued"] + 1
    assert metric(
        stack, "aura_certificates_revoked_total", reason="key_compromise"
    ) == (before["revoked"] + 1)


def test_fleet_gauges_report_stale_devices_and_crl_lifetimes(stack: Stack) -> None:
    import time

    admin = new_org(stack, "gauged")
    with stack.client(admin) as client:
        device = enroll(client)
    time.sleep(0.5)
    left = metric(stack, "aura_crl_seconds_to_next_update", ca_id=device.ca_id)
    stale_now = metric(stack, "aura_devices_stale")

    stack.issuing_clock.advance(timedelta(hours=25))
    try:
        time.sleep(0.5)
        stale_later = metric(stack, "aura_devices_stale")
    finally:
        stack.issuing_clock.advance(timedelta(hours=-25))
    assert 0 < left <= 24 * 3600
    assert stale_later >= stale_now + 1
