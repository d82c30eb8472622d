"""Single-use server nonces and issue tickets.

Both are random secrets stored only as SHA-256. Claiming one is a single
conditional UPDATE, so two workers racing for the same nonce cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from aura_grpc.errors import NonceInvalid, PreconditionFailed
from aura_grpc.store.models import IssueTicket, Nonce

NONCE_BYTES = 32


def _sha256(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def new_nonce(
    session: AsyncSession, org_id: str, now: datetime, ttl: timedelta
) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    session.add(
        Nonce(
            nonce_sha256=_sha256(nonce),
            org_id=org_id,
            expires_at=now + ttl,
            used_at=None,
        )
    )
    return nonce


def seed_nonce(
    session: AsyncSession, org_id: str, nonce: bytes, expires_at: datetime
) -> None:
    """Store a nonce the server did not draw (tests replaying recorded evidence)."""
    session.add(
        Nonce(nonce_sha256=_sha256(nonce), org_id=org_id, expires_at=expires_at)
    )


async def claim_nonce(
    session: AsyncSession, org_id: str, nonce: bytes, now: datetime
) -> None:
    """Mark the nonce used; refuse unknown, expired, used or other-org nonces alike."""
    result = await session.execute(
        update(Nonce)
        .where(
            Nonce.nonce_sha256 == _sha256(nonce),
            Nonce.org_id == org_id,
            Nonce.used_at.is_(None),
            Nonce.expires_at > now,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        raise NonceInvalid("the nonce is unknown, expired or already used")


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(
        delete(Nonce).where(Nonce.expires_at < now - timedelta(hours=1))
    )


def new_ticket(
    session: AsyncSession, org_id: str, device_id: str, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    ticket = secrets.token_urlsafe(32)
    expires_at = now + ttl
    session.add(
        IssueTicket(
            ticket_sha256=_sha256(ticket.encode()),
            org_id=org_id,
            device_id=device_id,
            expires_at=expires_at,
            used_at=None,
        )
    )
    return ticket, expires_at


async def claim_ticket(
    session: AsyncSession, org_id: str, device_id: str, ticket: str, now: datetime
) -> None:
    result = await session.execute(
        update(IssueTicket)
        .where(
            IssueTicket.ticket_sha256 == _sha256(ticket.encode()),
            IssueTicket.org_id == org_id,
            IssueTicket.device_id == device_id,
            IssueTicket.used_at.is_(None),
            IssueTicket.expires_at > now,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        raise PreconditionFailed(
            "the issue ticket is unknown, expired, used or for another device",
            reason="ISSUE_TICKET_INVALID",
        )
