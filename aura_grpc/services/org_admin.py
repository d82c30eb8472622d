"""Operating several orgs: list and disable orgs, list and revoke tokens.

Disabling an org revokes its certificates (they land in its CAs' CRLs, which
keep being published) and its tokens stop authenticating at once, because
`OrgService.authenticate` joins on the org and refuses disabled ones. The CA
stays in the trust bundle so relying parties keep getting fresh CRLs for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.scopes import Scope
from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clock
from aura_grpc.errors import NotFound, PermissionDenied, PreconditionFailed
from aura_grpc.logfields import ORG, TOKEN_ID
from aura_grpc.services import revocation
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.orgs import PLATFORM_ORG
from aura_grpc.store.models import IssuedCertificate, Org, Token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenView:
    row: Token
    org_name: str
    status: str


def token_status(row: Token, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


class OrgAdministration:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        authorities: AuthorityService,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._authorities = authorities
        self._clock = clock

    async def target_org(self, principal: Principal, name: str) -> Org:
        """The org a request acts on: the caller's, or another for `platform`."""
        async with self._sessions() as session:
            if not name:
                org = await session.get(Org, principal.org_id)
            else:
                org = await _by_name(session, name)
        if org is not None and org.id == principal.org_id:
            return org
        if Scope.PLATFORM not in principal.scopes:
            raise PermissionDenied("acting on another org needs the platform scope")
        if org is None:
            raise NotFound(f"no org named '{name}'")
        return org

    async def list_orgs(self) -> list[Org]:
        async with self._sessions() as session:
            return list((await session.scalars(select(Org).order_by(Org.name))).all())

    async def disable_org(
        self, actor: Actor, name: str
    ) -> tuple[Org, list[IssuedCertificate]]:
        if name == PLATFORM_ORG:
            raise PreconditionFailed(
                "the platform org cannot be disabled", reason="ORG_PROTECTED"
            )
        now = self._clock.now()

        async with self._sessions.begin() as session:
            org = await _by_name(session, name)
            if org is None:
                raise NotFound(f"no org named '{name}'")
            if org.disabled:
                return org, []  # the first disabling stands
            org.disabled = True
            org_actor = Actor(org.id, actor.token_id, actor.request_id)
            rows = await revocation.mark_revoked(
                session, org_actor, now, "cessation_of_operation", org.id
            )
            record(
                session,
                now,
                org_actor,
                "org.disable",
                "ok",
                by_org_id=actor.org_id,
                revoked_certificates=len(rows),
            )

        await revocation.publish(self._authorities, rows)
        log.info("org disabled", extra={ORG: org.id})
        return org, rows

    async def list_tokens(self, org: Org, include_revoked: bool) -> list[TokenView]:
        query = select(Token).where(Token.org_id == org.id).order_by(Token.created_at)
        if not include_revoked:
            query = query.where(Token.revoked_at.is_(None))
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        now = self._clock.now()
        return [TokenView(row, org.name, token_status(row, now)) for row in rows]

    async def get_token(self, token_id: str) -> TokenView:
        async with self._sessions() as session:
            row = await session.get(Token, token_id)
            org = await session.get(Org, row.org_id) if row is not None else None
        if row is None or org is None:
            raise NotFound(f"no token '{token_id}'")
        return TokenView(row, org.name, token_status(row, self._clock.now()))

    async def revoke_token(
        self, principal: Principal, actor: Actor, token_id: str
    ) -> TokenView:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = await session.get(Token, token_id)
            mine = row is not None and row.org_id == principal.org_id
            if row is None or not (mine or Scope.PLATFORM in principal.scopes):
                raise NotFound(f"no token '{token_id}'")
            if row.revoked_at is None:
                row.revoked_at = now
                record(
                    session,
                    now,
                    Actor(row.org_id, actor.token_id, actor.request_id),
                    "token.revoke",
                    "ok",
                    revoked_token_id=token_id,
                )
        log.info("token revoked", extra={ORG: row.org_id, TOKEN_ID: token_id})
        return await self.get_token(token_id)


async def _by_name(session: AsyncSession, name: str) -> Org | None:
    return (await session.scalars(select(Org).where(Org.name == name))).first()
