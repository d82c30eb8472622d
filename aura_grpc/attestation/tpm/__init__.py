"""'tpm' evidence: TPM 2.0 quotes (and, in dev only, the documented stub).

A real payload carries the AK public area, a quote and its signature over the
server nonce, the quoted PCR values, and either an AK certificate from a pinned
TPM vendor or cloud CA, or the EK for credential activation. See `evidence.py`
for the checks and `quote.py` for the quote verification other verifiers reuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509

from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
)
from aura_grpc.attestation.tpm.evidence import verify_tpm_quote
from aura_grpc.attestation.tpm.posture import clock_went_backwards
from aura_grpc.attestation.tpm.reference import appraise_pcrs, parse_pcr_reference
from aura_grpc.attestation.tpm.stub import looks_like_stub, verify_stub
from aura_grpc.attestation.tpm.trust import TPMTrust, load_pem_bundle

_OPTIONS = frozenset({"ak_ca_pem", "ek_ca_pem"})


def _extra_cas(options: Mapping[str, Any], name: str) -> list[x509.Certificate]:
    value = options.get(name)
    if value is None:
        return []
    texts = value if isinstance(value, list) else [value]
    if not all(isinstance(text, str) for text in texts):
        raise ValueError(f"tpm option '{name}' must be PEM text, a path, or a list")
    return [cert for text in texts for cert in load_pem_bundle(text, f"tpm {name}")]


class TPMVerifier(Verifier):
    type_name = "tpm"

    def __init__(self, trust: TPMTrust | None = None) -> None:
        self._trust = trust or TPMTrust.default()

    @classmethod
    def from_options(cls, options: Mapping[str, Any], profile: str) -> TPMVerifier:
        """Options: `ak_ca_pem`, `ek_ca_pem` (PEM text or file path, or a list of
        them): CAs trusted beside the pinned Google vTPM CAs."""
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown tpm options: {', '.join(sorted(unknown))}")
        trust = TPMTrust.default(
            _extra_cas(options, "ak_ca_pem"), _extra_cas(options, "ek_ca_pem")
        )
        return cls(trust)

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        if looks_like_stub(payload):
            return verify_stub(payload, context)
        return verify_tpm_quote(payload, context, self._trust)

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return parse_pcr_reference(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return appraise_pcrs(evidence.claims.get("pcrs", {}), reference)

    def appraise_history(
        self, previous_claims: Mapping[str, Any], evidence: VerifiedEvidence
    ) -> list[str]:
        # Only the same TPM's counters compare: a device re-attesting with
        # another AK still has the same EK and so the same clock.
        return clock_went_backwards(previous_claims, evidence.claims)
