"""Who is calling, checked against the method's scopes."""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc.api.status import request_id_of
from aura_grpc.auth.scopes import CERTIFICATE_METHODS, METHOD_SCOPES
from aura_grpc.auth.tokens import Principal
from aura_grpc.errors import PermissionDenied, Unauthenticated
from aura_grpc.services.audit import Actor
from aura_grpc.services.identities import DeviceIdentities, DeviceIdentity
from aura_grpc.services.orgs import OrgService
from aura_grpc.services.ratelimit import RateLimiter


def _bearer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    raise Unauthenticated("invalid or missing bearer token")


# Set by Envoy's device listener only (it overwrites any client copy; the API
# listener strips them), so their presence means Envoy verified a certificate.
PEER_SERIAL = "x-aura-peer-serial"
CLIENT_CERT = "x-forwarded-client-cert"
# The caller's address, set (overwritten) by Envoy on both listeners.
SOURCE = "x-aura-source"


def _source(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == SOURCE:
            return str(value)[:64]
    return ""


def _peer_certificate(context: grpc.aio.ServicerContext[Any, Any]) -> tuple[str, str]:
    serial = fingerprint = ""
    for key, value in context.invocation_metadata() or ():
        if key == PEER_SERIAL:
            serial = str(value)
        elif key == CLIENT_CERT:
            fields = (part.partition("=") for part in str(value).split(";"))
            fingerprint = next((v for k, _, v in fields if k == "Hash"), "")
    if not serial or not fingerprint:
        raise Unauthenticated(
            "call this on the device listener with a client certificate",
            reason="CLIENT_CERT_MISSING",
        )
    return serial, fingerprint


class CallGuard:
    """Authenticates the bearer token and checks the scopes for a method."""

    def __init__(
        self,
        orgs: OrgService,
        identities: DeviceIdentities | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._orgs = orgs
        self._identities = identities
        self._limiter = limiter

    async def principal(
        self, context: grpc.aio.ServicerContext[Any, Any], method: str
    ) -> Principal:
        # The address first: a flood of bad tokens is refused before lookups.
        if self._limiter is not None:
            self._limiter.check_source(method, _source(context))
        principal = await self._orgs.authenticate(_bearer(context))
        if not principal.scopes & METHOD_SCOPES[method]:
            raise PermissionDenied(
                f"this token's scopes do not allow {method.rsplit('/', 1)[-1]}"
            )

        if self._limiter is not None:
            self._limiter.check_org(method, principal.org_id)
        return principal

    async def device_identity(
        self, context: grpc.aio.ServicerContext[Any, Any], method: str
    ) -> DeviceIdentity:
        """No bearer token: the caller is the client certificate Envoy verified."""
        if method not in CERTIFICATE_METHODS or self._identities is None:
            raise PermissionDenied(f"{method} is not a certificate-authenticated call")
        if self._limiter is not None:
            self._limiter.check_source(method, _source(context))
        serial, fingerprint = _peer_certificate(context)
        identity = await self._identities.resolve(serial, fingerprint)

        if self._limiter is not None:
            self._limiter.check_org(method, identity.org_id)
        return identity

    @staticmethod
    def device_principal(identity: DeviceIdentity, method: str) -> Principal:
        """The org-scoped principal a certificate acts as for `method`."""
        return Principal(identity.org_id, "", METHOD_SCOPES[method])

    @staticmethod
    def actor(
        principal: Principal, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Actor:
        return Actor(principal.org_id, principal.token_id, request_id_of(context))
