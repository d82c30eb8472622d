"""Wires the device edge into the backend: SDS, ext_authz and DeviceService."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import grpc
from envoy.service.auth.v3 import external_auth_pb2_grpc
from envoy.service.secret.v3 import sds_pb2_grpc
from grpc_health.v1 import health, health_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.device import DeviceServicer
from aura_grpc.clock import Clock
from aura_grpc.edge.authz import DeviceAuthorizer
from aura_grpc.edge.publisher import TrustPublisher
from aura_grpc.edge.sds import HEALTH_NAME, SecretDiscovery
from aura_grpc.gen.aura.v2 import device_pb2, device_pb2_grpc
from aura_grpc.services.attestation import AttestationService
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.certificates import CertificateService
from aura_grpc.services.identities import DeviceIdentities

SERVICE_NAMES = (device_pb2.DESCRIPTOR.services_by_name["DeviceService"].full_name,)


@dataclass
class EdgeParts:
    publisher: TrustPublisher
    identities: DeviceIdentities
    sds: SecretDiscovery | None = None
    authorizer: DeviceAuthorizer | None = None

    @classmethod
    def build(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        authorities: AuthorityService,
        issuing_clock: Clock,
    ) -> EdgeParts:
        publisher = TrustPublisher(sessions, authorities)
        authorities.add_observer(publisher.on_ca_changed)
        return cls(publisher, DeviceIdentities(sessions, issuing_clock))

    def add_servicers(
        self,
        server: grpc.aio.Server,
        guard: CallGuard,
        attestation: AttestationService,
        certificates: CertificateService,
        checker: health.aio.HealthServicer,
    ) -> None:
        self.sds = SecretDiscovery(self.publisher, _health_setter(checker))
        self.authorizer = DeviceAuthorizer(self.publisher)
        sds_pb2_grpc.add_SecretDiscoveryServiceServicer_to_server(self.sds, server)
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(
            self.authorizer, server
        )
        add_device = device_pb2_grpc.add_DeviceServiceServicer_to_server
        add_device(DeviceServicer(guard, attestation, certificates), server)  # type: ignore[no-untyped-call]
        # Until Envoy ACKs a bundle the edge is not known to be enforcing.
        _health_setter(checker)(HEALTH_NAME, False)

    def tasks(
        self, poll_seconds: float, watch_seconds: float = 0.25
    ) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        return [
            lambda: self.publisher.poll(poll_seconds),
            lambda: self.publisher.watch(watch_seconds),
        ]


def _health_setter(checker: health.aio.HealthServicer) -> Callable[[str, bool], None]:
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING

    pending: set[asyncio.Task[None]] = set()

    def set_health(name: str, healthy: bool) -> None:
        status = serving if healthy else not_serving
        # Held until done: the loop keeps only weak references to tasks.
        task = asyncio.get_running_loop().create_task(checker.set(name, status))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return set_health
