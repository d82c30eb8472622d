"""What a verified token says about the workload: claims and fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

# Google's hardware models for confidential VMs; anything else (a plain Shielded
# VM included) is not confidential hardware.
CONFIDENTIAL_HWMODELS = frozenset(
    {"GCP_AMD_SEV", "GCP_AMD_SEV_ES", "GCP_AMD_SEV_SNP", "GCP_INTEL_TDX"}
)
DEBUG_OFF = "disabled-since-boot"
FINGERPRINT_DOMAIN = b"aura/gcp_cc/fingerprint/v1"


def _malformed(message: str) -> EvidenceMalformed:
    return EvidenceMalformed(message, reason="GCP_CLAIMS_MALFORMED")


def _string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise _malformed(f"token claim '{name}' must be a non-empty string")
    return value


def _submod(claims: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    submods = claims.get("submods", {})
    value = submods.get(name, {}) if isinstance(submods, Mapping) else None
    if not isinstance(value, Mapping):
        raise _malformed(f"token submods.{name} must be an object")
    return value


def claims_of(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The posture: the checked claims, typed and flattened."""
    hwmodel = _string(claims, "hwmodel")
    if hwmodel not in CONFIDENTIAL_HWMODELS:
        raise ClaimMismatch(
            "token hardware model is not confidential", reason="GCP_HWMODEL_UNKNOWN"
        )
    secboot = claims.get("secboot")
    if not isinstance(secboot, bool):
        raise _malformed("token claim 'secboot' must be a boolean")

    dbgstat = _string(claims, "dbgstat")
    posture: dict[str, Any] = {
        "hwmodel": hwmodel,
        "swname": _string(claims, "swname"),
        "dbgstat": dbgstat,
        "debug": dbgstat != DEBUG_OFF,
        "secboot": secboot,
    }
    posture.update(_optional_claims(claims))
    return posture


def _optional_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    container = _submod(claims, "container")
    gce = _submod(claims, "gce")
    found = {
        "swversion": claims.get("swversion"),
        "image_digest": container.get("image_digest"),
        "project_id": gce.get("project_id"),
        "zone": gce.get("zone"),
        "instance_id": gce.get("instance_id"),
    }
    # Only well-typed values become posture; the rest is left out, not guessed.
    kept: dict[str, Any] = {
        name: value for name, value in found.items() if isinstance(value, str)
    }
    swversion = found["swversion"]
    if isinstance(swversion, list) and all(isinstance(v, str) for v in swversion):
        kept["swversion"] = list(swversion)
    return kept


def fingerprint_of(posture: Mapping[str, Any]) -> str:
    """The device id of a VM: its project, zone and instance id.

    Google assigns instance_id at creation and never reuses it, so a VM keeps
    its device id across reboots and image updates; a recreated VM is a new
    device. Parts are length-prefixed after a domain label.
    """
    digest = hashlib.sha256(FINGERPRINT_DOMAIN)
    for name in ("project_id", "zone", "instance_id"):
        value = posture.get(name)
        if not isinstance(value, str):
            raise EvidenceMalformed(
                f"token has no submods.gce.{name}", reason="GCP_INSTANCE_IDENTITY"
            )
        part = value.encode()
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.hexdigest()
