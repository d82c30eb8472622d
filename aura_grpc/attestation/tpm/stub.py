"""The TPM development stub the product documentation describes.

It takes `ek_pub`, `ak_pub`, `pcrs` and `quote` on trust: nothing is verified. It
exists so a newcomer can walk the whole flow without a TPM, is refused outside the
`dev` profile, and marks its posture `dev_stub` so a policy can refuse it too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from aura_grpc.attestation.base import VerificationContext, VerifiedEvidence
from aura_grpc.attestation.payload import decode_base64, require_str
from aura_grpc.errors import EvidenceMalformed, ProfileForbids

STUB_FIELDS = frozenset({"ek_pub", "ak_pub", "pcrs", "quote"})
_HEX = re.compile(r"^[0-9a-fA-F]{40,128}$")


def looks_like_stub(payload: Mapping[str, Any]) -> bool:
    """Stub payloads carry `ek_pub`; real quotes carry `quote` with `signature`."""
    return "ek_pub" in payload and "signature" not in payload


def read_public_key(payload: Mapping[str, Any], name: str) -> bytes:
    """A public key given as PEM or as base64 DER SPKI, returned as DER SPKI."""
    text = require_str(payload, name, max_len=16384)
    try:
        if "BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(decode_base64(text, name))
    # An unknown key type raises UnsupportedAlgorithm (fuzzing found it).
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise EvidenceMalformed(f"payload field '{name}' is not a public key") from exc
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def read_pcrs(payload: Mapping[str, Any]) -> dict[str, str]:
    pcrs = payload.get("pcrs")
    if not isinstance(pcrs, Mapping) or len(pcrs) > 24:
        raise EvidenceMalformed("payload field 'pcrs' must be an object index -> hex")

    values: dict[str, str] = {}
    for index, value in pcrs.items():
        if not str(index).isdigit() or int(index) > 23:
            raise EvidenceMalformed(f"PCR index '{index}' is not 0..23")
        if not isinstance(value, str) or not _HEX.match(value):
            raise EvidenceMalformed(f"PCR {index} is not a hex digest")
        values[str(int(index))] = value.lower()
    return values


def verify_stub(
    payload: Mapping[str, Any], context: VerificationContext
) -> VerifiedEvidence:
    if context.profile != "dev":
        raise ProfileForbids(
            "the TPM development stub is accepted only in the dev profile",
            reason="TPM_DEV_STUB_FORBIDDEN",
        )

    if payload.get("bound_key_pem"):
        # Nothing in the stub proves a key lives with the device; accepting the
        # field would bind whatever key the caller names.
        raise EvidenceMalformed(
            "the TPM development stub cannot bind a key: leave out bound_key_pem",
            reason="TPM_DEV_STUB_CANNOT_BIND",
        )

    ek_spki = read_public_key(payload, "ek_pub")
    ak_spki = read_public_key(payload, "ak_pub")
    pcrs = read_pcrs(payload)
    require_str(payload, "quote", max_len=65536)

    claims = {
        "dev_stub": True,
        "pcrs": pcrs,
        "ek_fingerprint": hashlib.sha256(ek_spki).hexdigest(),
        "ak_fingerprint": hashlib.sha256(ak_spki).hexdigest(),
    }
    return VerifiedEvidence(
        fingerprint=hashlib.sha256(ek_spki).hexdigest(), claims=claims
    )
