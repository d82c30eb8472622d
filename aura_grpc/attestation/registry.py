"""The explicit list of evidence types AURA knows, plus configured extras.

Built-in verifiers are named here, one module per type; a verifier from outside
AURA is added by configuration (`verifiers.extra`, "package.module:Class") or by a
package declaring an `aura.verifiers` entry point. Nothing is discovered by
walking folders.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from aura_grpc.attestation.base import Verifier
from aura_grpc.errors import UnknownEvidenceType

log = logging.getLogger(__name__)

BUILTIN_VERIFIERS: dict[str, str] = {
    "tpm": "aura_grpc.attestation.tpm:TPMVerifier",
    "aws_nitro": "aura_grpc.attestation.aws_nitro:NitroVerifier",
    "azure_snp": "aura_grpc.attestation.azure_snp:AzureSNPVerifier",
    "intel_tdx": "aura_grpc.attestation.intel_tdx:TDXVerifier",
    "gcp_cc": "aura_grpc.attestation.gcp_cc:GCPConfidentialVerifier",
}

ENTRY_POINT_GROUP = "aura.verifiers"


def load_class(spec: str) -> type[Verifier]:
    """Import "package.module:Class" and check it is a Verifier."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"verifier '{spec}' must look like 'package.module:Class'")

    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Verifier)):
        raise TypeError(f"{spec} is not a subclass of aura_grpc Verifier")
    return cls


class VerifierRegistry:
    """Evidence type name -> a configured verifier instance."""

    def __init__(self, verifiers: Mapping[str, Verifier]) -> None:
        self._verifiers = dict(verifiers)

    @classmethod
    def build(
        cls,
        profile: str,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> VerifierRegistry:
        specs = dict(BUILTIN_VERIFIERS)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            specs.setdefault(ep.name, ep.value)
        specs.update(extra or {})

        options = options or {}
        verifiers = {
            name: load_class(spec).from_options(options.get(name, {}), profile)
            for name, spec in specs.items()
        }
        log.info("verifiers loaded", extra={"types": sorted(verifiers)})
        return cls(verifiers)

    def get(self, type_name: str) -> Verifier:
        try:
            return self._verifiers[type_name]
        except KeyError:
            raise UnknownEvidenceType(
                f"unknown attestation type '{type_name}'; "
                f"known: {', '.join(sorted(self._verifiers))}"
            ) from None

    def types(self) -> list[str]:
        return sorted(self._verifiers)
