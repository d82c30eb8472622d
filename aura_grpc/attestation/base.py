"""The interface every evidence verifier implements.

A verifier is pure: payload bytes, pinned trust roots and an explicit clock go in,
claims come out. It never touches the network or the database. The service around
it owns nonces (it has already checked that `context.nonce` was issued by this
server, to this org, and is unused), devices and posture.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class VerificationContext:
    """What the evidence must be checked against."""

    nonce: bytes
    now: datetime
    profile: str = "dev"


@dataclass(frozen=True)
class VerifiedEvidence:
    """The outcome of a successful verification.

    `fingerprint` identifies the hardware stably (the same device always gives
    the same value); `claims` is JSON-serialisable and becomes the posture;
    `bound_key_spki` is the DER SubjectPublicKeyInfo the evidence binds, when it
    binds one, and the only key issuance will then accept for this device.
    """

    fingerprint: str
    claims: JSONObject
    bound_key_spki: bytes | None = None
    evidence_digest: str = ""
    appraisal_hints: JSONObject = field(default_factory=dict)


class Verifier(ABC):
    """Verifies one evidence type and appraises its claims."""

    type_name: ClassVar[str]
    # The largest payload (canonical JSON) this type accepts, checked before any
    # parsing or nonce work; a type with small evidence lowers it.
    max_payload_bytes: ClassVar[int] = 1 << 20

    @classmethod
    def from_options(cls, options: Mapping[str, Any], profile: str) -> Verifier:
        """Build from this type's configuration section; trust roots load here once."""
        return cls()

    def ensure_available(self) -> None:  # noqa: B027  # optional hook, no-op by default
        """Raise `NotImplementedYet` or `Unavailable` before any nonce is spent."""

    @abstractmethod
    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        """Check the evidence; raise an `aura_grpc.errors.AuraError` subclass if bad.

        Malformed input raises `EvidenceMalformed`; evidence that does not verify
        raises an `EvidenceRejected` subclass; a missing or wrong nonce raises
        `NonceMismatch`.
        """

    @abstractmethod
    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        """Validate an org's reference values for this type and return them
        normalised; raise `ReferenceValuesInvalid` naming every problem."""

    @abstractmethod
    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        """Compare claims with normalised reference values; return the names of
        the failed checks (empty means compliant). Never raises for a mismatch."""

    def appraise_history(
        self, previous_claims: Mapping[str, Any], evidence: VerifiedEvidence
    ) -> list[str]:
        """Checks against the same device's previous posture (a counter that went
        backwards...); names of the failed ones. Most types have none."""
        return []


def digest_payload(raw: bytes) -> str:
    """The evidence digest stored beside the posture (never the evidence itself)."""
    return hashlib.sha256(raw).hexdigest()


BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


def background_tasks_of(verifier: Verifier) -> Sequence[BackgroundTask]:
    """Long-running jobs (key set refresh, collateral fetch) a verifier needs.

    The server starts them at start-up and cancels them at shutdown; a verifier
    that needs none simply has no `background_tasks` method.
    """
    method = getattr(verifier, "background_tasks", None)
    return tuple(method()) if callable(method) else ()
