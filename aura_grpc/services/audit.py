"""The append-only audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aura_grpc.store.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who caused an event: never a secret, only identifiers."""

    org_id: str | None
    token_id: str | None
    request_id: str = ""


def record(
    session: AsyncSession,
    at: datetime,
    actor: Actor,
    event: str,
    outcome: str,
    *,
    reason: str = "",
    device_id: str | None = None,
    serial: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit row to the session; it commits with the change it describes."""
    session.add(
        AuditEvent(
            at=at,
            event=event,
            outcome=outcome,
            reason=reason,
            org_id=actor.org_id,
            device_id=device_id,
            serial=serial,
            token_id=actor.token_id,
            request_id=actor.request_id[:64],
            detail=detail,
        )
    )
