"""What a verified TPM quote says about a device, as posture claims.

Claims are JSON: hex strings, ints, bools. The clock comparison is a pure
function the service calls with the previous and the current posture, since a
verifier never sees a device's history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.structures import TPMSAttest


def clock_info_claims(attest: TPMSAttest) -> dict[str, Any]:
    info = attest.clock_info
    return {
        "clock": info.clock,
        "reset_count": info.reset_count,
        "restart_count": info.restart_count,
        "safe": info.safe,
    }


def _clock_info(posture: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = posture.get("clock_info")
    return inner if isinstance(inner, Mapping) else posture


def _int(info: Mapping[str, Any], key: str) -> int | None:
    value = info.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fell(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> bool:
    old, new = _int(before, key), _int(after, key)
    return old is not None and new is not None and new < old


def clock_went_backwards(
    previous: Mapping[str, Any], current: Mapping[str, Any]
) -> list[str]:
    """Names of the TPM counters that went backwards between two attestations.

    Takes `clock_info` dicts or whole postures holding one. A reset count that
    falls means a TPM was cleared or the quote replayed from the past; a restart
    count may only fall when the reset count rose; the clock never falls on a
    TPM that says it is safe. Missing values compare as unknown, never as a
    failure.
    """
    before, after = _clock_info(previous), _clock_info(current)
    failed: list[str] = []
    if _fell(before, after, "reset_count"):
        failed.append("reset_count_decreased")

    same_boot = _int(before, "reset_count") == _int(after, "reset_count")
    if same_boot and _fell(before, after, "restart_count"):
        failed.append("restart_count_decreased")

    if _fell(before, after, "clock") and after.get("safe") is not False:
        failed.append("clock_decreased")
    return failed


def fingerprint_of(spki: bytes) -> str:
    return hashlib.sha256(spki).hexdigest()


def quote_claims(
    attest: TPMSAttest, pcrs: Mapping[int, bytes], bank: int
) -> dict[str, Any]:
    return {
        "pcrs": {str(index): value.hex() for index, value in sorted(pcrs.items())},
        "pcr_bank": wire.HASH_NAMES[bank],
        "firmware_version": f"{attest.firmware_version:016x}",
        "clock_info": clock_info_claims(attest),
    }
