"""Verifications/s of a real bare SEV-SNP report, beside the bare crypto cost.

The bare cost is what no verifier can avoid: one ECDSA P-384 verify of the
report and the two RSA-PSS verifies of VCEK <- ASK <- ARK. Both run on the same
real sample (trustee's Milan report) in the same process and run.
"""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.attestation.base import VerificationContext

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
REPORT = VECTORS / "sev-snp" / "trustee_test-report.bin"
VCEK = VECTORS / "sev-snp" / "trustee_test-vcek.der"
CHAIN = VECTORS / "roots" / "amd_ask_ark_milan.pem"
SECONDS = 5.0
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def rate(work: Callable[[], object], seconds: float = SECONDS) -> float:
    """Calls per second of `work`, measured over about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            work()
        count += 20
    return count / elapsed


def bare_checks(report: bytes, vcek_der: bytes, chain_pem: bytes) -> Callable[[], None]:
    """ECDSA over the report plus RSA-PSS over VCEK and ASK, nothing else."""
    vcek = x509.load_der_x509_certificate(vcek_der)
    ask, ark = x509.load_pem_x509_certificates(chain_pem)
    vcek_key, ask_key, ark_key = vcek.public_key(), ask.public_key(), ark.public_key()
    assert isinstance(vcek_key, ec.EllipticCurvePublicKey)
    assert isinstance(ask_key, rsa.RSAPublicKey) and isinstance(
        ark_key, rsa.RSAPublicKey
    )
    r = int.from_bytes(report[0x2A0:0x2E8], "little")
    s = int.from_bytes(report[0x2E8:0x330], "little")

    def run() -> None:
        signature = encode_dss_signature(r, s)
        vcek_key.verify(signature, report[:0x2A0], ec.ECDSA(hashes.SHA384()))
        ask_key.verify(vcek.signature, vcek.tbs_certificate_bytes, PSS, hashes.SHA384())
        ark_key.verify(ask.signature, ask.tbs_certificate_bytes, PSS, hashes.SHA384())

    return run


def main() -> None:
    if not REPORT.is_file():
        print(f"verify azure_snp: skipped ({VECTORS} is absent)")
        return
    warnings.filterwarnings("ignore", message="Parsed a serial number")

    report, vcek = REPORT.read_bytes(), VCEK.read_bytes()
    payload = {"report": base64.b64encode(report).decode()}
    payload["vcek"] = base64.b64encode(vcek).decode()
    nonce = report[0x50:0x90].rstrip(b"\0")
    context = VerificationContext(nonce=nonce, now=datetime(2023, 1, 25, tzinfo=UTC))
    verifier = AzureSNPVerifier()

    full = rate(lambda: verifier.verify(payload, context))
    bare = rate(bare_checks(report, vcek, CHAIN.read_bytes()))
    print(
        f"verify azure_snp (bare SNP report): {full:.1f}/s  "
        f"bare signature checks: {bare:.1f}/s  ratio {full / bare:.2f}"
    )


if __name__ == "__main__":
    main()
