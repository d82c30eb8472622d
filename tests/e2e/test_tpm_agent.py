"""The device agent against swtpm, the real server and Envoy (gRPC over TLS).

Each test gets a fresh software TPM; the agent drives it with tpm2-tools and
talks to Envoy's API listener only. Refusals are checked by gRPC code and the
ErrorInfo reason the server put in the status.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.agent.client import APIClient, CallFailed
from aura_grpc.agent.enroll import (
    AgentError,
    AgentOptions,
    activate,
    build_payload,
    run_once,
)
from aura_grpc.agent.store import StateDir
from aura_grpc.agent.tpm import TPM, TPMError
from aura_grpc.attestation.tpm.quote import parse_public
from aura_grpc.auth.scopes import Scope
from tests.attestation.tpm.test_swtpm import SWTPM
from tests.certs import csr_pem
from tests.harness import Stack, make_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.swtpm,
    pytest.mark.skipif(
        not (shutil.which("swtpm") and shutil.which("tpm2_certifycreation")),
        reason="swtpm and tpm2-tools are not installed (Debian: swtpm tpm2-tools)",
    ),
]
PCRS = [0, 1, 2, 7]


@dataclass
class Org:
    name: str
    device_token: str
    admin_token: str


@dataclass
class Device:
    """One software TPM, and the agent's state folder for it."""

    swtpm: SWTPM
    state: StateDir

    @property
    def tcti(self) -> str:
        return self.swtpm.env["TPM2TOOLS_TCTI"]

    def tpm(self) -> TPM:
        tpm = TPM(self.state.tpm_dir, self.tcti)
        tpm.ensure_keys()
        return tpm


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = make_stack(tmp_path_factory.mktemp("aura-tpm")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def org(stack: Stack, request: pytest.FixtureRequest) -> Org:
    """An org per test: reference values pinned by one test stay in its org."""
    name = "tpm-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    stack.create_org(name)
    return Org(
        name,
        stack.create_token(name, Scope.DEVICE),
        stack.create_token(name, Scope.ADMIN),
    )


def _device(root: Path) -> Iterator[Device]:
    (root / "swtpm").mkdir(parents=True)
    swtpm = SWTPM(root / "swtpm")
    try:
        yield Device(swtpm, StateDir(root / "agent"))
    finally:
        swtpm.stop()


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    yield from _device(tmp_path / "a")


@pytest.fixture
def other_device(tmp_path: Path) -> Iterator[Device]:
    yield from _device(tmp_path / "b")


def _options(stack: Stack, token: str, device: Device, **extra: object) -> AgentOptions:
    assert stack.ca_cert is not None
    fields: dict[str, object] = {
        "api_target": f"127.0.0.1:{stack.settings.api_port}",
        "root_pem": stack.ca_cert.read_bytes(),
        "token": token,
        "tcti": device.tcti,
        "subject_cn": "tpm-box",
        "pcrs": PCRS,
        **extra,
    }
    return AgentOptions(**fields)  # type: ignore[arg-type]


def _api(stack: Stack, token: str) -> APIClient:
    assert stack.ca_cert is not None
    target = f"127.0.0.1:{stack.settings.api_port}"
    return APIClient(target, stack.ca_cert.read_bytes(), token)


def _refusal(call: object) -> tuple[grpc.StatusCode, str]:
    assert isinstance(call, pytest.ExceptionInfo)
    assert isinstance(call.value, CallFailed)
    return call.value.code, call.value.reason


def _cli(
    stack: Stack, org: Org, device: Device, *extra: str
) -> subprocess.CompletedProcess[str]:
    assert stack.ca_cert is not None
    agent = Path(sys.executable).with_name("aura-agent")
    tcti = device.tcti
    return subprocess.run(
        [
            str(agent), "run",
            "--server", f"127.0.0.1:{stack.settings.api_port}",
            "--ca-file", str(stack.ca_cert),
            "--state-dir", str(device.state.root),
            "--subject-cn", "tpm-box", "--pcrs", "0,1,2,7", *extra,
        ],
        env={**os.environ, "AURA_TOKEN": org.device_token, "TPM2TOOLS_TCTI": tcti},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


def _spki_of(cert_path: Path) -> bytes:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_agent_enrols_with_a_tpm_certified_key_and_renews_when_forced(
    stack: Stack, org: Org, device: Device
) -> None:
    first = _cli(stack, org, device)
    assert first.returncode == 0, first.stderr
    assert "credential activated in the TPM" in first.stdout

    root = device.state.root
    tpm_key = parse_public((root / "tpm" / "key.pub").read_bytes())
    assert _spki_of(root / "cert.pem") == tpm_key.spki()
    for private in ("cert.pem", "agent.json", "tpm/key.priv", "tpm/key.pub"):
        assert stat.S_IMODE((root / private).stat().st_mode) == 0o600, private
    state = device.state.load()
    with stack.client(org.admin_token) as client:
        body = client.get(f"/v2/devices/{state.device_id}").json()
    assert body["posture"]["vouched_by"] == "credential_activation"
    assert body["posture_ok"] is True

    again = _cli(stack, org, device)
    assert again.returncode == 0, again.stderr
    assert "not due for renewal" in again.stdout

    renewed = _cli(stack, org, device, "--force")
    assert renewed.returncode == 0, renewed.stderr
    assert device.state.load().serial != state.serial
    assert _spki_of(root / "cert.pem") != tpm_key.spki()  # a new key each time


def test_replayed_activation_secret_is_refused(
    stack: Stack, org: Org, device: Device
) -> None:
    tpm = device.tpm()
    with _api(stack, org.device_token) as api:
        payload = build_payload(tpm, activate(api, tpm, print), PCRS, None)
        assert api.attest(payload).posture_ok

        with pytest.raises(CallFailed) as replay:
            api.attest(payload)
    assert _refusal(replay) == (grpc.StatusCode.FAILED_PRECONDITION, "NONCE_INVALID")


def test_plain_challenge_nonce_on_the_ek_path_is_refused(
    stack: Stack, org: Org, device: Device
) -> None:
    tpm = device.tpm()
    with _api(stack, org.device_token) as api:
        # A forged answer: no activation, just a nonce any caller can get.
        payload = build_payload(tpm, api.challenge(), PCRS, None)
        with pytest.raises(CallFailed) as refused:
            api.attest(payload)
    assert _refusal(refused) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "TPM_CREDENTIAL_NOT_ACTIVATED",
    )


def test_ak_of_another_tpm_cannot_ride_on_this_tpms_ek(
    stack: Stack, org: Org, device: Device, other_device: Device
) -> None:
    tpm_a, tpm_b = device.tpm(), other_device.tpm()
    with _api(stack, org.device_token) as api:
        # Wrapped for EK A and AK B: TPM B (another EK) cannot unwrap it.
        challenge = api.credential_challenge(tpm_a.read("ek.pub"), tpm_b.read("ak.pub"))
        with pytest.raises(TPMError):
            tpm_b.activate_credential(
                challenge.credential_blob, challenge.encrypted_secret
            )

        # TPM A activates honestly; AK B quotes with that secret claiming EK A.
        secret = activate(api, tpm_a, print)
        payload = build_payload(tpm_b, secret, PCRS, None)
        payload["ek_public"] = base64.b64encode(tpm_a.read("ek.pub")).decode()
        with pytest.raises(CallFailed) as refused:
            api.attest(payload)
    assert _refusal(refused) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "TPM_CREDENTIAL_NOT_ACTIVATED",
    )


def test_csr_for_another_key_than_the_certified_one_is_refused(
    stack: Stack, org: Org, device: Device
) -> None:
    tpm = device.tpm()
    with _api(stack, org.device_token) as api:
        secret = activate(api, tpm, print)
        certified = tpm.create_certified_key("bound", secret)
        outcome = api.attest(build_payload(tpm, secret, PCRS, certified))
        request = {
            "device_id": outcome.device_id,
            "subject_cn": "tpm-box",
            "days": 7,
            "issue_ticket": outcome.issue_ticket,
        }

        with pytest.raises(CallFailed) as refused:
            api.issue(
                **request, csr_pem=csr_pem(ec.generate_private_key(ec.SECP256R1()))
            )
        assert _refusal(refused) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "KEY_NOT_BOUND",
        )

        issued = api.issue(**request, public_key_pem=certified.public_pem)
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    assert (
        cert.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
        == certified.public_pem
    )


def test_changed_pcr_after_pinning_fails_posture_and_issuance(
    stack: Stack, org: Org, device: Device
) -> None:
    first = run_once(_options(stack, org.device_token, device), device.state, print)
    with stack.client(org.admin_token) as client:
        posture = client.get(f"/v2/devices/{first.state.device_id}").json()["posture"]
        pinned = {index: [value] for index, value in posture["pcrs"].items()}
        put = client.put("/v2/reference-values/tpm", json={"pcrs": pinned})
        assert put.status_code == 200, put.text

    measurement = hashlib.sha256(b"a bootloader nobody approved").hexdigest()
    device.swtpm.run("tpm2_pcrextend", f"7:sha256={measurement}")
    with pytest.raises(AgentError, match="posture not ok: pcr7"):
        run_once(
            _options(stack, org.device_token, device, force=True), device.state, print
        )

    with stack.client(org.admin_token) as client:
        body = client.get(f"/v2/devices/{first.state.device_id}").json()
        assert body["posture_ok"] is False
        assert body["posture"]["appraisal"]["failed_checks"] == ["pcr7"]
        key = csr_pem(ec.generate_private_key(ec.SECP256R1()))
        issue = client.post(
            "/v2/certs/issue",
            json={
                "device_id": first.state.device_id,
                "subject_cn": "x",
                "days": 1,
                "csr_pem": key,
            },
        )
    assert issue.status_code == 400
    assert issue.json()["details"][0]["reason"] == "POSTURE_NOT_OK"


def test_credential_challenge_json_route(
    stack: Stack, org: Org, device: Device
) -> None:
    tpm = device.tpm()
    ek, ak = (base64.b64encode(tpm.read(n)).decode() for n in ("ek.pub", "ak.pub"))
    with stack.client(org.device_token) as client:
        good = client.post(
            "/v2/attest/credential", json={"ek_public": ek, "ak_public": ak}
        )
        swapped = client.post(
            "/v2/attest/credential", json={"ek_public": ak, "ak_public": ek}
        )
        missing = client.post("/v2/attest/credential", json={"ek_public": ek})

    assert good.status_code == 200, good.text
    assert set(good.json()) >= {"credential_blob", "encrypted_secret", "expires_at"}
    assert tpm.activate_credential(
        base64.b64decode(good.json()["credential_blob"]),
        base64.b64decode(good.json()["encrypted_secret"]),
    )
    assert swapped.status_code == 401
    assert swapped.json()["details"][0]["reason"] == "TPM_AK_ATTRIBUTES"
    assert missing.status_code == 400


def test_software_key_device_calls_whoami_until_revoked(
    stack: Stack, org: Org, device: Device
) -> None:
    options = _options(
        stack,
        org.device_token,
        device,
        software_key=True,
        device_target=f"127.0.0.1:{stack.settings.device_port}",
    )
    result = run_once(options, device.state, print)
    assert result.whoami is not None
    assert result.whoami["serial"] == result.state.serial
    assert result.whoami["device_id"] == result.state.device_id
    key_file = device.state.path("key.pem")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    with stack.client(org.admin_token) as client:
        revoked = client.post(f"/v2/certs/{result.state.serial}/revoke", json={})
        assert revoked.status_code == 200, revoked.text

    # Not due for renewal, so the run only calls whoami: refused now.
    with pytest.raises(CallFailed) as refused:
        for _ in range(50):  # the new CRL reaches Envoy by SDS within moments
            run_once(options, device.state, print)
            time.sleep(0.1)
    assert refused.value.code in (
        grpc.StatusCode.UNAVAILABLE,  # the handshake fails on the CRL
        grpc.StatusCode.UNAUTHENTICATED,  # or the backend's own check
    )
