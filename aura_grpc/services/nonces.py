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
    session: AsyncSession,
    org_id: str,
    now: datetime,
    ttl: timedelta,
    *,
    binding: bytes | None = None,
) -> bytes:
    """A fresh nonce; `binding` restricts it to one TPM and AK (see activation)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    session.add(
        Nonce(
            nonce_sha256=_sha256(nonce),
            org_id=org_id,
            expires_at=now + ttl,
            used_at=None,
            binding=binding,
        )
    )
    return nonce


def seed_nonce(
    session: AsyncSession,
    org_id: str,
    nonce: bytes,
    expires_at: datetime,
    *,
    binding: bytes | None = None,
) -> None:
    """Store a nonce drawn elsewhere: a credential-activation secret (with its
    binding), or recorded evidence's nonce in tests."""
    session.add(
        Nonce(
            nonce_sha256=_sha256(nonce),
            org_id=org_id,
            expires_at=expires_at,
            binding=binding,
        )
    )


async def claim_nonce(
    session: AsyncSession, org_id: str, nonce: bytes, now: datetime
) -> bytes | None:
    """Mark the nonce used; refuse unknown, expired, used or other-org nonces alike.

    Returns the nonce's binding (None for a plain challenge nonce).
    """
    result = await session.execute(
        update(Nonce)
        .where(
            Nonce.nonce_sha256 == _sha256(nonce),
            Nonce.org_id == org_id,
            Nonce.used_at.is_(None),
            Nonce.expires_at > now,
        )
        .values(used_at=now)
        .returning(Nonce.binding)
    )
    claimed = result.all()
    if len(claimed) != 1:
        raise NonceInvalid("the nonce is unknown, expired or already used")
    binding: bytes | None = claimed[0].binding
    return binding


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
