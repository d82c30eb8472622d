"""GCP reference values: allowed hardware, software, images, and debug.

Document shape::

    {"hwmodels": ["GCP_AMD_SEV_SNP", ...], "swnames": ["CONFIDENTIAL_SPACE"],
     "image_digests": ["sha256:<64 hex>", ...], "allow_debug": false}

A list that is missing or empty matches nothing. `image_digests` is appraised
only for tokens that name a container image (Confidential Space); a plain
Confidential VM is judged by its software name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aura_grpc.errors import ReferenceValuesInvalid

_LISTS = ("hwmodels", "swnames", "image_digests")
_KNOWN = frozenset({*_LISTS, "allow_debug"})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    unknown = set(document) - _KNOWN
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")

    normalised: dict[str, Any] = {"allow_debug": document.get("allow_debug", False)}
    if not isinstance(normalised["allow_debug"], bool):
        problems.append("allow_debug must be true or false")

    for name in _LISTS:
        values = document.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{name} must be a list of strings")
            continue
        normalised[name] = list(values)

    digests = [d.lower() for d in normalised.get("image_digests", [])]
    problems.extend(
        f"image_digests: '{d}' is not sha256:<64 hex>"
        for d in digests
        if not _DIGEST.match(d)
    )
    normalised["image_digests"] = digests

    if problems:
        raise ReferenceValuesInvalid("; ".join(problems))
    return normalised


def appraise_claims(
    claims: Mapping[str, Any], reference: Mapping[str, Any]
) -> list[str]:
    """Failed check names: 'hwmodel', 'swname', 'image_digest', 'secure_boot',
    'debug'."""
    failed = []
    if claims.get("hwmodel") not in reference.get("hwmodels", []):
        failed.append("hwmodel")
    if claims.get("swname") not in reference.get("swnames", []):
        failed.append("swname")

    digest = claims.get("image_digest")
    if digest is not None and digest.lower() not in reference.get("image_digests", []):
        failed.append("image_digest")

    if claims.get("secboot") is not True:
        failed.append("secure_boot")
    if claims.get("debug", True) and not reference.get("allow_debug", False):
        failed.append("debug")
    return failed
