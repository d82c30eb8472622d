"""What happens to a device's certificates when its verified posture is lost."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clock
from aura_grpc.logfields import DEVICE, ORG
from aura_grpc.policy.service import PolicyService
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.certificates import CertificateService
from aura_grpc.store.models import IssuedCertificate

log = logging.getLogger(__name__)

REVOCATION_REASON = "privilege_withdrawn"


class PostureResponder:
    """Revokes or keeps the device's active certificates, as the org chose."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policies: PolicyService,
        certificates: CertificateService,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._policies = policies
        self._certificates = certificates
        self._clock = clock

    async def posture_lost(
        self, org_id: str, device_id: str, actor: Actor, failed_checks: list[str]
    ) -> None:
        action = (await self._policies.current(org_id)).on_posture_loss
        serials = await self._active_serials(org_id, device_id)

        # Revoked through CertificateService so every CA's CRL is re-signed.
        if action == "revoke":
            principal = Principal(org_id, actor.token_id or "", frozenset())
            for serial in serials:
                await self._certificates.revoke(
                    principal, actor, serial, REVOCATION_REASON
                )

        async with self._sessions.begin() as session:
            record(
                session,
                self._clock.now(),
                actor,
                "posture.lost",
                action,
                device_id=device_id,
                failed_checks=failed_checks,
                serials=serials,
            )
        log.warning(
            "device posture lost: %s %d certificate(s)",
            "revoked" if action == "revoke" else "kept",
            len(serials),
            extra={ORG: org_id, DEVICE: device_id},
        )

    async def _active_serials(self, org_id: str, device_id: str) -> list[str]:
        query = select(IssuedCertificate.serial).where(
            IssuedCertificate.org_id == org_id,
            IssuedCertificate.device_id == device_id,
            IssuedCertificate.revoked_at.is_(None),
            IssuedCertificate.not_after > self._clock.now(),
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())
