"""Verifications/s of real Nitro and GCP evidence, beside the bare signature cost.

Nitro: evervault's real document (cabundle root -> 3 intermediates -> leaf),
verified at its own timestamp with its own nonce. The bare cost is the four
ECDSA P-384 chain signatures plus the ES384 document signature.

GCP: oak's real PKI token, checked by `authenticate` (signature, x5c chain,
time, issuer, audience) plus posture and fingerprint: everything `verify` does
but the final nonce comparison, which this recorded token cannot pass (see
tests/attestation/gcp_cc/test_vectors.py). The bare cost is the RS256 token
signature plus the two RSA chain signatures.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aura_grpc.attestation.aws_nitro import NitroVerifier
from aura_grpc.attestation.aws_nitro.document import decode_document
from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from aura_grpc.attestation.gcp_cc.posture import claims_of, fingerprint_of

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
NITRO_DOC = VECTORS / "nitro" / "evervault_valid-attestation-doc-bytes"
OAK_TOKEN = VECTORS / "gcp" / "oak_valid.jwt"
SECONDS = 5.0


def rate(work: Callable[[], object], seconds: float = SECONDS) -> float:
    """Calls per second of `work`, measured over about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            work()
        count += 10
    return count / elapsed


def chain_checks(certs: list[x509.Certificate]) -> Callable[[], None]:
    """Each certificate's signature checked by the one above it (top-down list)."""
    pairs = list(itertools.pairwise(certs))

    def check() -> None:
        for issuer, subject in pairs:
            subject.verify_directly_issued_by(issuer)

    return check


def nitro_figures() -> tuple[float, float]:
    raw = NITRO_DOC.read_bytes()
    document = decode_document(raw)
    now = datetime.fromtimestamp(document.timestamp_ms / 1000, tz=UTC)
    context = VerificationContext(nonce=document.nonce or b"", now=now)
    payload = {"document": base64.b64encode(raw).decode()}
    verifier = NitroVerifier()

    certs = [x509.load_der_x509_certificate(d) for d in document.cabundle]
    leaf = x509.load_der_x509_certificate(document.certificate)
    chain = chain_checks([*certs, leaf])
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    sig = encode_dss_signature(
        int.from_bytes(document.signature[:48], "big"),
        int.from_bytes(document.signature[48:], "big"),
    )
    signed = cbor2.dumps(["Signature1", document.protected, b"", document.payload])

    def bare() -> None:
        chain()
        key.verify(sig, signed, ec.ECDSA(hashes.SHA384()))

    return rate(lambda: verifier.verify(payload, context)), rate(bare)


def gcp_figures() -> tuple[float, float]:
    token = OAK_TOKEN.read_text().strip()
    verifier = GCPConfidentialVerifier.from_options(
        {"audience": "https://echo.oak.dev"}, "prod"
    )
    header, body, signature = token.split(".")
    now = datetime(2025, 6, 23, 14, 22, 31, tzinfo=UTC)

    def full() -> None:
        fingerprint_of(claims_of(verifier.authenticate(token, now)))

    x5c = header_x5c(header)
    chain = chain_checks(x5c[::-1])
    key = x5c[0].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    raw_sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    signed = f"{header}.{body}".encode()

    def bare() -> None:
        chain()
        key.verify(raw_sig, signed, padding.PKCS1v15(), hashes.SHA256())

    return rate(full), rate(bare)


def header_x5c(header: str) -> list[x509.Certificate]:
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return [x509.load_der_x509_certificate(base64.b64decode(c)) for c in decoded["x5c"]]


def report(name: str, figures: tuple[float, float]) -> None:
    full, bare = figures
    print(
        f"verify {name}: {full:.1f}/s  bare signature checks: {bare:.1f}/s"
        f"  ratio {full / bare:.2f}"
    )


def main() -> None:
    if not NITRO_DOC.is_file() or not OAK_TOKEN.is_file():
        print(f"skip verify aws_nitro / gcp_cc: real evidence not found at {VECTORS}")
        return
    report("aws_nitro", nitro_figures())
    report("gcp_cc", gcp_figures())


if __name__ == "__main__":
    main()
