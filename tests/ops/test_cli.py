"""The `aura` command as a new operator meets it: a subprocess, guided only by
`aura --help`, against the running stack (real Envoy, HTTPS with the dev CA)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aura_grpc.auth.scopes import Scope
from tests.harness import Stack, make_stack
from tests.mtls_devices import enroll
from tests.stub_evidence import PCR0

pytestmark = pytest.mark.e2e

AURA = [sys.executable, "-m", "aura_grpc.cli"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = make_stack(tmp_path_factory.mktemp("aura-cli")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def platform(stack: Stack) -> str:
    stack.create_org("platform")
    return stack.create_token("platform", Scope.PLATFORM)


def aura(
    stack: Stack, token: str, *args: str, cwd: Path | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `aura ARGS` with the connection in the environment, as documented."""
    env = {
        **os.environ,
        "AURA_URL": stack.base_url,
        "AURA_TOKEN": token,
        "AURA_CACERT": str(stack.ca_cert),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [*AURA, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or stack.state_dir,
        timeout=60,
        check=False,
    )
    if ok:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_help_alone_leads_to_every_admin_group(stack: Stack) -> None:
    top = aura(stack, "", "--help").stdout
    admin = aura(stack, "", "admin", "--help").stdout
    for word in ("serve", "admin", "audit", "backup", "restore", "config", "offline"):
        assert word in top.lower(), word
    for group in ("org", "token", "device", "cert", "ca", "refs", "policy", "approval"):
        assert f" {group} " in admin, group
    assert "--url" in admin and "--token" in admin and "--cacert" in admin


def test_operator_creates_an_org_and_hands_out_an_enrollment_token(
    stack: Stack, platform: str
) -> None:
    created = as_json(aura(stack, platform, "admin", "--json", "org", "create", "team"))
    made = as_json(
        aura(
            stack,
            platform,
            "admin",
            "--json",
            "token",
            "create",
            "--org",
            "team",
            "--scopes",
            "admin",
            "--label",
            "team lead",
            "--expires-in",
            "30d",
        )
    )
    admin = made["bearer"]
    enrolment = as_json(
        aura(stack, admin, "admin", "--json", "token", "create", "--scopes", "device")
    )
    listed = aura(stack, admin, "admin", "token", "list").stdout
    orgs = aura(stack, platform, "admin", "org", "list").stdout

    assert created["name"] == "team" and created["disabled"] is False
    assert made["token"]["expires_at"] and made["token"]["scopes"] == ["admin"]
    assert enrolment["bearer"].startswith("aura_tok_")
    assert enrolment["token"]["token_id"] in listed
    assert enrolment["bearer"].split(".", 1)[1] not in listed
    assert "team" in orgs and "platform" in orgs


def test_operator_manages_devices_certificates_and_the_ca(stack: Stack) -> None:
    stack.create_org("crew")
    admin = stack.create_token("crew", Scope.ADMIN)
    with stack.client(admin) as client:
        device = enroll(client)

    devices = as_json(aura(stack, admin, "admin", "--json", "device", "list"))
    shown = aura(stack, admin, "admin", "device", "show", device.device_id).stdout
    certs = aura(stack, admin, "admin", "cert", "list").stdout
    pem = aura(stack, admin, "admin", "cert", "show", device.serial, "--pem").stdout
    revoked = as_json(
        aura(
            stack,
            admin,
            "admin",
            "--json",
            "cert",
            "revoke",
            device.serial,
            "--reason",
            "key_compromise",
        )
    )
    crl = aura(stack, admin, "admin", "cert", "crl").stdout
    rotated = as_json(aura(stack, admin, "admin", "--json", "ca", "rotate"))
    cas = aura(stack, admin, "admin", "ca", "show").stdout

    assert [d["device_id"] for d in devices["devices"]] == [device.device_id]
    assert device.device_id in shown and device.serial in shown
    assert device.serial in certs
    assert pem == device.cert_pem
    assert revoked["status"] == "revoked"
    assert "BEGIN X509 CRL" in crl
    assert rotated["previous_ca_id"] == device.ca_id
    assert rotated["ca_id"] in cas and "retiring" in cas


def test_operator_sets_reference_values_policy_and_reads_approvals(
    stack: Stack, tmp_path: Path
) -> None:
    stack.create_org("rules")
    admin = stack.create_token("rules", Scope.ADMIN)
    refs = tmp_path / "tpm.yaml"
    refs.write_text(f"pcrs:\n  '0': ['{PCR0}']\n")
    rego = tmp_path / "policy.rego"
    rego.write_text(
        'package aura.issuance\nimport rego.v1\n\ndefault decision := "allow"\n'
    )
    probe = tmp_path / "input.json"
    probe.write_text(json.dumps({"action": "issue_cert", "device": {"posture": {}}}))

    put = as_json(
        aura(stack, admin, "admin", "--json", "refs", "put", "tpm", str(refs))
    )
    got = as_json(aura(stack, admin, "admin", "--json", "refs", "get", "tpm"))
    policy = as_json(aura(stack, admin, "admin", "--json", "policy", "put", str(rego)))
    source = aura(stack, admin, "admin", "policy", "get", "--rego").stdout
    tested = as_json(
        aura(stack, admin, "admin", "--json", "policy", "test", str(probe))
    )
    approvals = as_json(aura(stack, admin, "admin", "--json", "approval", "list"))

    assert put["version"] == 1 and got["values"] == {"pcrs": {"0": [PCR0]}}
    assert policy["version"] >= 1 and source == rego.read_text()
    assert tested["decision"] == "allow"
    assert approvals == []


def test_audit_tail_streams_json_lines_with_a_cursor(stack: Stack) -> None:
    stack.create_org("watched")
    admin = stack.create_token("watched", Scope.ADMIN)
    with stack.client(admin) as client:
        enroll(client)

    tail = aura(
        stack,
        admin,
        "audit",
        "tail",
        "--from-start",
        "--max-polls",
        "1",
        "--interval",
        "0",
    )
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    listed = aura(stack, admin, "audit", "list", "--event", "cert.").stdout

    events = [line["event"] for line in lines]
    assert events[:2] == ["org.create", "token.create"]
    assert "cert.issue" in events and "attestation" in events
    assert "cert.issue" in listed


def test_refusals_are_one_clear_line_without_a_traceback(
    stack: Stack, tmp_path: Path
) -> None:
    stack.create_org("reader")
    reader = stack.create_token("reader", Scope.READ)

    bad_token = aura(
        stack, "aura_tok_0000000000000000.x", "admin", "device", "list", ok=False
    )
    no_scope = aura(stack, reader, "admin", "ca", "rotate", ok=False)
    missing = aura(stack, reader, "admin", "device", "show", "dev_nope", ok=False)
    nowhere = aura(
        stack,
        reader,
        "admin",
        "--url",
        "https://127.0.0.1:1",
        "device",
        "list",
        ok=False,
    )

    assert bad_token.returncode == 1 and "UNAUTHENTICATED" in bad_token.stderr
    assert no_scope.returncode == 1 and "HTTP 403" in no_scope.stderr
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr
    assert nowhere.returncode == 1 and "cannot reach" in nowhere.stderr


def test_offline_bootstrap_commands_still_work(tmp_path: Path) -> None:
    env = {**os.environ, "AURA_STATE_DIR": str(tmp_path / "state")}
    run = [*AURA]

    def offline(*args: str) -> str:
        result = subprocess.run(
            [*run, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    org_id = offline("org", "create", "platform")
    bearer = offline("token", "create", "--org", "platform", "--scopes", "platform")
    refused = subprocess.run(
        [*run, "token", "create", "--org", "platform", "--scopes", "nonsense"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert org_id.startswith("org_") and bearer.startswith("aura_tok_")
    assert refused.returncode == 2 and "unknown scopes" in refused.stderr
