"""Assemble and run the gRPC backend that only Envoy can reach."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aura_grpc import limits
from aura_grpc.api.attest import AttestServicer
from aura_grpc.api.calls import CallGuard
from aura_grpc.api.certs import CertServicer
from aura_grpc.api.decoding import DecodeErrorInterceptor
from aura_grpc.api.meta import MetaServicer
from aura_grpc.attestation.base import background_tasks_of
from aura_grpc.attestation.registry import VerifierRegistry
from aura_grpc.ca.signers.factory import key_backend_from
from aura_grpc.clock import Clocks
from aura_grpc.config import Settings
from aura_grpc.edge.wiring import SERVICE_NAMES as EDGE_SERVICE_NAMES
from aura_grpc.edge.wiring import EdgeParts
from aura_grpc.gen.aura.v2 import (
    attest_pb2,
    attest_pb2_grpc,
    certs_pb2,
    certs_pb2_grpc,
    meta_pb2,
    meta_pb2_grpc,
)
from aura_grpc.ops_wiring import SERVICE_NAMES as OPS_SERVICE_NAMES
from aura_grpc.ops_wiring import OperationsParts
from aura_grpc.policy.wiring import SERVICE_NAMES as POLICY_SERVICE_NAMES
from aura_grpc.policy.wiring import PolicyParts
from aura_grpc.services.attestation import AttestationService
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.certificates import CertificateService
from aura_grpc.services.orgs import OrgService
from aura_grpc.services.ratelimit import RateLimiter
from aura_grpc.store import db

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    attest_pb2.DESCRIPTOR.services_by_name["AttestService"].full_name,
    certs_pb2.DESCRIPTOR.services_by_name["CertService"].full_name,
    meta_pb2.DESCRIPTOR.services_by_name["MetaService"].full_name,
    *POLICY_SERVICE_NAMES,
    *EDGE_SERVICE_NAMES,
    *OPS_SERVICE_NAMES,
)


@dataclass
class Backend:
    """Everything with state: settings, database, verifiers and the gRPC server."""

    settings: Settings
    clocks: Clocks = field(default_factory=Clocks)
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    server: grpc.aio.Server | None = None
    registry: VerifierRegistry | None = None
    authorities: AuthorityService | None = None
    policy: PolicyParts | None = None
    operations: OperationsParts | None = None
    edge: EdgeParts | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def open_database(self) -> async_sessionmaker[AsyncSession]:
        self.engine = db.create_engine(self.settings.resolved_database_url)
        await db.migrate(self.engine)
        self.sessions = db.sessionmaker(self.engine)
        return self.sessions

    def orgs(self) -> OrgService:
        assert self.sessions is not None, "open_database() first"
        return OrgService(self.sessions, self.clocks.issuing)

    def authority_service(self) -> AuthorityService:
        assert self.sessions is not None, "open_database() first"
        if self.authorities is None:
            self.authorities = AuthorityService(
                self.sessions,
                key_backend_from(self.settings),
                self.clocks.issuing,
                timedelta(hours=self.settings.crl_period_hours),
                create_on_first_use=self.settings.profile == "dev",
                key_algorithm=self.settings.ca_key_algorithm,
                required_key_scheme=(
                    "pkcs11" if self.settings.profile == "prod" else None
                ),
            )
        return self.authorities

    async def start(self) -> str:
        """Open the database, bind the socket and serve; returns the address."""
        sessions = self.sessions or await self.open_database()
        self.registry = VerifierRegistry.build(
            self.settings.profile,
            self.settings.verifiers.options,
            self.settings.verifiers.extra,
        )
        authorities = self.authority_service()
        self.edge = EdgeParts.build(sessions, authorities, self.clocks.issuing)
        guard = CallGuard(
            self.orgs(), self.edge.identities, RateLimiter.from_settings(self.settings)
        )
        self.policy = PolicyParts.build(sessions, self.settings, self.clocks.issuing)
        certificates = CertificateService(
            sessions, authorities, self.settings, self.clocks.issuing, self.policy.gate
        )
        attestation = AttestationService(
            sessions,
            self.registry,
            self.settings,
            self.clocks,
            self.policy.responder(certificates),
        )

        self.server = grpc.aio.server(
            interceptors=[DecodeErrorInterceptor()],
            options=[
                ("grpc.max_receive_message_length", limits.MAX_BACKEND_MESSAGE),
                ("grpc.max_metadata_size", limits.MAX_BACKEND_METADATA),
            ],
        )
        # The generated registration helpers carry no type hints.
        add_attest = attest_pb2_grpc.add_AttestServiceServicer_to_server
        add_certs = certs_pb2_grpc.add_CertServiceServicer_to_server
        add_attest(AttestServicer(guard, attestation), self.server)  # type: ignore[no-untyped-call]
        cert_servicer = CertServicer(
            guard, certificates, authorities, self.clocks.issuing
        )
        add_certs(cert_servicer, self.server)  # type: ignore[no-untyped-call]
        self.policy.add_servicers(self.server, guard, certificates, authorities)
        self.operations = OperationsParts(self.settings, sessions, self.clocks.issuing)
        self.operations.add_servicers(self.server, guard, self.orgs(), authorities)
        add_meta = meta_pb2_grpc.add_MetaServiceServicer_to_server
        add_meta(MetaServicer(), self.server)  # type: ignore[no-untyped-call]
        checker = self._add_health_and_reflection(self.server)
        self.edge.add_servicers(self.server, guard, attestation, certificates, checker)

        # Envoy's first SDS request must get the real bundle, not the placeholder.
        await self.edge.publisher.refresh()
        address = self._bind(self.server)
        await self.server.start()
        self.operations.start_metrics()
        for ops_task in self.operations.tasks():
            self._tasks.append(asyncio.create_task(ops_task()))
        edge_tasks = self.edge.tasks(
            self.settings.edge_poll_seconds, self.settings.edge_watch_seconds
        )
        for edge_task in edge_tasks:
            self._tasks.append(asyncio.create_task(edge_task()))
        self._tasks.append(asyncio.create_task(self._keep_crls_fresh(authorities)))
        for verifier_name in self.registry.types():
            for task in background_tasks_of(self.registry.get(verifier_name)):
                self._tasks.append(asyncio.create_task(task()))
        log.info("backend listening on %s", address)
        return address

    async def stop(self, grace: float = 1.0) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.server is not None:
            await self.server.stop(grace)
        if self.engine is not None:
            await self.engine.dispose()
        if self.authorities is not None:
            self.authorities.close()
        if self.policy is not None:
            self.policy.close()
        if self.operations is not None:
            self.operations.close()

    async def _keep_crls_fresh(self, authorities: AuthorityService) -> None:
        while True:
            try:
                await authorities.resign_due_crls()
            except Exception:
                # Keep trying: a CRL that lapses locks every client out.
                log.exception("re-signing due CRLs failed; will retry")
            await asyncio.sleep(self.settings.crl_check_seconds)

    def _bind(self, server: grpc.aio.Server) -> str:
        # A Unix socket only this user can open: no other local process can call
        # the backend directly and forge the identity headers Envoy sets.
        path = Path(self.settings.resolved_backend_socket)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)
        try:
            server.add_insecure_port(f"unix:{path}")
        finally:
            os.umask(old_umask)
        return f"unix:{path}"

    @staticmethod
    def _add_health_and_reflection(
        server: grpc.aio.Server,
    ) -> health.aio.HealthServicer:
        checker = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(checker, server)
        for name in ("", *SERVICE_NAMES):
            asyncio.get_running_loop().create_task(
                checker.set(name, health_pb2.HealthCheckResponse.SERVING)
            )
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, reflection.SERVICE_NAME, health.SERVICE_NAME), server
        )
        return checker
