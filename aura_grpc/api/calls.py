"""Who is calling, checked against the method's scopes."""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc.api.status import request_id_of
from aura_grpc.auth.scopes import METHOD_SCOPES
from aura_grpc.auth.tokens import Principal
from aura_grpc.errors import PermissionDenied, Unauthenticated
from aura_grpc.services.audit import Actor
from aura_grpc.services.orgs import OrgService


def _bearer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    raise Unauthenticated("invalid or missing bearer token")


class CallGuard:
    """Authenticates the bearer token and checks the scopes for a method."""

    def __init__(self, orgs: OrgService) -> None:
        self._orgs = orgs

    async def principal(
        self, context: grpc.aio.ServicerContext[Any, Any], method: str
    ) -> Principal:
        principal = await self._orgs.authenticate(_bearer(context))
        if not principal.scopes & METHOD_SCOPES[method]:
            raise PermissionDenied(
                f"this token's scopes do not allow {method.rsplit('/', 1)[-1]}"
            )
        return principal

    @staticmethod
    def actor(
        principal: Principal, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Actor:
        return Actor(principal.org_id, principal.token_id, request_id_of(context))
