"""Refreshes the fleet gauges (stale devices, CRL lifetimes) for /metrics."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.clock import Clock
from aura_grpc.metrics import FLEET, FleetSnapshot
from aura_grpc.services.authorities import ACTIVE, RETIRING
from aura_grpc.store.models import CertificateAuthority, Device

log = logging.getLogger(__name__)


async def refresh(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, freshness: timedelta
) -> FleetSnapshot:
    cutoff = clock.now() - freshness
    async with sessions() as session:
        stale = await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.last_attested_at < cutoff)
        )
        crls = await session.execute(
            select(
                CertificateAuthority.id,
                CertificateAuthority.org_id,
                CertificateAuthority.crl_next_update,
            ).where(CertificateAuthority.status.in_([ACTIVE, RETIRING]))
        )
        next_updates = {
            (ca_id, org_id): at for ca_id, org_id, at in crls if at is not None
        }
    FLEET.clock = clock
    FLEET.snapshot = FleetSnapshot(int(stale or 0), next_updates, True)
    return FLEET.snapshot


async def keep_fresh(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    freshness: timedelta,
    interval: float,
) -> None:
    while True:
        try:
            await refresh(sessions, clock, freshness)
        except Exception:
            # Metrics must never take the service down; the next round retries.
            log.exception("refreshing the fleet gauges failed; will retry")
        await asyncio.sleep(interval)
