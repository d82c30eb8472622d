"""Issuances held by policy: list, approve (issue now), deny, collect."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.scopes import Scope
from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clock
from aura_grpc.errors import NotFound, PreconditionFailed
from aura_grpc.logfields import DEVICE, ORG
from aura_grpc.policy.gate import PENDING
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.certificates import CertificateService, IssueRequest
from aura_grpc.store.models import Approval, IssuedCertificate

log = logging.getLogger(__name__)

APPROVED = "approved"
DENIED = "denied"
EXPIRED = "expired"
MAX_LISTED = 500
# Scopes that may see any approval of the org; others see only their own.
_OVERSEERS = frozenset({Scope.ADMIN, Scope.READ, Scope.APPROVE})


@dataclass(frozen=True)
class ApprovalView:
    row: Approval
    status: str
    cert_pem: str = ""
    chain_pem: str = ""


def status_of(row: Approval, now: datetime) -> str:
    if row.status == PENDING and row.expires_at <= now:
        return EXPIRED
    return row.status


class ApprovalService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        certificates: CertificateService,
        authorities: AuthorityService,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._certificates = certificates
        self._authorities = authorities
        self._clock = clock

    async def list_pending(self, principal: Principal) -> list[ApprovalView]:
        now = self._clock.now()
        query = (
            select(Approval)
            .where(
                Approval.org_id == principal.org_id,
                Approval.status == PENDING,
                Approval.expires_at > now,
            )
            .order_by(Approval.created_at)
            .limit(MAX_LISTED)
        )
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [ApprovalView(row, PENDING) for row in rows]

    async def get(self, principal: Principal, approval_id: str) -> ApprovalView:
        row = await self._find(principal, approval_id)
        if not principal.scopes & _OVERSEERS and row.requested_by != principal.token_id:
            raise NotFound(f"no approval '{approval_id}'")
        return await self._view(row)

    async def approve(
        self, principal: Principal, actor: Actor, approval_id: str
    ) -> ApprovalView:
        row = self._check_pending(await self._find(principal, approval_id))

        # The binding was proven (and the ticket spent) when the request was
        # held, so issuing for it needs no ticket now.
        issuer = Principal(
            principal.org_id, principal.token_id, frozenset({Scope.ISSUE_ANY})
        )
        issued = await self._certificates.issue(
            issuer,
            actor,
            IssueRequest(
                device_id=row.device_id,
                subject_cn=row.subject_cn,
                days=row.days,
                csr_pem=row.csr_pem,
                public_key_pem=row.public_key_pem,
                request_id=f"approval:{row.id}",
                approval_id=row.id,
            ),
        )
        row = await self._decide(actor, row.id, APPROVED, issued.row.serial)
        return ApprovalView(row, APPROVED, issued.row.cert_pem, issued.chain_pem)

    async def deny(
        self, principal: Principal, actor: Actor, approval_id: str
    ) -> ApprovalView:
        row = self._check_pending(await self._find(principal, approval_id))
        row = await self._decide(actor, row.id, DENIED, None)
        return ApprovalView(row, DENIED)

    async def _decide(
        self, actor: Actor, approval_id: str, status: str, serial: str | None
    ) -> Approval:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = await session.get(Approval, approval_id)
            assert row is not None  # found moments ago; approvals are never deleted
            if row.status != PENDING:
                # A concurrent decision won; an approval issues once (same
                # request id), so report what was decided first.
                return row
            row.status, row.serial = status, serial
            row.decided_at, row.decided_by = now, actor.token_id
            record(
                session,
                now,
                actor,
                f"approval.{'approve' if status == APPROVED else 'deny'}",
                status,
                device_id=row.device_id,
                serial=serial,
                approval_id=row.id,
            )
        log.info(
            "approval %s %s",
            approval_id,
            status,
            extra={ORG: row.org_id, DEVICE: row.device_id},
        )
        return row

    def _check_pending(self, row: Approval) -> Approval:
        status = status_of(row, self._clock.now())
        if status == EXPIRED:
            raise PreconditionFailed(
                "this approval has expired: the device must ask again",
                reason="APPROVAL_EXPIRED",
            )
        if status != PENDING:
            raise PreconditionFailed(
                f"this approval was already {status}", reason="APPROVAL_DECIDED"
            )
        return row

    async def _find(self, principal: Principal, approval_id: str) -> Approval:
        async with self._sessions() as session:
            row = await session.get(Approval, approval_id)
        if row is None or row.org_id != principal.org_id:
            raise NotFound(f"no approval '{approval_id}'")
        return row

    async def _view(self, row: Approval) -> ApprovalView:
        status = status_of(row, self._clock.now())
        if row.serial is None:
            return ApprovalView(row, status)
        async with self._sessions() as session:
            cert = await session.get(IssuedCertificate, row.serial)
        assert cert is not None  # the serial was stored after the certificate
        ca = await self._authorities.get(cert.ca_id)
        return ApprovalView(row, status, cert.cert_pem, ca.cert_pem)
