"""The 'aws_nitro' verifier: AWS Nitro Enclaves attestation documents.

Payload: `{"document": "<standard base64 of the COSE_Sign1 CBOR>"}` plus the
common `nonce` and optional `bound_key_pem` fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aura_grpc.attestation.aws_nitro.chain import (
    TrustAnchors,
    load_extra_roots,
    load_pinned_root,
)
from aura_grpc.attestation.aws_nitro.document import (
    MAX_DOCUMENT_BYTES,
    NitroDocument,
    decode_document,
)
from aura_grpc.attestation.aws_nitro.posture import (
    claims_of,
    fingerprint_of,
    public_key_spki,
)
from aura_grpc.attestation.aws_nitro.reference import appraise_claims, parse_reference
from aura_grpc.attestation.aws_nitro.signature import (
    ROOT_FILE,
    ROOT_SHA256,
    verify_chain,
    verify_signature,
)
from aura_grpc.attestation.base import (
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
    digest_payload,
)
from aura_grpc.attestation.payload import bound_key_spki, check_equal, require_bytes
from aura_grpc.errors import ClaimMismatch, EvidenceExpired, NonceMismatch

DOCUMENT_FIELD = "document"
DEFAULT_MAX_AGE_SECONDS = 300
# The enclave's clock and ours may disagree a little; a document from further in
# the future than this was not made for this request.
FUTURE_SKEW = timedelta(seconds=60)
_OPTIONS = frozenset({"max_age_seconds", "extra_roots_pem"})


class NitroVerifier(Verifier):
    type_name = "aws_nitro"

    def __init__(
        self,
        anchors: TrustAnchors | None = None,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._anchors = anchors or TrustAnchors.of(
            [load_pinned_root(ROOT_FILE, ROOT_SHA256)]
        )
        self._max_age = timedelta(seconds=max_age_seconds)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], profile: str) -> NitroVerifier:
        """Options: `max_age_seconds` (int, default 300); `extra_roots_pem` (a
        PEM file path or PEM text of extra roots; refused in prod)."""
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown aws_nitro options: {', '.join(sorted(unknown))}")

        max_age = options.get("max_age_seconds", DEFAULT_MAX_AGE_SECONDS)
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
            raise ValueError("aws_nitro max_age_seconds must be a positive integer")

        anchors = TrustAnchors.of([load_pinned_root(ROOT_FILE, ROOT_SHA256)])
        extra = options.get("extra_roots_pem")
        if extra:
            if profile == "prod":
                raise ValueError("aws_nitro extra_roots_pem is refused in prod")
            anchors = anchors.plus(load_extra_roots(str(extra)))
        return cls(anchors, max_age)

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        raw = require_bytes(payload, DOCUMENT_FIELD, max_bytes=MAX_DOCUMENT_BYTES)
        document = decode_document(raw)
        self.authenticate(document, context.now)

        if document.nonce is None:
            raise NonceMismatch(
                "document carries no nonce", reason="NITRO_NONCE_ABSENT"
            )
        check_equal(context.nonce, document.nonce, "Nitro document nonce")

        return VerifiedEvidence(
            fingerprint=fingerprint_of(document),
            claims=claims_of(document),
            bound_key_spki=_bound_key(payload, document),
            evidence_digest=digest_payload(raw),
        )

    def authenticate(self, document: NitroDocument, now: datetime) -> None:
        """Chain, signature and freshness: everything but the nonce."""
        leaf = verify_chain(document, self._anchors, now)
        verify_signature(document, leaf)
        self._check_fresh(document, now)

    def _check_fresh(self, document: NitroDocument, now: datetime) -> None:
        # Integer milliseconds: a uint64 timestamp may lie far past datetime's
        # range, and must be refused, not overflow.
        age_ms = round(now.timestamp() * 1000) - document.timestamp_ms
        if age_ms > self._max_age // timedelta(milliseconds=1):
            raise EvidenceExpired(
                f"document is older than {self._max_age.total_seconds():.0f} s",
                reason="NITRO_DOCUMENT_STALE",
            )
        if -age_ms > FUTURE_SKEW // timedelta(milliseconds=1):
            raise EvidenceExpired(
                "document timestamp is in the future",
                reason="NITRO_DOCUMENT_FROM_FUTURE",
            )

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return parse_reference(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return appraise_claims(evidence.claims, reference)


def _bound_key(payload: Mapping[str, Any], document: NitroDocument) -> bytes | None:
    """The document's public_key, when it is a key; a key the payload names must
    be that one."""
    bound = None
    if document.public_key is not None:
        bound = public_key_spki(document.public_key)

    requested = bound_key_spki(payload)
    if requested is not None and requested != bound:
        raise ClaimMismatch(
            "the document does not bind the key the payload names",
            reason="NITRO_BOUND_KEY_MISMATCH",
        )
    return bound
