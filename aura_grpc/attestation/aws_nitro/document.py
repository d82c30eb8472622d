"""Decoding a Nitro attestation document: COSE_Sign1 around a CBOR map.

The NSM API documents the exact payload shape; anything outside it (unknown
keys, wrong types, sizes past the documented bounds) is refused here, before any
cryptography runs, so later steps can trust the types they get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from aura_grpc.errors import EvidenceMalformed

COSE_SIGN1_TAG = 18
ES384 = -35
SIGNATURE_BYTES = 96
MAX_DOCUMENT_BYTES = 16384
MAX_CERT_BYTES = 1024
MAX_CABUNDLE = 8
MAX_PCRS = 32
PCR_LENGTHS = frozenset({32, 48, 64})
MAX_PUBLIC_KEY_BYTES = 1024
MAX_USER_DATA_BYTES = 512
MAX_NONCE_BYTES = 512
MAX_MODULE_ID_CHARS = 256

_REQUIRED = frozenset(
    {"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"}
)
_OPTIONAL = frozenset({"public_key", "user_data", "nonce"})


@dataclass(frozen=True)
class NitroDocument:
    """A decoded but not yet verified attestation document."""

    protected: bytes
    payload: bytes
    signature: bytes
    module_id: str
    timestamp_ms: int
    pcrs: dict[int, bytes]
    certificate: bytes
    cabundle: tuple[bytes, ...]
    public_key: bytes | None
    user_data: bytes | None
    nonce: bytes | None


def _malformed(
    message: str, reason: str = "NITRO_DOCUMENT_MALFORMED"
) -> EvidenceMalformed:
    return EvidenceMalformed(message, reason=reason)


def _cbor(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data)
    except (
        cbor2.CBORDecodeError,
        ValueError,
        TypeError,
        OverflowError,
        RecursionError,
    ) as exc:
        raise _malformed(f"{what} is not valid CBOR", "NITRO_CBOR_INVALID") from exc


def decode_document(raw: bytes) -> NitroDocument:
    """COSE_Sign1 (tag 18 or untagged) -> NitroDocument, bounds enforced."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise _malformed("attestation document is too large")

    envelope = _cbor(raw, "attestation document")
    if isinstance(envelope, cbor2.CBORTag) and envelope.tag == COSE_SIGN1_TAG:
        envelope = envelope.value
    protected, payload, signature = _split_envelope(envelope)

    _check_protected_header(protected)
    fields = _cbor(payload, "document payload")
    return _document_from(fields, protected, payload, signature)


def _split_envelope(envelope: Any) -> tuple[bytes, bytes, bytes]:
    # cbor2 decodes arrays under a tag as tuples and maps as frozendicts.
    if not isinstance(envelope, list | tuple) or len(envelope) != 4:
        raise _malformed("attestation document is not a COSE_Sign1 array")

    protected, unprotected, payload, signature = envelope
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        raise _malformed("COSE_Sign1 parts have the wrong types")
    if not isinstance(unprotected, Mapping):
        raise _malformed("COSE_Sign1 unprotected header is not a map")
    if len(signature) != SIGNATURE_BYTES:
        raise _malformed("ES384 signature is not 96 bytes")
    return protected, payload, signature


def _check_protected_header(protected: bytes) -> None:
    header = _cbor(protected, "protected header")
    if not isinstance(header, dict) or header.get(1) != ES384:
        raise _malformed("protected header does not name ES384", "NITRO_ALGORITHM")


def _document_from(
    fields: Any, protected: bytes, payload: bytes, signature: bytes
) -> NitroDocument:
    if not isinstance(fields, dict):
        raise _malformed("document payload is not a map")
    keys = set(fields)
    if not keys >= _REQUIRED or not keys <= _REQUIRED | _OPTIONAL:
        raise _malformed("document payload has missing or unknown fields")

    if fields["digest"] != "SHA384":
        raise _malformed("document digest is not SHA384")
    return NitroDocument(
        protected=protected,
        payload=payload,
        signature=signature,
        module_id=_module_id(fields["module_id"]),
        timestamp_ms=_timestamp(fields["timestamp"]),
        pcrs=_pcrs(fields["pcrs"]),
        certificate=_bounded(fields["certificate"], "certificate", 1, MAX_CERT_BYTES),
        cabundle=_cabundle(fields["cabundle"]),
        public_key=_optional(
            fields.get("public_key"), "public_key", 1, MAX_PUBLIC_KEY_BYTES
        ),
        user_data=_optional(
            fields.get("user_data"), "user_data", 0, MAX_USER_DATA_BYTES
        ),
        nonce=_optional(fields.get("nonce"), "nonce", 0, MAX_NONCE_BYTES),
    )


def _module_id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_MODULE_ID_CHARS:
        raise _malformed("module_id must be a non-empty text string")
    return value


def _timestamp(value: Any) -> int:
    # bool is an int subclass; a CBOR true is not a timestamp.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**64:
        raise _malformed("timestamp must be a positive uint64 of milliseconds")
    return value


def _pcrs(value: Any) -> dict[int, bytes]:
    if not isinstance(value, dict) or not 1 <= len(value) <= MAX_PCRS:
        raise _malformed("pcrs must be a map of 1 to 32 entries")

    pcrs: dict[int, bytes] = {}
    for index, digest in value.items():
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < MAX_PCRS
        ):
            raise _malformed("PCR index must be an integer 0..31")
        if not isinstance(digest, bytes) or len(digest) not in PCR_LENGTHS:
            raise _malformed(f"PCR{index} must be 32, 48 or 64 bytes")
        pcrs[index] = digest
    return pcrs


def _cabundle(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CABUNDLE:
        raise _malformed("cabundle must be a list of 1 to 8 certificates")
    return tuple(_bounded(cert, "cabundle entry", 1, MAX_CERT_BYTES) for cert in value)


def _bounded(value: Any, name: str, low: int, high: int) -> bytes:
    if not isinstance(value, bytes) or not low <= len(value) <= high:
        raise _malformed(f"{name} must be {low} to {high} bytes")
    return value


def _optional(value: Any, name: str, low: int, high: int) -> bytes | None:
    return None if value is None else _bounded(value, name, low, high)
