"""Builds the policy parts the backend wires into issuance and attestation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.policy import ApprovalServicer, PolicyServicer
from aura_grpc.clock import Clock
from aura_grpc.config import Settings
from aura_grpc.gen.aura.v2 import policy_pb2, policy_pb2_grpc
from aura_grpc.policy.approvals import ApprovalService
from aura_grpc.policy.engine import PolicyEngine
from aura_grpc.policy.gate import PolicyGate
from aura_grpc.policy.posture import PostureResponder
from aura_grpc.policy.service import PolicyService
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.certificates import CertificateService

SERVICE_NAMES = tuple(
    policy_pb2.DESCRIPTOR.services_by_name[name].full_name
    for name in ("PolicyService", "ApprovalService")
)


@dataclass
class PolicyParts:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    policies: PolicyService
    gate: PolicyGate
    engine: PolicyEngine = field(repr=False)

    @classmethod
    def build(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
    ) -> PolicyParts:
        engine = PolicyEngine()
        policies = PolicyService(sessions, engine, clock, settings.profile)
        ttl = timedelta(hours=settings.approval_ttl_hours)
        gate = PolicyGate(sessions, policies, clock, ttl)
        return cls(sessions, clock, policies, gate, engine)

    def responder(self, certificates: CertificateService) -> PostureResponder:
        return PostureResponder(self.sessions, self.policies, certificates, self.clock)

    def add_servicers(
        self,
        server: grpc.aio.Server,
        guard: CallGuard,
        certificates: CertificateService,
        authorities: AuthorityService,
    ) -> None:
        approvals = ApprovalService(
            self.sessions, certificates, authorities, self.clock
        )
        # The generated registration helpers carry no type hints.
        add_policy = policy_pb2_grpc.add_PolicyServiceServicer_to_server
        add_approvals = policy_pb2_grpc.add_ApprovalServiceServicer_to_server
        add_policy(PolicyServicer(guard, self.policies), server)  # type: ignore[no-untyped-call]
        add_approvals(ApprovalServicer(guard, approvals), server)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.engine.close()
