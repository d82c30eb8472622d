"""The policy step of issuance: build the input, evaluate, record, act."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.tokens import Principal
from aura_grpc.ca.requested_key import RequestedKey
from aura_grpc.clock import Clock
from aura_grpc.errors import PermissionDenied, PreconditionFailed
from aura_grpc.logfields import DEVICE, ORG, REASON
from aura_grpc.policy.engine import Decision, input_digest
from aura_grpc.policy.hook import AuditWriter
from aura_grpc.policy.service import PolicyService, PolicyVersion
from aura_grpc.services import nonces
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.certificates import IssueRequest
from aura_grpc.store.models import Approval, Device, IssuedCertificate, Org

log = logging.getLogger(__name__)

PENDING = "pending"


def binding_of(request: IssueRequest, device: Device) -> str:
    if device.bound_key_spki is not None:
        return "evidence_key"
    return "ticket" if request.issue_ticket else "none"


class PolicyGate:
    """Passed to CertificateService; runs the org's policy before signing."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policies: PolicyService,
        clock: Clock,
        approval_ttl: timedelta,
    ) -> None:
        self._sessions = sessions
        self._policies = policies
        self._clock = clock
        self._approval_ttl = approval_ttl
        # Org names never change once created.
        self._org_names: dict[str, str] = {}

    # TODO: find why each check grows the process's RSS by about 3 KB (see
    # BENCHMARKS.md, Memory); can go when 100k issuances stay under 200 MB.
    async def check(
        self,
        principal: Principal,
        actor: Actor,
        device: Device,
        request: IssueRequest,
        key: RequestedKey,
    ) -> AuditWriter | None:
        if request.approval_id:
            await self._check_approved(principal, device, request, key)
            return None

        document = await self.input_for(principal, device, request, key)
        policy = await self._policies.current(principal.org_id)
        decision = await self._policies.evaluate(policy, document)
        writer = self._audit_writer(actor, device, document, policy, decision)
        self._log_errors(actor, device, decision)

        # An allowed decision is written with the certificate, in one commit;
        # any other outcome is written now, as nothing else will be.
        if decision.decision == "allow":
            return writer
        async with self._sessions.begin() as session:
            writer(session)
        if decision.decision == "require_approval":
            await self._hold(principal, actor, device, request, key, policy, decision)
        raise PermissionDenied(
            "; ".join(decision.reasons) or "the org's issuance policy denied this",
            reason="POLICY_DENIED",
            metadata={"policy_version": str(policy.version)},
        )

    async def input_for(
        self,
        principal: Principal,
        device: Device,
        request: IssueRequest,
        key: RequestedKey,
    ) -> dict[str, Any]:
        """The documented input, extended with the request and the org."""
        async with self._sessions() as session:
            org_name = self._org_names.get(principal.org_id)
            if org_name is None:
                org = await session.get(Org, principal.org_id)
                org_name = self._org_names[principal.org_id] = org.name if org else ""
            issued = await session.scalar(
                select(func.count())
                .select_from(IssuedCertificate)
                # org_id first: the (org_id, device_id) index answers it; device_id
                # alone scanned the whole table (10x slower issuance at 1M rows).
                .where(
                    IssuedCertificate.org_id == principal.org_id,
                    IssuedCertificate.device_id == device.id,
                )
            )
        return {
            "action": "issue_cert",
            "device": {
                "id": device.id,
                "type": device.type,
                "posture": device.posture,
                "last_attested_at": device.last_attested_at.isoformat(),
                "created_at": device.created_at.isoformat(),
                "certificates_issued": int(issued or 0),
            },
            "request": {
                "subject_cn": request.subject_cn,
                "days": request.days,
                "key_type": key.algorithm,
                "key_source": key.source,
                "binding": binding_of(request, device),
            },
            "org": {"id": principal.org_id, "name": org_name},
            "now": self._clock.now().isoformat(),
        }

    def _audit_writer(
        self,
        actor: Actor,
        device: Device,
        document: dict[str, Any],
        policy: PolicyVersion,
        decision: Decision,
    ) -> AuditWriter:
        at = self._clock.now()
        digest = input_digest(document)

        def write(session: AsyncSession) -> None:
            record(
                session,
                at,
                actor,
                "policy.decision",
                decision.decision,
                reason=decision.error[:128],
                device_id=device.id,
                input_sha256=digest,
                policy_version=policy.version,
                policy_digest=policy.compiled.digest,
                reasons=decision.reasons,
            )

        return write

    @staticmethod
    def _log_errors(actor: Actor, device: Device, decision: Decision) -> None:
        if decision.error:
            log.warning(
                "policy denied by default: %s",
                decision.error,
                extra={ORG: actor.org_id, DEVICE: device.id, REASON: "POLICY_ERROR"},
            )

    async def _hold(
        self,
        principal: Principal,
        actor: Actor,
        device: Device,
        request: IssueRequest,
        key: RequestedKey,
        policy: PolicyVersion,
        decision: Decision,
    ) -> None:
        # A server-made key would have to be stored until someone approves:
        # approval is only for keys the device holds itself.
        if key.source == "server":
            raise PermissionDenied(
                "this issuance needs approval, which needs the device's own key: "
                "send a CSR or public key",
                reason="APPROVAL_NEEDS_DEVICE_KEY",
            )

        now = self._clock.now()
        approval = Approval(
            id=f"apr_{secrets.token_hex(10)}",
            org_id=principal.org_id,
            device_id=device.id,
            subject_cn=request.subject_cn,
            days=request.days,
            csr_pem=request.csr_pem,
            public_key_pem=request.public_key_pem,
            key_sha256=key.sha256,
            status=PENDING,
            reasons=decision.reasons,
            policy_version=policy.version,
            requested_by=principal.token_id,
            created_at=now,
            expires_at=now + self._approval_ttl,
            decided_at=None,
            decided_by=None,
            serial=None,
        )
        async with self._sessions.begin() as session:
            # The ticket proved the binding now; it is spent so it binds only once.
            if request.issue_ticket:
                await nonces.claim_ticket(
                    session, principal.org_id, device.id, request.issue_ticket, now
                )
            session.add(approval)
            record(
                session,
                now,
                actor,
                "approval.request",
                PENDING,
                device_id=device.id,
                approval_id=approval.id,
                key_sha256=key.sha256,
                policy_version=policy.version,
            )
        raise PermissionDenied(
            "; ".join(decision.reasons) or "this issuance needs an approver",
            reason="APPROVAL_REQUIRED",
            metadata={"approval_id": approval.id},
        )

    async def _check_approved(
        self,
        principal: Principal,
        device: Device,
        request: IssueRequest,
        key: RequestedKey,
    ) -> None:
        # Only ApprovalService sets approval_id (the API has no such field);
        # still, the approval must match what is about to be signed.
        async with self._sessions() as session:
            approval = await session.get(Approval, request.approval_id)
        matches = (
            approval is not None
            and approval.org_id == principal.org_id
            and approval.device_id == device.id
            and approval.key_sha256 == key.sha256
            and approval.status == PENDING
        )
        if not matches:
            raise PreconditionFailed(
                "the approval does not match this issuance",
                reason="APPROVAL_MISMATCH",
            )
