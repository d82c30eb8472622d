"""'tpm' evidence: TPM 2.0 quotes (and, in dev only, the documented stub)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
)
from aura_grpc.attestation.tpm.reference import appraise_pcrs, parse_pcr_reference
from aura_grpc.attestation.tpm.stub import looks_like_stub, verify_stub
from aura_grpc.errors import NotImplementedYet


class TPMVerifier(Verifier):
    type_name = "tpm"

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        if looks_like_stub(payload):
            return verify_stub(payload, context)
        # TODO: verify real TPM 2.0 quotes (AK certificate or credential
        # activation); can go when the real-TPM issue lands.
        raise NotImplementedYet("real TPM quotes are not verified yet")

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return parse_pcr_reference(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return appraise_pcrs(evidence.claims.get("pcrs", {}), reference)
