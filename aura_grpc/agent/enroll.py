"""One agent run: prove the TPM, attest, get (or renew) a certificate.

1. EK and AK in the TPM; the server wraps a secret for them
   (CreateCredentialChallenge) and the TPM unwraps it (ActivateCredential).
2. A P-256 key is made in the TPM and certified by the AK with the secret
   (or, with `software_key`, made here and tied to the device by the ticket).
3. The quote over the chosen PCRs carries the secret as extraData; Attest.
4. IssueCert for that key with the issue ticket; key and certificate are kept
   with 0600 permissions, and the next run renews once the certificate has
   lived `renew_fraction` of its life.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.agent.client import APIClient, CallFailed, whoami
from aura_grpc.agent.store import (
    KEY_FILE,
    AgentState,
    StateDir,
    needs_renewal,
    write_private,
)
from aura_grpc.agent.tpm import TPM, CertifiedKey

Report = Callable[[str], None]


class AgentError(Exception):
    """The run cannot go on; the message says why, for the operator."""


@dataclass(frozen=True)
class AgentOptions:
    api_target: str
    root_pem: bytes
    token: str
    tcti: str
    subject_cn: str
    pcrs: list[int] = field(default_factory=lambda: list(range(8)))
    days: int = 30
    renew_fraction: float = 2 / 3
    software_key: bool = False
    key_alg: str = "rsa"
    force: bool = False
    device_target: str = ""


@dataclass(frozen=True)
class RunResult:
    renewed: bool
    state: AgentState
    whoami: dict[str, Any] | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def activate(api: APIClient, tpm: TPM, report: Report) -> bytes:
    challenge = api.credential_challenge(tpm.read("ek.pub"), tpm.read("ak.pub"))
    report("credential challenge received (wrapped for this EK and AK)")
    secret = tpm.activate_credential(
        challenge.credential_blob, challenge.encrypted_secret
    )
    report("credential activated in the TPM")
    return secret


def _software_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def build_payload(
    tpm: TPM, secret: bytes, pcrs: list[int], certified: CertifiedKey | None
) -> dict[str, Any]:
    quote = tpm.quote(secret, pcrs)
    payload: dict[str, Any] = {
        "nonce": _b64(secret),
        "ak_public": _b64(tpm.read("ak.pub")),
        "ek_public": _b64(tpm.read("ek.pub")),
        "quote": _b64(quote.attest),
        "signature": _b64(quote.signature),
        "pcrs": {str(index): value.hex() for index, value in quote.pcrs.items()},
        "pcr_bank": "sha256",
    }
    if certified is not None:
        payload |= {
            "certify_info": _b64(certified.certify_info),
            "certify_signature": _b64(certified.certify_signature),
            "certified_public": _b64(certified.public_area),
            "bound_key_pem": certified.public_pem,
        }
    return payload


def _whoami(options: AgentOptions, state: StateDir) -> dict[str, Any] | None:
    key_path = state.path(KEY_FILE)
    if not options.device_target or not key_path.exists():
        return None
    reply = whoami(
        options.device_target,
        options.root_pem,
        key_path.read_bytes(),
        state.path("cert.pem").read_bytes(),
    )
    return {
        "org": reply.org,
        "device_id": reply.device_id,
        "subject_cn": reply.subject_cn,
        "serial": reply.serial,
    }


def run_once(options: AgentOptions, state: StateDir, report: Report) -> RunResult:
    """Enrol or renew when due; otherwise only check who the certificate is."""
    current = state.load()
    if not options.force and not needs_renewal(
        state.certificate(), datetime.now(UTC), options.renew_fraction
    ):
        report(f"certificate {current.serial} is not due for renewal")
        return RunResult(False, current, _whoami(options, state))

    tpm = TPM(state.tpm_dir, options.tcti, options.key_alg)
    tpm.ensure_keys()
    report("EK and AK ready in the TPM")
    try:
        with APIClient(options.api_target, options.root_pem, options.token) as api:
            issued = _attest_and_issue(options, tpm, api, report)
    except CallFailed as failure:
        raise AgentError(f"server refused: {failure}") from failure

    # The new key replaces the old only once its certificate is in hand.
    if options.software_key:
        write_private(state.path(KEY_FILE), issued.key_pem)
    else:
        tpm.rename_key("key.next", "key")
        state.path(KEY_FILE).unlink(missing_ok=True)
    state.save_certificate(issued.cert_pem, issued.cert_pem + issued.chain_pem)
    new_state = AgentState(
        device_id=issued.device_id,
        serial=issued.serial,
        not_after=issued.not_after,
        key_kind="software" if options.software_key else "tpm",
        key_name="key",
    )
    state.save(new_state)
    report(f"certificate {issued.serial} stored, valid until {issued.not_after}")
    return RunResult(True, new_state, _whoami(options, state))


@dataclass(frozen=True)
class _Issued:
    device_id: str
    serial: str
    not_after: str
    cert_pem: str
    chain_pem: str
    key_pem: bytes = b""


@dataclass(frozen=True)
class _NewKey:
    """The key to certify: TPM-certified, or made here (then with its PEM)."""

    request_fields: dict[str, str]
    certified: CertifiedKey | None = None
    private_pem: bytes = b""


def _new_key(options: AgentOptions, tpm: TPM, secret: bytes, report: Report) -> _NewKey:
    if not options.software_key:
        certified = tpm.create_certified_key("key.next", secret)
        report("P-256 key made in the TPM and certified by the AK")
        return _NewKey({"public_key_pem": certified.public_pem}, certified)

    key, csr = _software_key()
    report("P-256 key made outside the TPM (bound by the issue ticket)")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _NewKey({"csr_pem": csr}, private_pem=private_pem)


def _attest_and_issue(
    options: AgentOptions, tpm: TPM, api: APIClient, report: Report
) -> _Issued:
    secret = activate(api, tpm, report)
    key = _new_key(options, tpm, secret, report)

    outcome = api.attest(build_payload(tpm, secret, options.pcrs, key.certified))
    report(f"attested: device {outcome.device_id}, posture_ok={outcome.posture_ok}")
    if not outcome.posture_ok:
        raise AgentError(
            "posture not ok: " + ", ".join(outcome.failed_checks or ["unknown"])
        )

    reply = api.issue(
        device_id=outcome.device_id,
        subject_cn=options.subject_cn,
        days=options.days,
        issue_ticket=outcome.issue_ticket,
        **key.request_fields,
    )
    report(f"certificate issued: serial {reply.serial}")
    return _Issued(
        device_id=outcome.device_id,
        serial=reply.serial,
        not_after=reply.not_after.ToDatetime(UTC).isoformat(),
        cert_pem=reply.cert_pem,
        chain_pem=reply.chain_pem,
        key_pem=key.private_pem,
    )
