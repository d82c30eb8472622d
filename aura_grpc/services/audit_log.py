"""Reading the audit trail: filters and a keyset cursor on the row id.

The cursor is the last id seen, so a reader polling with it (`aura audit tail`)
sees every new row exactly once, however many arrive between polls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.ca import serials
from aura_grpc.errors import InvalidInput
from aura_grpc.store.models import AuditEvent

DEFAULT_PAGE = 100
MAX_PAGE = 1000


@dataclass(frozen=True)
class AuditQuery:
    org_id: str
    event: str = ""
    device_id: str = ""
    serial: str = ""
    since: str = ""
    page_size: int = 0
    page_token: str = ""
    newest_first: bool = False


@dataclass(frozen=True)
class AuditPage:
    rows: Sequence[AuditEvent]
    next_page_token: str


def _parse_since(text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput("since must be an RFC 3339 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_cursor(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("page_token is not one this server gave out")
    return int(text)


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def query(self, wanted: AuditQuery) -> AuditPage:
        if not 0 <= wanted.page_size <= MAX_PAGE:
            raise InvalidInput(f"page_size must be 1 to {MAX_PAGE}")
        size = wanted.page_size or DEFAULT_PAGE
        since = _parse_since(wanted.since)
        cursor = _parse_cursor(wanted.page_token)
        table = AuditEvent

        query = select(table).where(table.org_id == wanted.org_id)
        if wanted.event.endswith("."):
            query = query.where(table.event.startswith(wanted.event, autoescape=True))
        elif wanted.event:
            query = query.where(table.event == wanted.event)
        if wanted.device_id:
            query = query.where(table.device_id == wanted.device_id)
        if wanted.serial:
            query = query.where(table.serial == serials.normalise(wanted.serial))
        if since is not None:
            query = query.where(table.at >= since)
        if wanted.newest_first:
            if cursor is not None:
                query = query.where(table.id < cursor)
            query = query.order_by(table.id.desc())
        else:
            if cursor is not None:
                query = query.where(table.id > cursor)
            query = query.order_by(table.id)

        async with self._sessions() as session:
            rows = list((await session.scalars(query.limit(size))).all())
        token = str(rows[-1].id) if rows else ""
        return AuditPage(rows, token)
