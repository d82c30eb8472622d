"""The PCK certificate chain: path to the pinned Intel SGX Root CA, CRLs, and
the SGX extensions that say which platform and TCB the PCK key belongs to.

The chain in the quote is leaf (PCK) -> Intel SGX PCK Platform or Processor CA ->
Intel SGX Root CA. We trust only the pinned root: the root in the quote must be
byte-identical to it, and each signature and validity window is checked at the
caller's clock. The SGX extensions live in `extensions.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aura_grpc.errors import (
    CertificateExpired,
    ChainInvalid,
    EvidenceMalformed,
    SignatureInvalid,
)

ROOT_PATH = Path(__file__).resolve().parents[1] / "roots" / "intel_sgx_root_ca.pem"
MAX_CHAIN = 4
ROOT_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"


@dataclass(frozen=True)
class PCKChain:
    leaf: x509.Certificate
    intermediate: x509.Certificate
    root: x509.Certificate


def load_pinned_root(path: Path = ROOT_PATH) -> x509.Certificate:
    """Load the Intel SGX Root CA and refuse a file that is not the known one."""
    root = x509.load_pem_x509_certificate(path.read_bytes())
    digest = root.fingerprint(hashes.SHA256()).hex()
    if digest != ROOT_SHA256:
        raise ValueError(f"{path} is not the Intel SGX Root CA (SHA-256 {digest})")
    return root


def parse_pem_chain(pem: bytes, what: str) -> list[x509.Certificate]:
    """Certificates from concatenated PEM (a trailing NUL is tolerated)."""
    try:
        certs = x509.load_pem_x509_certificates(pem.rstrip(b"\0"))
    except (ValueError, x509.InvalidVersion) as exc:
        raise EvidenceMalformed(f"{what} is not a PEM certificate chain") from exc
    return certs


def parse_pck_chain(pem: bytes) -> PCKChain:
    certs = parse_pem_chain(pem, "PCK certificate chain")
    if len(certs) != 3:
        raise EvidenceMalformed(
            "PCK certificate chain must hold exactly 3 certificates"
        )
    return PCKChain(leaf=certs[0], intermediate=certs[1], root=certs[2])


def verify_issued_by(
    cert: x509.Certificate, issuer: x509.Certificate, reason: str
) -> None:
    """The issuer named and signed `cert` (ECDSA, as every Intel SGX PKI cert)."""
    key = issuer.public_key()
    if cert.issuer != issuer.subject or not isinstance(key, ec.EllipticCurvePublicKey):
        raise ChainInvalid("certificate is not issued by its chain's CA", reason=reason)
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise ChainInvalid(
            "certificate signature does not verify", reason=reason
        ) from exc


def check_validity(cert: x509.Certificate, now: datetime, reason: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateExpired(
            "an Intel certificate is outside its validity period", reason=reason
        )


def verify_chain_to_root(
    certs: list[x509.Certificate], root: x509.Certificate, now: datetime, prefix: str
) -> None:
    """A chain (leaf first) ending in the pinned root, valid at `now`."""
    if not certs or certs[-1] != root:
        raise ChainInvalid(
            "chain does not end in the pinned Intel SGX Root CA",
            reason=f"{prefix}_ROOT_UNTRUSTED",
        )

    if len(certs) > MAX_CHAIN:
        raise EvidenceMalformed("an Intel certificate chain is too long")
    for index, cert in enumerate(certs[:-1]):
        role = "LEAF" if index == 0 else "INTERMEDIATE"
        verify_issued_by(cert, certs[index + 1], f"{prefix}_{role}_INVALID")
    for cert in certs:
        check_validity(cert, now, f"{prefix}_CERT_EXPIRED")


def verify_pck_chain(chain: PCKChain, root: x509.Certificate, now: datetime) -> None:
    verify_chain_to_root(
        [chain.leaf, chain.intermediate, chain.root], root, now, "TDX_PCK"
    )


def load_raw_p256_key(raw: bytes, what: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key given as raw x || y (64 bytes), as quotes carry it."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b"\x04" + raw
        )
    except ValueError as exc:
        raise EvidenceMalformed(f"{what} is not a P-256 point") from exc


def verify_ecdsa(
    key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes, reason: str
) -> None:
    """An ECDSA P-256/SHA-256 signature given as raw big-endian r || s."""
    if len(signature) != 64:
        raise SignatureInvalid("Intel ECDSA signature is not 64 bytes", reason=reason)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "Intel ECDSA signature does not verify", reason=reason
        ) from exc
