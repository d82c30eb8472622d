"""TDX reference values: allowed measurements, accepted TCB statuses, debug.

Document shape::

    {"mrtd": ["<96 hex>", ...],                 # required
     "rtmr0": [...], ..., "rtmr3": [...],       # optional
     "mr_config_id": [...], "mr_owner": [...],  # optional
     "accepted_tcb_statuses": ["UpToDate"],     # default ["UpToDate"]
     "allow_debug": false}                      # default false

A listed measurement with an empty list matches nothing; an unlisted optional one
is not appraised. `NoMatchingLevel` and `Revoked` can never be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aura_grpc.errors import ReferenceValuesInvalid

MEASUREMENTS = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id", "mr_owner")
ACCEPTABLE_STATUSES = frozenset(
    {
        "UpToDate",
        "SWHardeningNeeded",
        "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded",
        "OutOfDate",
        "OutOfDateConfigurationNeeded",
    }
)
_KEYS = frozenset({*MEASUREMENTS, "accepted_tcb_statuses", "allow_debug"})
_HEX48 = re.compile(r"^[0-9a-f]{96}$")


def parse_tdx_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    unknown = set(document) - _KEYS
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
    if "mrtd" not in document:
        problems.append("'mrtd' (the allowed MRTD list) is required")

    normalised: dict[str, Any] = {}
    for name in MEASUREMENTS:
        if name in document:
            normalised[name] = _measurements(document[name], name, problems)
    normalised["accepted_tcb_statuses"] = _statuses(document, problems)

    allow_debug = document.get("allow_debug", False)
    if not isinstance(allow_debug, bool):
        problems.append("'allow_debug' must be true or false")
    normalised["allow_debug"] = allow_debug is True

    if problems:
        raise ReferenceValuesInvalid("; ".join(problems))
    return normalised


def _measurements(values: object, name: str, problems: list[str]) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.append(f"'{name}' must be a list of hex strings")
        return []
    normalised = [v.lower().removeprefix("0x") for v in values]
    problems.extend(
        f"{name}: '{v}' is not 48 bytes of hex"
        for v in normalised
        if not _HEX48.match(v)
    )
    return normalised


def _statuses(document: Mapping[str, Any], problems: list[str]) -> list[str]:
    statuses = document.get("accepted_tcb_statuses", ["UpToDate"])
    if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
        problems.append("'accepted_tcb_statuses' must be a list of strings")
        return []
    problems.extend(
        f"accepted_tcb_statuses: '{s}' is not an acceptable TCB status"
        for s in statuses
        if s not in ACCEPTABLE_STATUSES
    )
    return list(statuses)


def appraise_tdx(claims: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """Names of the failed checks: measurement names, "tcb_status", "debug"."""
    failed = [
        name
        for name in MEASUREMENTS
        if name in reference and claims.get(name) not in reference[name]
    ]
    if "mrtd" not in reference:
        failed.insert(0, "mrtd")

    if claims.get("tcb_status") not in reference.get("accepted_tcb_statuses", []):
        failed.append("tcb_status")
    attributes = claims.get("td_attributes")
    debug = not isinstance(attributes, Mapping) or attributes.get("debug") is not False
    if debug and reference.get("allow_debug") is not True:
        failed.append("debug")
    return failed
