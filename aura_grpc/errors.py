"""Domain errors raised by verifiers, the CA and the store.

Nothing here knows about gRPC: `aura_grpc.api.status` maps each class to a status
code once, at the boundary. Every error carries a stable, machine-readable reason
(UPPER_SNAKE_CASE) that clients see in `google.rpc.ErrorInfo`; the message is for
humans and must never contain key material, tokens or raw evidence.
"""

from __future__ import annotations

from typing import ClassVar


class AuraError(Exception):
    """Base of every error AURA raises on purpose."""

    reason: ClassVar[str] = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Machine-readable details for ErrorInfo.metadata (an approval id...).
        self.metadata = dict(metadata or {})
        if reason is not None:
            self.reason = reason  # type: ignore[misc]  # instance narrows the class default


# Input that cannot be parsed or violates a schema: the client must fix it.
class InvalidInput(AuraError):
    reason = "INVALID_INPUT"


class EvidenceMalformed(InvalidInput):
    reason = "EVIDENCE_MALFORMED"


class ReferenceValuesInvalid(InvalidInput):
    reason = "REFERENCE_VALUES_INVALID"


class UnknownEvidenceType(InvalidInput):
    reason = "UNKNOWN_EVIDENCE_TYPE"


# Evidence that parsed but does not prove what it claims.
class EvidenceRejected(AuraError):
    reason = "EVIDENCE_REJECTED"


class SignatureInvalid(EvidenceRejected):
    reason = "SIGNATURE_INVALID"


class ChainInvalid(EvidenceRejected):
    reason = "CHAIN_INVALID"


class CertificateExpired(ChainInvalid):
    reason = "CERTIFICATE_EXPIRED"


class EvidenceExpired(EvidenceRejected):
    reason = "EVIDENCE_EXPIRED"


class ClaimMismatch(EvidenceRejected):
    """A signed value contradicts another (PCR digest, chip id, audience...)."""

    reason = "CLAIM_MISMATCH"


# Preconditions the caller can satisfy by doing things in the right order.
class PreconditionFailed(AuraError):
    reason = "FAILED_PRECONDITION"


class NonceMismatch(PreconditionFailed):
    """The evidence does not carry the server nonce the payload names."""

    reason = "NONCE_MISMATCH"


class NonceInvalid(PreconditionFailed):
    """Unknown, expired, already used, or issued to another org."""

    reason = "NONCE_INVALID"


class ProfileForbids(PreconditionFailed):
    reason = "PROFILE_FORBIDS"


class NotFound(AuraError):
    reason = "NOT_FOUND"


class AlreadyExists(AuraError):
    reason = "ALREADY_EXISTS"


class Unauthenticated(AuraError):
    reason = "UNAUTHENTICATED"


class PermissionDenied(AuraError):
    reason = "PERMISSION_DENIED"


class NotImplementedYet(AuraError):
    reason = "NOT_IMPLEMENTED"


class Unavailable(AuraError):
    """A dependency (database, vendor key set, HSM) cannot be reached right now."""

    reason = "UNAVAILABLE"


# ErrorInfo.metadata key of a retry hint (whole seconds); status.py also sends it
# as google.rpc.RetryInfo and a `retry-after` header.
RETRY_AFTER = "retry_after_seconds"


class RateLimited(AuraError):
    """Too many calls from one org or address; carries a retry hint."""

    reason = "RATE_LIMITED"
