"""Revoking many certificates at once: a device's, or a whole org's.

One transaction marks them all and writes one audit row per certificate; each
CA involved then re-signs its CRL once, not once per certificate.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aura_grpc.logfields import DEVICE, ORG, SERIAL
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.store.models import IssuedCertificate

log = logging.getLogger(__name__)


async def mark_revoked(
    session: AsyncSession,
    actor: Actor,
    now: datetime,
    reason: str,
    org_id: str,
    device_id: str | None = None,
) -> list[IssuedCertificate]:
    """Mark the unrevoked, unexpired certificates revoked inside `session`."""
    table = IssuedCertificate
    query = select(table).where(
        table.org_id == org_id, table.revoked_at.is_(None), table.not_after > now
    )
    if device_id is not None:
        query = query.where(table.device_id == device_id)
    rows = list((await session.scalars(query)).all())

    for row in rows:
        revoke_row(session, actor, now, reason, row, bulk=True)
    return rows


def revoke_row(
    session: AsyncSession,
    actor: Actor,
    now: datetime,
    reason: str,
    row: IssuedCertificate,
    *,
    bulk: bool = False,
) -> None:
    """Mark one certificate revoked and audit it, in the caller's transaction."""
    row.revoked_at = now
    row.revocation_reason = reason
    record(
        session,
        now,
        actor,
        "cert.revoke",
        "ok",
        device_id=row.device_id,
        serial=row.serial,
        revocation_reason=reason,
        bulk=bulk,
    )


async def publish(authorities: AuthorityService, rows: list[IssuedCertificate]) -> None:
    """After the commit: new CRLs for the CAs involved, and one log line each."""
    for ca_id in sorted({row.ca_id for row in rows}):
        await authorities.resign_crl(ca_id)
    for row in rows:
        log.info(
            "certificate revoked",
            extra={ORG: row.org_id, DEVICE: row.device_id, SERIAL: row.serial},
        )
