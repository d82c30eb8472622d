"""SEV-SNP reference values and their appraisal.

Document shape::

    {
      "measurements": ["<96 hex>", ...],      # required; [] matches nothing
      "min_tcb": {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115,
                  "fmc": 0},                  # optional, per component
      "allow_debug": false,                   # optional, default false
      "pcrs": {"<index>": ["<hex>", ...]}     # optional, Azure vTPM PCRs
    }

Failed check names: "measurement", "tcb", "debug", and "pcr<N>". The minimum TCB
is compared with the reported TCB, the one the VCEK certifies; a component the
product does not have (FMC before Turin) is not appraised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.tpm.reference import appraise_pcrs, parse_pcr_reference
from aura_grpc.errors import ReferenceValuesInvalid

_KEYS = frozenset({"measurements", "min_tcb", "allow_debug", "pcrs"})
_TCB_COMPONENTS = frozenset({"bootloader", "tee", "snp", "microcode", "fmc"})
_MEASUREMENT = re.compile(r"^[0-9a-f]{96}$")


def parse_snp_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the document, collecting every problem before raising."""
    problems: list[str] = []
    unknown = set(document) - _KEYS
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(unknown))}")

    measurements = _parse_measurements(document.get("measurements"), problems)
    min_tcb = _parse_min_tcb(document.get("min_tcb", {}), problems)
    allow_debug = document.get("allow_debug", False)
    if not isinstance(allow_debug, bool):
        problems.append("'allow_debug' must be true or false")

    pcrs: dict[str, Any] = {}
    if "pcrs" in document:
        try:
            pcrs = parse_pcr_reference({"pcrs": document["pcrs"]})
        except ReferenceValuesInvalid as exc:
            problems.append(exc.message)

    if problems:
        raise ReferenceValuesInvalid("; ".join(problems))
    return {
        "measurements": measurements,
        "min_tcb": min_tcb,
        "allow_debug": allow_debug,
        **pcrs,
    }


def _parse_measurements(value: object, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append("'measurements' must be a list of hex strings (required)")
        return []

    normalised = [v.lower().removeprefix("0x") for v in value]
    problems.extend(
        f"measurements: '{v}' is not 48 bytes of hex"
        for v in normalised
        if not _MEASUREMENT.match(v)
    )
    return normalised


def _parse_min_tcb(value: object, problems: list[str]) -> dict[str, int]:
    if not isinstance(value, Mapping):
        problems.append("'min_tcb' must be an object of component -> level")
        return {}

    levels: dict[str, int] = {}
    for name, level in value.items():
        if name not in _TCB_COMPONENTS:
            problems.append(f"min_tcb: unknown component '{name}'")
        elif (
            isinstance(level, bool)
            or not isinstance(level, int)
            or not 0 <= level <= 255
        ):
            problems.append(f"min_tcb.{name} must be an integer 0..255")
        else:
            levels[name] = level
    return levels


def appraise_snp(claims: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """The names of the failed checks; never raises for a mismatch."""
    failed: list[str] = []
    if claims.get("measurement") not in reference.get("measurements", []):
        failed.append("measurement")

    reported = claims.get("reported_tcb", {})
    for name, minimum in reference.get("min_tcb", {}).items():
        if name in reported and reported[name] < minimum:
            failed.append("tcb")
            break

    if claims.get("debug", True) and not reference.get("allow_debug", False):
        failed.append("debug")

    if "pcrs" in reference:
        failed.extend(appraise_pcrs(claims.get("azure", {}).get("pcrs", {}), reference))
    return failed
