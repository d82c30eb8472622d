"""Orgs and their bearer tokens."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.scopes import Scope
from aura_grpc.auth.tokens import (
    NewToken,
    Principal,
    digests_match,
    mint_token,
    split_bearer,
)
from aura_grpc.clock import Clock
from aura_grpc.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from aura_grpc.logfields import ORG, TOKEN_ID
from aura_grpc.services.audit import Actor, record
from aura_grpc.store.models import Org, Token

log = logging.getLogger(__name__)

PLATFORM_ORG = "platform"
_ORG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class OrgService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create_org(self, name: str, created_by: str | None = None) -> Org:
        if not _ORG_NAME.match(name):
            raise InvalidInput("org name must be 1-63 lowercase letters, digits or '-'")

        async with self._sessions.begin() as session:
            if await self._find(session, name) is not None:
                raise AlreadyExists(f"org '{name}' already exists")
            org = Org(
                id=f"org_{secrets.token_hex(8)}",
                name=name,
                device_id_key=secrets.token_bytes(32),
                disabled=False,
                created_at=self._clock.now(),
            )
            session.add(org)
            record(
                session,
                org.created_at,
                Actor(org.id, created_by),
                "org.create",
                "ok",
            )
        log.info("org created", extra={ORG: org.id})
        return org

    async def get_org(self, name: str) -> Org:
        async with self._sessions() as session:
            org = await self._find(session, name)
        if org is None:
            raise NotFound(f"no org named '{name}'")
        return org

    async def create_token(
        self,
        org_name: str,
        scopes: frozenset[Scope],
        label: str = "",
        expires_at: datetime | None = None,
        created_by: str | None = None,
    ) -> NewToken:
        if not scopes:
            raise InvalidInput("a token needs at least one scope")
        # Cross-org power lives in one reserved org, so no org admin can mint it.
        if Scope.PLATFORM in scopes and org_name != PLATFORM_ORG:
            raise InvalidInput(
                f"the platform scope is only for tokens of the '{PLATFORM_ORG}' org",
                reason="PLATFORM_ORG_ONLY",
            )

        org = await self.get_org(org_name)
        if org.disabled:
            raise PreconditionFailed(
                f"org '{org_name}' is disabled: its tokens would never work",
                reason="ORG_DISABLED",
            )
        token = mint_token()
        async with self._sessions.begin() as session:
            now = self._clock.now()
            session.add(
                Token(
                    id=token.token_id,
                    org_id=org.id,
                    secret_sha256=token.secret_sha256,
                    scopes=",".join(sorted(scopes)),
                    label=label[:200],
                    created_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                )
            )
            record(
                session,
                now,
                Actor(org.id, token.token_id),
                "token.create",
                "ok",
                scopes=sorted(scopes),
                label=label[:200],
                expires_at=expires_at.isoformat() if expires_at else None,
                created_by=created_by,
            )
        log.info("token created", extra={ORG: org.id, TOKEN_ID: token.token_id})
        return token

    async def authenticate(self, bearer: str) -> Principal:
        """The principal behind a bearer token, or Unauthenticated (one message for
        every failure, so a caller learns nothing about which part was wrong)."""
        parsed = split_bearer(bearer)
        if parsed is None:
            raise Unauthenticated("invalid or missing bearer token")

        token_id, digest = parsed
        query = (
            select(Token.org_id, Token.secret_sha256, Token.scopes, Token.expires_at)
            .join(Org, Org.id == Token.org_id)
            .where(Token.id == token_id, Token.revoked_at.is_(None), ~Org.disabled)
        )
        async with self._sessions() as session:
            row = (await session.execute(query)).first()

        now = self._clock.now()
        usable = row is not None and (row.expires_at is None or row.expires_at > now)
        if not usable or row is None or not digests_match(row.secret_sha256, digest):
            raise Unauthenticated("invalid or missing bearer token")
        scopes = frozenset(Scope(s) for s in row.scopes.split(",") if s)
        return Principal(org_id=row.org_id, token_id=token_id, scopes=scopes)

    @staticmethod
    async def _find(session: AsyncSession, name: str) -> Org | None:
        return (await session.scalars(select(Org).where(Org.name == name))).first()
