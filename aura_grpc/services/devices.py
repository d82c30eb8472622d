"""Devices for operators: list, history, forget, revoke a device's certificates."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.tokens import Principal
from aura_grpc.ca import serials
from aura_grpc.ca.crl import parse_reason
from aura_grpc.clock import Clock
from aura_grpc.errors import InvalidInput, NotFound
from aura_grpc.logfields import DEVICE, ORG
from aura_grpc.policy.gate import PENDING
from aura_grpc.services import revocation
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.store.models import (
    Approval,
    Attestation,
    Device,
    IssuedCertificate,
    IssueTicket,
)

log = logging.getLogger(__name__)

DEFAULT_PAGE = 50
MAX_PAGE = 500
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class DeviceRow:
    device: Device
    stale: bool
    active_certificates: int


@dataclass(frozen=True)
class DevicePage:
    rows: Sequence[DeviceRow]
    next_page_token: str


@dataclass(frozen=True)
class History:
    summary: DeviceRow
    attestations: Sequence[Attestation]
    certificates: Sequence[IssuedCertificate]


class DeviceAdministration:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        authorities: AuthorityService,
        clock: Clock,
        freshness: timedelta,
    ) -> None:
        self._sessions = sessions
        self._authorities = authorities
        self._clock = clock
        self._freshness = freshness

    async def list_devices(
        self, principal: Principal, page_size: int, page_token: str
    ) -> DevicePage:
        if not 0 <= page_size <= MAX_PAGE:
            raise InvalidInput(f"page_size must be 1 to {MAX_PAGE}")
        size = page_size or DEFAULT_PAGE

        query = select(Device).where(Device.org_id == principal.org_id)
        if page_token:
            query = query.where(Device.id > page_token)
        query = query.order_by(Device.id).limit(size + 1)
        async with self._sessions() as session:
            devices = list((await session.scalars(query)).all())
            rows = [await self._summary(session, d) for d in devices[:size]]
        token = devices[size - 1].id if len(devices) > size else ""
        return DevicePage(rows, token)

    async def history(self, principal: Principal, device_id: str) -> History:
        async with self._sessions() as session:
            device = await self._owned(session, principal, device_id)
            attestations = (
                await session.scalars(
                    select(Attestation)
                    .where(Attestation.device_id == device.id)
                    .order_by(Attestation.id.desc())
                    .limit(HISTORY_LIMIT)
                )
            ).all()
            certificates = (
                await session.scalars(
                    select(IssuedCertificate)
                    .where(IssuedCertificate.device_id == device.id)
                    .order_by(IssuedCertificate.created_at.desc())
                )
            ).all()
            summary = await self._summary(session, device)
        return History(summary, attestations, certificates)

    async def revoke_certificates(
        self, principal: Principal, actor: Actor, device_id: str, reason_text: str
    ) -> list[str]:
        reason = parse_reason(reason_text)
        now = self._clock.now()
        async with self._sessions.begin() as session:
            device = await self._owned(session, principal, device_id)
            rows = await revocation.mark_revoked(
                session, actor, now, reason, principal.org_id, device.id
            )
        await revocation.publish(self._authorities, rows)
        return [row.serial for row in rows]

    async def forget(
        self, principal: Principal, actor: Actor, device_id: str
    ) -> list[str]:
        """Revoke, then drop what made the device trusted: its attestation
        history, unused tickets and pending approvals. The row itself stays (its
        certificates name it) with posture_ok false until it attests again."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            device = await self._owned(session, principal, device_id)
            rows = await revocation.mark_revoked(
                session,
                actor,
                now,
                "cessation_of_operation",
                principal.org_id,
                device.id,
            )
            await _drop_history(session, device.id, now, actor.token_id)
            device.posture = {"forgotten_at": now.isoformat(), "posture_ok": False}
            device.posture_ok = False
            device.bound_key_spki = None
            record(
                session,
                now,
                actor,
                "device.forget",
                "ok",
                device_id=device.id,
                revoked_certificates=len(rows),
            )
        await revocation.publish(self._authorities, rows)
        log.info("device forgotten", extra={ORG: principal.org_id, DEVICE: device_id})
        return [row.serial for row in rows]

    async def certificate(
        self, principal: Principal, serial_text: str
    ) -> IssuedCertificate:
        serial = serials.normalise(serial_text)
        async with self._sessions() as session:
            row = await session.get(IssuedCertificate, serial)
        if row is None or row.org_id != principal.org_id:
            raise NotFound(f"no certificate with serial '{serial}'")
        return row

    async def _summary(self, session: AsyncSession, device: Device) -> DeviceRow:
        now = self._clock.now()
        active = await session.scalar(
            select(func.count())
            .select_from(IssuedCertificate)
            .where(
                IssuedCertificate.device_id == device.id,
                IssuedCertificate.revoked_at.is_(None),
                IssuedCertificate.not_after > now,
            )
        )
        stale = now - device.last_attested_at > self._freshness
        return DeviceRow(device, stale, int(active or 0))

    @staticmethod
    async def _owned(
        session: AsyncSession, principal: Principal, device_id: str
    ) -> Device:
        device = await session.get(Device, device_id) if device_id else None
        if device is None or device.org_id != principal.org_id:
            raise NotFound(f"no device '{device_id}'")
        return device


async def _drop_history(
    session: AsyncSession, device_id: str, now: datetime, decided_by: str | None
) -> None:
    await session.execute(delete(Attestation).where(Attestation.device_id == device_id))
    await session.execute(
        delete(IssueTicket).where(
            IssueTicket.device_id == device_id, IssueTicket.used_at.is_(None)
        )
    )
    pending = await session.scalars(
        select(Approval).where(
            Approval.device_id == device_id, Approval.status == PENDING
        )
    )
    for approval in pending:
        approval.status = "denied"
        approval.decided_at = now
        approval.decided_by = decided_by or "forget"
