"""Reading typed fields out of an attestation payload (a JSON object).

Every payload, whatever its type, may carry two common fields: `nonce`, the
standard-base64 server nonce the evidence was made with, and `bound_key_pem`, the
public key the evidence binds (PEM SubjectPublicKeyInfo). The service reads the
nonce; verifiers read the rest with the helpers here so that every malformed field
ends in the same `EvidenceMalformed` error naming the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from aura_grpc.errors import EvidenceMalformed, NonceMismatch

NONCE_FIELD = "nonce"
BOUND_KEY_FIELD = "bound_key_pem"
MAX_FIELD_BYTES = 1 << 20


def require_str(
    payload: Mapping[str, Any], name: str, *, max_len: int = 1 << 20
) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise EvidenceMalformed(f"payload field '{name}' must be a non-empty string")
    if len(value) > max_len:
        raise EvidenceMalformed(f"payload field '{name}' is longer than {max_len}")
    return value


def optional_str(payload: Mapping[str, Any], name: str) -> str | None:
    if payload.get(name) in (None, ""):
        return None
    return require_str(payload, name)


def decode_base64(value: str, name: str, *, max_bytes: int = MAX_FIELD_BYTES) -> bytes:
    """Standard base64 (padding optional); url-safe alphabet is accepted too."""
    if len(value) > (max_bytes * 4) // 3 + 4:
        raise EvidenceMalformed(
            f"payload field '{name}' is larger than {max_bytes} bytes"
        )

    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EvidenceMalformed(f"payload field '{name}' is not valid base64") from exc


def require_bytes(
    payload: Mapping[str, Any], name: str, *, max_bytes: int = MAX_FIELD_BYTES
) -> bytes:
    return decode_base64(require_str(payload, name), name, max_bytes=max_bytes)


def optional_bytes(
    payload: Mapping[str, Any], name: str, *, max_bytes: int = MAX_FIELD_BYTES
) -> bytes | None:
    value = optional_str(payload, name)
    return None if value is None else decode_base64(value, name, max_bytes=max_bytes)


def bound_key_spki(payload: Mapping[str, Any]) -> bytes | None:
    """The DER SPKI of the key the payload says its evidence binds, if any."""
    pem = optional_str(payload, BOUND_KEY_FIELD)
    if pem is None:
        return None

    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise EvidenceMalformed(f"'{BOUND_KEY_FIELD}' is not a PEM public key") from exc
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def report_data_for(nonce: bytes, spki: bytes | None) -> bytes:
    """The 64 bytes SNP/TDX REPORT_DATA must hold: the nonce zero-padded, or
    SHA-512(nonce || SPKI) when the evidence binds a key."""
    if spki is not None:
        return hashlib.sha512(nonce + spki).digest()
    if len(nonce) > 64:
        raise NonceMismatch("nonce is longer than REPORT_DATA")
    return nonce.ljust(64, b"\0")


def check_equal(expected: bytes, actual: bytes, what: str) -> None:
    """Constant-time comparison raising NonceMismatch naming what differed."""
    if not hmac.compare_digest(expected, actual):
        raise NonceMismatch(f"{what} does not carry the server nonce")
