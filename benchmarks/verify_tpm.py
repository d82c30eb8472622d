"""TPM quote verification per second against the bare signature check.

Two inputs: the real GCE vTPM quote (AK certificate chain to Google's pinned CA;
with and without its event log) and a fresh RSA-2048 quote made here with an
AK certified by a throwaway CA. Each figure runs for about two seconds.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.tpm import TPMVerifier, fake
from aura_grpc.attestation.tpm.parse import parse_public

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
GCE = VECTORS / "tpm" / "gotpmtools_gce-cos-85-nonce9009_extracted"
NOW = datetime.now(UTC)
BUDGET_SECONDS = 2.0


def rate(work: Callable[[], object]) -> float:
    """Calls per second of `work`, measured for about BUDGET_SECONDS."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < BUDGET_SECONDS:
        for _ in range(50):
            work()
        calls += 50
    return calls / elapsed


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def report(
    label: str, verify: Callable[[], object], bare: Callable[[], object]
) -> None:
    full, raw = rate(verify), rate(bare)
    print(
        f"verify tpm ({label}): {full:.1f}/s  bare signature checks: {raw:.1f}/s  "
        f"ratio {full / raw:.2f}"
    )


def bare_check(
    ak_public: bytes, attest: bytes, signature: bytes
) -> Callable[[], object]:
    key = parse_public(ak_public).public_key
    assert isinstance(key, rsa.RSAPublicKey)
    raw_signature = signature[6:]  # sigAlg, hashAlg, size: RSASSA-SHA256 only here
    return lambda: key.verify(
        raw_signature, attest, padding.PKCS1v15(), hashes.SHA256()
    )


def gce(with_log: bool) -> None:
    pcrs = json.loads((GCE / "pcrs.json").read_text())["sha256"]
    ak_public = (GCE / "ak_pub.tpmt_public").read_bytes()
    attest = (GCE / "quote_sha256.tpms_attest").read_bytes()
    signature = (GCE / "quote_sha256.tpmt_signature").read_bytes()
    payload: dict[str, Any] = {
        "ak_public": b64(ak_public),
        "ak_cert": b64((GCE / "ak_cert.der").read_bytes()),
        "quote": b64(attest),
        "signature": b64(signature),
        "pcrs": pcrs,
    }
    if with_log:
        payload["event_log"] = b64((GCE / "event_log.bin").read_bytes())
    verifier, context = TPMVerifier(), VerificationContext(b"\x90\x09", NOW)
    label = "GCE vTPM, event log replayed" if with_log else "GCE vTPM"

    report(
        label,
        lambda: verifier.verify(payload, context),
        bare_check(ak_public, attest, signature),
    )


def make_ca(ak: rsa.RSAPublicKey) -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench TPM CA")])

    def build(subject: x509.Name, public: Any, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
            .sign(key, hashes.SHA256())
        )

    root = build(name, key.public_key(), True)
    leaf = build(x509.Name([]), ak, False)
    pem = root.public_bytes(serialization.Encoding.PEM).decode()
    return pem, leaf.public_bytes(serialization.Encoding.DER)


def fresh() -> None:
    tpm = fake.SoftTPM()
    nonce = bytes(32)
    pcrs = {i: bytes([i]) * 32 for i in range(24)}
    attest, signature = tpm.quote(nonce, pcrs)
    ak_public = tpm.ak_public
    assert isinstance(tpm.ak, rsa.RSAPrivateKey)
    ca_pem, ak_cert = make_ca(tpm.ak.public_key())
    payload = {
        "ak_public": b64(ak_public),
        "ak_cert": b64(ak_cert),
        "quote": b64(attest),
        "signature": b64(signature),
        "pcrs": {str(i): v.hex() for i, v in pcrs.items()},
    }
    verifier = TPMVerifier.from_options({"ak_ca_pem": ca_pem}, "prod")
    context = VerificationContext(nonce, NOW)

    report(
        "fresh RSA-2048 quote",
        lambda: verifier.verify(payload, context),
        bare_check(ak_public, attest, signature),
    )


def main() -> None:
    if GCE.is_dir():
        gce(with_log=False)
        gce(with_log=True)
    else:
        print(f"verify tpm (GCE vTPM): skipped, {VECTORS} is absent")
    fresh()


if __name__ == "__main__":
    main()
