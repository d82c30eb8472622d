"""Nitro reference values: allowed PCR0/1/2/8 values and the debug switch.

Document shape::

    {"pcr0": ["<hex>", ...], "pcr1": [...], "pcr2": [...], "pcr8": [...],
     "allow_debug": false}

A PCR list that is missing or empty matches nothing, so an org must name every
image it accepts; there is no allow-all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aura_grpc.errors import ReferenceValuesInvalid

APPRAISED_PCRS = ("pcr0", "pcr1", "pcr2", "pcr8")
_KNOWN = frozenset({*APPRAISED_PCRS, "allow_debug"})
_HEX = re.compile(r"^(?:[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})$")


def parse_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    unknown = set(document) - _KNOWN
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")

    normalised: dict[str, Any] = {"allow_debug": document.get("allow_debug", False)}
    if not isinstance(normalised["allow_debug"], bool):
        problems.append("allow_debug must be true or false")

    for name in APPRAISED_PCRS:
        if name in document:
            normalised[name] = _hex_list(document[name], name, problems)

    if problems:
        raise ReferenceValuesInvalid("; ".join(problems))
    return normalised


def _hex_list(values: Any, name: str, problems: list[str]) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.append(f"{name} must be a list of hex strings")
        return []

    normalised = [v.lower().removeprefix("0x") for v in values]
    problems.extend(
        f"{name}: '{v}' is not a 32, 48 or 64 byte hex value"
        for v in normalised
        if not _HEX.match(v)
    )
    return normalised


def appraise_claims(
    claims: Mapping[str, Any], reference: Mapping[str, Any]
) -> list[str]:
    """Failed check names: 'pcr0', 'pcr1', 'pcr2', 'pcr8', 'debug'."""
    pcrs = claims.get("pcrs", {})
    failed = [
        name
        for name in APPRAISED_PCRS
        if pcrs.get(name.removeprefix("pcr")) not in reference.get(name, [])
    ]

    if claims.get("debug", True) and not reference.get("allow_debug", False):
        failed.append("debug")
    return failed
