"""The append-only audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aura_grpc import metrics
from aura_grpc.store.models import AuditEvent

# Audit rows waiting for their transaction to commit before they are counted.
_PENDING = "aura_audit_pending"


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
    row = AuditEvent(
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
    session.add(row)
    session.sync_session.info.setdefault(_PENDING, []).append(row)


@orm_event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for row in session.info.pop(_PENDING, []):
        metrics.count_event(row.event, row.outcome, row.reason, row.detail)


@orm_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
