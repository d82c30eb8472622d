"""TPM reference values: allowed values per PCR, and their appraisal.

Document shape: `{"pcrs": {"<index>": ["<hex>", ...]}}`. A PCR listed with an
empty list matches nothing; a PCR not listed is not appraised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aura_grpc.errors import ReferenceValuesInvalid

_HEX = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$|^[0-9a-f]{96}$|^[0-9a-f]{128}$")


def parse_pcr_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    unknown = set(document) - {"pcrs"}
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(unknown))}")

    pcrs = document.get("pcrs", {})
    if not isinstance(pcrs, Mapping):
        raise ReferenceValuesInvalid("'pcrs' must be an object of index -> [hex]")

    normalised: dict[str, list[str]] = {}
    for index, allowed in pcrs.items():
        if not str(index).isdigit() or not 0 <= int(index) <= 23:
            problems.append(f"PCR index '{index}' is not 0..23")
            continue
        if not isinstance(allowed, list) or not all(
            isinstance(v, str) for v in allowed
        ):
            problems.append(f"pcrs.{index} must be a list of hex strings")
            continue
        values = [v.lower().removeprefix("0x") for v in allowed]
        problems.extend(
            f"pcrs.{index}: '{v}' is not a SHA-1/256/384/512 hex digest"
            for v in values
            if not _HEX.match(v)
        )
        normalised[str(int(index))] = values

    if problems:
        raise ReferenceValuesInvalid("; ".join(problems))
    return {"pcrs": normalised}


def appraise_pcrs(pcrs: Mapping[str, str], reference: Mapping[str, Any]) -> list[str]:
    """Names of the PCRs whose value is missing or not allowed, as `pcr<N>`."""
    failed: list[str] = []
    for index, allowed in sorted(
        reference.get("pcrs", {}).items(), key=lambda item: int(item[0])
    ):
        value = pcrs.get(index)
        if value is None or value.lower() not in allowed:
            failed.append(f"pcr{index}")
    return failed
