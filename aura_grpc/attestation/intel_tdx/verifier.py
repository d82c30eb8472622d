"""'intel_tdx' evidence: a DCAP TDX quote (v4 or v5) with its Intel collateral.

Payloads (binary fields standard base64):

- bare TDX: `{"quote": <quote>, "collateral": {QuoteCollateralV3 object}}`;
  REPORT_DATA must be the nonce zero-padded (a 64-byte nonce as is), or
  SHA-512(nonce || SPKI of `bound_key_pem`).
- Azure TDX CVM: `{"hcl_report": <HCL report>, "td_quote": <quote>,
  "tpm_quote": {"quote", "signature", "pcrs"}, "collateral": {...}}`; the vTPM
  quote's extraData carries the nonce (see `azure.py`).

`collateral` may be left out when the verifier is configured with a
`collateral_dir` holding `<fmspc lower-case hex>.json` files of the same layout.
The checks run from the hardware root outwards: PCK chain to the pinned Intel SGX
Root CA, QE report signed by the PCK key, attestation key bound by the QE report,
quote signed by the attestation key, then the collateral (signatures, windows,
CRLs) that grades the TCB.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
    digest_payload,
)
from aura_grpc.attestation.intel_tdx import azure, pck, tcb
from aura_grpc.attestation.intel_tdx import collateral as coll
from aura_grpc.attestation.intel_tdx.claims import claims_of, expected_report_data
from aura_grpc.attestation.intel_tdx.extensions import (
    PCKInfo,
    parse_pck_extensions,
    pck_fingerprint,
)
from aura_grpc.attestation.intel_tdx.quote import (
    INTEL_QE_VENDOR_ID,
    TDXQuote,
    parse_quote,
)
from aura_grpc.attestation.intel_tdx.reference import appraise_tdx, parse_tdx_reference
from aura_grpc.attestation.payload import bound_key_spki, check_equal, require_bytes
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed, Unavailable

log = logging.getLogger(__name__)

MAX_QUOTE_BYTES = 64 * 1024
MAX_HCL_BYTES = 80 * 1024
MAX_COLLATERAL_FILE = 1 << 20


@dataclass(frozen=True)
class QuoteResult:
    """A quote whose signatures and chain verified, with its TCB verdict."""

    quote: TDXQuote
    pck: PCKInfo
    verdict: tcb.TCBVerdict


class TDXVerifier(Verifier):
    type_name = "intel_tdx"

    def __init__(
        self, root: x509.Certificate | None = None, collateral_dir: Path | None = None
    ) -> None:
        self._root = root if root is not None else pck.load_pinned_root()
        self._collateral_dir = collateral_dir

    @classmethod
    def from_options(cls, options: Mapping[str, Any], profile: str) -> TDXVerifier:
        unknown = set(options) - {"collateral_dir"}
        if unknown:
            raise ValueError(f"unknown intel_tdx options: {', '.join(sorted(unknown))}")
        directory = options.get("collateral_dir")
        return cls(collateral_dir=Path(directory) if directory else None)

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        if "hcl_report" in payload:
            return self._verify_azure(payload, context)
        raw = require_bytes(payload, "quote", max_bytes=MAX_QUOTE_BYTES)
        now = aware(context.now)
        result = self.verify_quote(raw, payload.get("collateral"), now)

        spki = bound_key_spki(payload)
        expected = expected_report_data(context.nonce, spki)
        check_equal(expected, result.quote.body.report_data, "TDX REPORT_DATA")
        return self._evidence(result, raw, spki, {})

    def _verify_azure(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        """Azure TDX CVM: the nonce is in the vTPM quote, not in REPORT_DATA."""
        hcl_raw = require_bytes(payload, "hcl_report", max_bytes=MAX_HCL_BYTES)
        raw = require_bytes(payload, "td_quote", max_bytes=MAX_QUOTE_BYTES)
        report, tdreport_data = azure.parse_tdx_hcl_report(hcl_raw)
        quote, chain, pck_info = self.authenticate_quote(raw, aware(context.now))

        azure.check_azure_binding(report, tdreport_data, quote)
        spki = bound_key_spki(payload)
        pcrs = azure.verify_vtpm(payload, report, context.nonce, spki)

        verdict = self.grade(
            payload.get("collateral"), quote, chain, pck_info, aware(context.now)
        )
        result = QuoteResult(quote, pck_info, verdict)
        return self._evidence(
            result, hcl_raw + raw, spki, azure.azure_claims(report, pcrs)
        )

    def _evidence(
        self, result: QuoteResult, raw: bytes, spki: bytes | None, extra: JSONObject
    ) -> VerifiedEvidence:
        return VerifiedEvidence(
            fingerprint=pck_fingerprint(result.pck),
            claims=claims_of(result.quote, result.pck, result.verdict) | extra,
            bound_key_spki=spki,
            evidence_digest=digest_payload(raw),
        )

    def verify_quote(
        self, raw: bytes, collateral: object, now: datetime
    ) -> QuoteResult:
        """Everything but the nonce: signatures, chain, collateral, TCB verdict."""
        quote, chain, pck_info = self.authenticate_quote(raw, now)
        verdict = self.grade(collateral, quote, chain, pck_info, now)
        return QuoteResult(quote, pck_info, verdict)

    def authenticate_quote(
        self, raw: bytes, now: datetime
    ) -> tuple[TDXQuote, pck.PCKChain, PCKInfo]:
        """The quote's signatures and PCK chain, up to the pinned root."""
        quote = parse_quote(raw)
        if quote.header.qe_vendor_id != INTEL_QE_VENDOR_ID:
            raise EvidenceMalformed("TDX quote was not produced by Intel's QE")

        chain = pck.parse_pck_chain(quote.pck_chain_pem)
        pck.verify_pck_chain(chain, self._root, now)
        pck_info = parse_pck_extensions(chain.leaf)
        verify_quote_signatures(quote, chain.leaf)
        return quote, chain, pck_info

    def grade(
        self,
        collateral: object,
        quote: TDXQuote,
        chain: pck.PCKChain,
        pck_info: PCKInfo,
        now: datetime,
    ) -> tcb.TCBVerdict:
        """Verify the collateral and grade the platform's TCB with it."""
        loaded = coll.parse_collateral(self._collateral_for(collateral, pck_info))
        verdict = grade_tcb(loaded, quote, pck_info, chain, self._root, now)
        log.debug("TDX quote verified", extra={"tcb_status": verdict.status})
        return verdict

    def _collateral_for(self, given: object, pck_info: PCKInfo) -> object:
        if given is not None:
            return given
        if self._collateral_dir is None:
            raise EvidenceMalformed(
                "TDX payload has no 'collateral' and no collateral_dir is configured",
                reason="TDX_COLLATERAL_MISSING",
            )
        return read_cached_collateral(self._collateral_dir, pck_info.fmspc.hex())

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return parse_tdx_reference(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return appraise_tdx(evidence.claims, reference)


def aware(now: datetime) -> datetime:
    """The clock as an aware datetime (a naive one is taken as UTC)."""
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def verify_quote_signatures(quote: TDXQuote, leaf: x509.Certificate) -> None:
    """QE report by the PCK key, attestation key bound by the QE, quote by that key."""
    pck_key = leaf.public_key()
    if not isinstance(pck_key, ec.EllipticCurvePublicKey):
        raise EvidenceMalformed("PCK certificate key is not ECDSA")
    pck.verify_ecdsa(
        pck_key,
        quote.qe_report_signature,
        quote.qe_report.raw,
        "TDX_QE_REPORT_SIGNATURE_INVALID",
    )

    binding = hashlib.sha256(quote.attestation_key + quote.qe_auth_data).digest()
    if binding != quote.qe_report.report_data[:32]:
        raise ClaimMismatch(
            "the QE report does not vouch for the quote's attestation key",
            reason="TDX_ATTESTATION_KEY_NOT_BOUND",
        )

    attestation_key = pck.load_raw_p256_key(quote.attestation_key, "attestation key")
    pck.verify_ecdsa(
        attestation_key,
        quote.signature,
        quote.signed_bytes,
        "TDX_QUOTE_SIGNATURE_INVALID",
    )


def grade_tcb(
    loaded: coll.Collateral,
    quote: TDXQuote,
    pck_info: PCKInfo,
    chain: pck.PCKChain,
    root: x509.Certificate,
    now: datetime,
) -> tcb.TCBVerdict:
    """Verify the collateral, check revocation, and find the TCB levels."""
    tcb_info = coll.verify_document(loaded.tcb_info, root, now, "TCB_INFO")
    qe_identity = coll.verify_document(loaded.qe_identity, root, now, "QE_IDENTITY")
    coll.check_revocation(loaded.root_ca_crl, root, chain.intermediate, now)
    coll.check_revocation(loaded.pck_crl, chain.intermediate, chain.leaf, now)

    tcb.check_tcb_info_subject(tcb_info, pck_info)
    qe = tcb.match_qe(qe_identity, quote.qe_report)
    module = tcb.match_module(tcb_info, quote.body)
    platform = tcb.match_platform(tcb_info, pck_info, quote.body.tee_tcb_svn)
    # TODO: grade TEE_TCB_SVN2 of TDX 1.5 bodies (Intel's relaunch advice); can go
    # when a v5 vector with a differing SVN2 verdict is available to test it.
    return tcb.converge(platform, qe, module)


def read_cached_collateral(directory: Path, fmspc: str) -> object:
    """`<collateral_dir>/<fmspc>.json`, as the fetcher (outside verify) writes it."""
    path = directory / f"{fmspc}.json"
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_COLLATERAL_FILE + 1)
    except OSError as exc:
        # The fetcher has not cached this platform yet: a server-side gap.
        raise Unavailable(
            "no cached TDX collateral for this platform's FMSPC",
            reason="TDX_COLLATERAL_UNAVAILABLE",
        ) from exc
    if len(data) > MAX_COLLATERAL_FILE:
        raise EvidenceMalformed("cached TDX collateral file is too large")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise EvidenceMalformed("cached TDX collateral is not JSON") from exc
