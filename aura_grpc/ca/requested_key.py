"""The key a certificate will carry: from a CSR, a public key, or made here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
)

from aura_grpc.errors import InvalidInput

MAX_PEM_BYTES = 16384
MIN_RSA_BITS = 2048
MIN_RSA_EXPONENT = 65537

PublicKey = CertificateIssuerPublicKeyTypes


@dataclass(frozen=True)
class RequestedKey:
    public_key: PublicKey
    spki: bytes
    source: str  # "csr", "public_key" or "server"
    private_key_pem: str = ""

    def __repr__(self) -> str:
        return f"RequestedKey(source={self.source!r}, sha256={self.sha256[:16]}...)"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.spki).hexdigest()

    @property
    def algorithm(self) -> str:
        if isinstance(self.public_key, ed25519.Ed25519PublicKey):
            return "ed25519"
        if isinstance(self.public_key, ec.EllipticCurvePublicKey):
            return "ecdsa-p256"
        return f"rsa-{self.public_key.key_size}"  # type: ignore[union-attr]


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_allowed(key: object) -> PublicKey:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return key
    # A small public exponent (e=3) invites well-known attacks on RSA signatures.
    if (
        isinstance(key, rsa.RSAPublicKey)
        and key.key_size >= MIN_RSA_BITS
        and key.public_numbers().e >= MIN_RSA_EXPONENT
    ):
        return key
    raise InvalidInput(
        "the key must be Ed25519, ECDSA P-256, or RSA of at least 2048 bits "
        "with e >= 65537",
        reason="KEY_TYPE_UNSUPPORTED",
    )


def from_csr(pem: str) -> RequestedKey:
    if len(pem) > MAX_PEM_BYTES:
        raise InvalidInput("the CSR is too large", reason="CSR_INVALID")
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
        valid = csr.is_signature_valid
        key = csr.public_key()
    # An unknown key type or a bad version field (both found by fuzzing).
    except (
        ValueError,
        TypeError,
        x509.UnsupportedGeneralNameType,
        x509.InvalidVersion,
        UnsupportedAlgorithm,
    ) as exc:
        raise InvalidInput(
            "csr_pem is not a PEM PKCS#10 request", reason="CSR_INVALID"
        ) from exc
    if not valid:
        raise InvalidInput(
            "the CSR's signature does not verify", reason="CSR_SIGNATURE_INVALID"
        )

    checked = _check_allowed(key)
    return RequestedKey(checked, _spki(checked), "csr")


def from_public_key(pem: str) -> RequestedKey:
    if len(pem) > MAX_PEM_BYTES:
        raise InvalidInput("the public key is too large", reason="PUBLIC_KEY_INVALID")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(
            "public_key_pem is not a PEM public key", reason="PUBLIC_KEY_INVALID"
        ) from exc
    checked = _check_allowed(key)
    return RequestedKey(checked, _spki(checked), "public_key")


def generated() -> RequestedKey:
    """An Ed25519 key made here; its private half is returned once, never stored."""
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key()
    return RequestedKey(public, _spki(public), "server", pem)


def requested_key(csr_pem: str, public_key_pem: str) -> RequestedKey:
    if csr_pem and public_key_pem:
        raise InvalidInput("give csr_pem or public_key_pem, not both")
    if csr_pem:
        return from_csr(csr_pem)
    if public_key_pem:
        return from_public_key(public_key_pem)
    return generated()
