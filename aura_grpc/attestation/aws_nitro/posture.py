"""What a verified Nitro document says about the enclave: claims, fingerprint,
and the key it binds."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization

from aura_grpc.attestation.aws_nitro.document import NitroDocument
from aura_grpc.errors import EvidenceMalformed

POSTURE_PCRS = range(9)
DEBUG_PCRS = (0, 1, 2)
FINGERPRINT_DOMAIN = b"aura/aws_nitro/fingerprint/v1"


def is_zero(value: bytes) -> bool:
    return not any(value)


def is_debug(document: NitroDocument) -> bool:
    """A debug-mode enclave reports PCR0..2 as all zeros (its memory is readable
    from the parent, so its measurements mean nothing)."""
    return all(is_zero(document.pcrs.get(index, b"\0")) for index in DEBUG_PCRS)


def claims_of(document: NitroDocument) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "module_id": document.module_id,
        "timestamp_ms": document.timestamp_ms,
        "pcrs": {
            str(index): document.pcrs[index].hex()
            for index in POSTURE_PCRS
            if index in document.pcrs
        },
        "debug": is_debug(document),
    }
    if document.public_key is not None:
        claims["public_key_sha256"] = hashlib.sha256(document.public_key).hexdigest()
    if document.user_data is not None:
        claims["user_data_sha256"] = hashlib.sha256(document.user_data).hexdigest()
    return claims


def fingerprint_of(document: NitroDocument) -> str:
    """The device id of an enclave: its parent instance and its image signer.

    PCR4 measures the parent EC2 instance id; PCR8 measures the certificate
    that signed the enclave image (PCR0, the image itself, stands in when the
    image is unsigned and PCR8 is all zeros). An image update signed by the same
    signer on the same parent instance keeps the same device id; a new parent
    instance, or an unsigned image whose contents change, is a new device.
    Each part is length-prefixed after a domain label so no two inputs collide.
    """
    parent = _pcr(document, 4)
    signer_index = 8 if not is_zero(document.pcrs.get(8, b"")) else 0
    signer = _pcr(document, signer_index)

    digest = hashlib.sha256(FINGERPRINT_DOMAIN)
    for label, value in ((b"pcr4", parent), (b"pcr%d" % signer_index, signer)):
        digest.update(len(label).to_bytes(2, "big") + label)
        digest.update(len(value).to_bytes(2, "big") + value)
    return digest.hexdigest()


def _pcr(document: NitroDocument, index: int) -> bytes:
    value = document.pcrs.get(index)
    if value is None:
        raise EvidenceMalformed(
            f"document has no PCR{index}", reason="NITRO_PCR_MISSING"
        )
    return value


def public_key_spki(public_key: bytes) -> bytes | None:
    """The document's `public_key` as DER SPKI, or None when it is not a key.

    Enclaves put whatever they like here (DER SPKI, PEM, raw bytes); only a
    parseable public key can bind a certificate key.
    """
    try:
        if b"-----BEGIN" in public_key:
            key = serialization.load_pem_public_key(public_key)
        else:
            key = serialization.load_der_public_key(public_key)
    except (ValueError, TypeError):
        return None
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
