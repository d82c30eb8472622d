"""What CertificateService needs from a policy gate, without importing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from aura_grpc.auth.tokens import Principal
    from aura_grpc.ca.requested_key import RequestedKey
    from aura_grpc.services.audit import Actor
    from aura_grpc.services.certificates import IssueRequest
    from aura_grpc.store.models import Device


# Adds the gate's audit row to the issuance's own transaction.
AuditWriter = Callable[["AsyncSession"], None]


class IssuanceGate(Protocol):
    async def check(
        self,
        principal: Principal,
        actor: Actor,
        device: Device,
        request: IssueRequest,
        key: RequestedKey,
    ) -> AuditWriter | None:
        """Return to let issuance go on, optionally with an audit row to write
        beside the certificate; raise an AuraError to stop it."""


class PostureHook(Protocol):
    async def posture_lost(
        self, org_id: str, device_id: str, actor: Actor, failed_checks: list[str]
    ) -> None:
        """Called once a device's new, verified evidence failed appraisal."""
