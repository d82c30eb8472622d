"""The Azure confidential VM paravisor ("HCL") report and its runtime claims.

Layout: a 32-byte header ("HCLA", version, total size, request type, status),
the 1184-byte SNP report, 20 bytes of IGVM request data (data size, version,
report type, hash type, variable-data size), then the variable data: a JSON
document of runtime claims holding the vTPM attestation key as the JWK
"HCLAkPub". The guest cannot choose the SNP REPORT_DATA on Azure; the paravisor
puts the hash of the variable data there, which is what authenticates the
runtime claims, and the claims' AK in turn authenticates the vTPM quote.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from aura_grpc.attestation.azure_snp.report import REPORT_SIZE
from aura_grpc.errors import EvidenceMalformed

HCL_MAGIC = b"HCLA"
HEADER_SIZE = 32
IGVM_OFFSET = HEADER_SIZE + REPORT_SIZE
VAR_DATA_OFFSET = IGVM_OFFSET + 20
REPORT_TYPE_SNP = 2
MAX_VAR_DATA = 64 * 1024
AK_KEY_ID = "HCLAkPub"

_HASHES: dict[int, Callable[[bytes], Any]] = {
    1: hashlib.sha256,
    2: hashlib.sha384,
    3: hashlib.sha512,
}


@dataclass(frozen=True)
class HCLReport:
    """An HCL report cut into the SNP report and the runtime claims."""

    version: int
    snp_report: bytes
    var_data: bytes
    var_data_digest: bytes
    runtime_claims: dict[str, Any]
    ak_public_key: rsa.RSAPublicKey


def parse_hcl_report(data: bytes) -> HCLReport:
    """Parse and bounds-check an HCL report; the hash binding is checked later."""
    if len(data) < VAR_DATA_OFFSET or data[:4] != HCL_MAGIC:
        raise EvidenceMalformed(
            "hcl_report is not an Azure HCL report", reason="AZURE_HCL_MALFORMED"
        )

    version = struct.unpack_from("<I", data, 4)[0]
    _, _, report_type, hash_type, var_size = struct.unpack_from(
        "<5I", data, IGVM_OFFSET
    )
    if report_type != REPORT_TYPE_SNP:
        raise EvidenceMalformed(
            f"HCL report type {report_type} is not SEV-SNP",
            reason="AZURE_HCL_MALFORMED",
        )
    hasher = _HASHES.get(hash_type)
    if hasher is None or var_size > MAX_VAR_DATA:
        raise EvidenceMalformed(
            "HCL report has an unknown hash type or oversized claims",
            reason="AZURE_HCL_MALFORMED",
        )
    var_data = data[VAR_DATA_OFFSET : VAR_DATA_OFFSET + var_size]
    if len(var_data) != var_size:
        raise EvidenceMalformed(
            "HCL report is shorter than its runtime claims",
            reason="AZURE_HCL_MALFORMED",
        )

    claims = _parse_runtime_claims(var_data)
    return HCLReport(
        version=version,
        snp_report=data[HEADER_SIZE:IGVM_OFFSET],
        var_data=var_data,
        var_data_digest=hasher(var_data).digest(),
        runtime_claims=claims,
        ak_public_key=_read_ak(claims),
    )


def _parse_runtime_claims(var_data: bytes) -> dict[str, Any]:
    # strict=False tolerates control characters inside strings: the bytes are
    # authenticated by their hash in REPORT_DATA, not by being tidy JSON.
    try:
        claims = json.loads(var_data.decode("utf-8"), strict=False)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EvidenceMalformed(
            "HCL runtime claims are not JSON", reason="AZURE_RUNTIME_CLAIMS_INVALID"
        ) from exc
    if not isinstance(claims, dict):
        raise EvidenceMalformed(
            "HCL runtime claims are not a JSON object",
            reason="AZURE_RUNTIME_CLAIMS_INVALID",
        )
    return claims


def _read_ak(claims: dict[str, Any]) -> rsa.RSAPublicKey:
    """The vTPM attestation key, an RSA JWK with kid "HCLAkPub"."""
    keys = claims.get("keys")
    jwks = keys if isinstance(keys, list) else []
    jwk = next(
        (k for k in jwks if isinstance(k, dict) and k.get("kid") == AK_KEY_ID), None
    )
    if jwk is None or jwk.get("kty") != "RSA":
        raise EvidenceMalformed(
            "HCL runtime claims hold no RSA HCLAkPub", reason="AZURE_AK_PUB_INVALID"
        )

    try:
        n = _b64url_uint(jwk.get("n"))
        e = _b64url_uint(jwk.get("e"))
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise EvidenceMalformed(
            "HCLAkPub is not a valid RSA key", reason="AZURE_AK_PUB_INVALID"
        ) from exc


def _b64url_uint(value: object) -> int:
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise ValueError("not a base64url integer")
    try:
        raw = base64.b64decode(
            value + "=" * (-len(value) % 4), altchars=b"-_", validate=True
        )
    except binascii.Error as exc:
        raise ValueError("not a base64url integer") from exc
    return int.from_bytes(raw, "big")


def azure_claims(hcl: HCLReport) -> dict[str, Any]:
    """The runtime claims a policy may look at (never the keys themselves)."""
    config = hcl.runtime_claims.get("vm-configuration")
    config = config if isinstance(config, dict) else {}
    user_data = hcl.runtime_claims.get("user-data")
    # user-data is 64 bytes on Azure; anything longer is not kept in the posture.
    if not isinstance(user_data, str) or len(user_data) > 128:
        user_data = ""
    return {
        "hcl_version": hcl.version,
        "vm_unique_id": str(config.get("vmUniqueId", "")),
        "secure_boot": config.get("secure-boot") is True,
        "tpm_enabled": config.get("tpm-enabled") is True,
        "console_enabled": config.get("console-enabled") is True,
        "user_data": user_data.lower(),
    }
