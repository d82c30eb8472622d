"""The `azure_snp` verifier: bare SEV-SNP reports and Azure confidential VMs.

Two payload shapes are accepted (binary fields standard base64):

- bare SNP: {"report": <1184-byte ATTESTATION_REPORT>, "vcek": <DER, or PEM
  text>, "cert_chain": <PEM, optional, ignored>}; REPORT_DATA must be the nonce
  zero-padded to 64 bytes, or SHA-512(nonce || SPKI of `bound_key_pem`).
- Azure CVM: {"hcl_report": <HCL report>, "vcek": ..., "tpm_quote": {"quote":
  <TPMS_ATTEST>, "signature": <TPMT_SIGNATURE>, "pcrs": {"<index>": "<hex>"}}};
  the vTPM quote's extraData must be the nonce, or SHA-512(nonce || SPKI).

Trust comes only from the pinned AMD chains; a chain sent by the client is
never used.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.azure_snp import paravisor
from aura_grpc.attestation.azure_snp.claims import fingerprint, report_claims
from aura_grpc.attestation.azure_snp.endorsement import verify_endorsed_report
from aura_grpc.attestation.azure_snp.hcl import azure_claims, parse_hcl_report
from aura_grpc.attestation.azure_snp.reference import appraise_snp, parse_snp_reference
from aura_grpc.attestation.azure_snp.report import (
    GENOA,
    MILAN,
    REPORT_SIZE,
    TURIN,
    SNPReport,
    parse_report,
)
from aura_grpc.attestation.azure_snp.vcek import (
    AMDChain,
    EndorsementKey,
    load_certificate,
    load_chains,
    read_endorsement_key,
)
from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
    digest_payload,
)
from aura_grpc.attestation.payload import (
    bound_key_spki,
    check_equal,
    report_data_for,
    require_bytes,
    require_str,
)
from aura_grpc.errors import EvidenceMalformed

log = logging.getLogger(__name__)

ALL_PRODUCTS = frozenset({MILAN, GENOA, TURIN})
_MAX_HCL_BYTES = 80 * 1024
_MAX_CERT_CHARS = 16 * 1024


class AzureSNPVerifier(Verifier):
    """Verifies SEV-SNP evidence, bare or wrapped by the Azure paravisor."""

    type_name = "azure_snp"

    def __init__(
        self,
        products: frozenset[str] = ALL_PRODUCTS,
        *,
        chains: Mapping[tuple[str, str], AMDChain] | None = None,
    ) -> None:
        """`chains` replaces the pinned AMD chains (tests with their own roots)."""
        self._chains = dict(chains) if chains is not None else load_chains(products)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], profile: str) -> Verifier:
        """Options: {"products": ["Milan", "Genoa", "Turin"]} (default: all)."""
        products = options.get("products", sorted(ALL_PRODUCTS))
        if not isinstance(products, list) or not set(products) <= ALL_PRODUCTS:
            raise ValueError(f"azure_snp.products must be a subset of {ALL_PRODUCTS}")
        return cls(frozenset(products))

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        if "hcl_report" in payload:
            return self._verify_azure(payload, context)
        if "report" in payload:
            return self._verify_bare(payload, context)
        raise EvidenceMalformed("payload needs 'report' (bare SNP) or 'hcl_report'")

    def _verify_bare(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        raw = require_bytes(payload, "report", max_bytes=REPORT_SIZE)
        report = parse_report(raw)
        key = _read_key(payload)

        product = verify_endorsed_report(report, key, self._chains, context.now)
        spki = bound_key_spki(payload)
        check_equal(
            report_data_for(context.nonce, spki), report.report_data, "REPORT_DATA"
        )

        claims = {"evidence_format": "sev_snp", **report_claims(report, key, product)}
        return _evidence(report, claims, spki, raw)

    def _verify_azure(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        raw = require_bytes(payload, "hcl_report", max_bytes=_MAX_HCL_BYTES)
        hcl = parse_hcl_report(raw)
        report = parse_report(hcl.snp_report)
        quote = paravisor.read_vtpm_quote(payload)
        key = _read_key(payload)

        product = verify_endorsed_report(report, key, self._chains, context.now)
        paravisor.check_runtime_claims_bound(hcl, report.report_data)
        spki = bound_key_spki(payload)
        extra_data = paravisor.quote_nonce(context.nonce, spki)
        pcrs = paravisor.verify_vtpm_quote(hcl, quote, extra_data)

        claims = {
            "evidence_format": "azure_hcl_snp",
            **report_claims(report, key, product),
            "azure": {**azure_claims(hcl), "pcrs": pcrs},
        }
        return _evidence(report, claims, spki, raw + quote.raw)

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return parse_snp_reference(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return appraise_snp(evidence.claims, reference)


def _read_key(payload: Mapping[str, Any]) -> EndorsementKey:
    text = require_str(payload, "vcek", max_len=_MAX_CERT_CHARS)
    return read_endorsement_key(load_certificate(text))


def _evidence(
    report: SNPReport, claims: JSONObject, spki: bytes | None, raw: bytes
) -> VerifiedEvidence:
    log.debug("SNP evidence verified (product %s)", claims["product"])
    return VerifiedEvidence(
        fingerprint=fingerprint(report),
        claims=claims,
        bound_key_spki=spki,
        evidence_digest=digest_payload(raw),
    )
