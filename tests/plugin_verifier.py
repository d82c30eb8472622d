"""A verifier from outside AURA, loaded only through configuration."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
)
from aura_grpc.attestation.payload import require_str


class SerialNumberVerifier(Verifier):
    """Trusts a device's claimed serial number: for plumbing tests only."""

    type_name = "serial_number"

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        serial = require_str(payload, "serial", max_len=64)
        return VerifiedEvidence(
            fingerprint=hashlib.sha256(serial.encode()).hexdigest(),
            claims={"serial": serial},
        )

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return dict(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        allowed = reference.get("serials")
        if allowed is None:
            return []
        return [] if evidence.claims["serial"] in allowed else ["serial"]
