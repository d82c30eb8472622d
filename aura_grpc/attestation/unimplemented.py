"""Placeholder for evidence types whose production verifier has not landed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
)
from aura_grpc.errors import NotImplementedYet


class UnimplementedVerifier(Verifier):
    type_name = "unimplemented"

    def ensure_available(self) -> None:
        raise NotImplementedYet(
            f"'{self.type_name}' attestation is not implemented yet"
        )

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        raise NotImplementedYet(
            f"'{self.type_name}' attestation is not implemented yet"
        )

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        raise NotImplementedYet(
            f"'{self.type_name}' attestation is not implemented yet"
        )

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return []
