"""Checking a CA certificate before AURA adopts it with an existing token key."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from aura_grpc.errors import InvalidInput

MAX_PEM_BYTES = 16384


def _invalid(why: str) -> InvalidInput:
    return InvalidInput(f"the CA certificate {why}", reason="CA_CERTIFICATE_INVALID")


def _load(pem: str) -> x509.Certificate:
    if len(pem) > MAX_PEM_BYTES:
        raise _invalid("is too large")
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise _invalid("is not a PEM X.509 certificate") from exc


def check_ca_certificate(pem: str, now: datetime) -> x509.Certificate:
    """A CA that may sign client certificates and CRLs, valid now, whose key is
    Ed25519 or P-256 (what the token backends sign with)."""
    cert = _load(pem)
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise _invalid("lacks basicConstraints or keyUsage") from exc

    if not basic.ca or not (usage.key_cert_sign and usage.crl_sign):
        raise _invalid("must be a CA with keyCertSign and cRLSign")
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise _invalid("is not valid now")
    key = cert.public_key()
    p256 = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    )
    if not (p256 or isinstance(key, ed25519.Ed25519PublicKey)):
        raise _invalid("must carry an Ed25519 or P-256 key")
    return cert
