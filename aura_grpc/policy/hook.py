"""What CertificateService needs from a policy gate, without importing it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aura_grpc.auth.tokens import Principal
    from aura_grpc.ca.requested_key import RequestedKey
    from aura_grpc.services.audit import Actor
    from aura_grpc.services.certificates import IssueRequest
    from aura_grpc.store.models import Device


class IssuanceGate(Protocol):
    async def check(
        self,
        principal: Principal,
        actor: Actor,
        device: Device,
        request: IssueRequest,
        key: RequestedKey,
    ) -> None:
        """Return to let issuance go on; raise an AuraError to stop it."""


class PostureHook(Protocol):
    async def posture_lost(
        self, org_id: str, device_id: str, actor: Actor, failed_checks: list[str]
    ) -> None:
        """Called once a device's new, verified evidence failed appraisal."""
