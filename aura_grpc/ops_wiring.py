"""Wires the operator's parts into the backend: AdminService, metrics, gauges."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.api.admin import AdminServicer
from aura_grpc.api.calls import CallGuard
from aura_grpc.clock import Clock
from aura_grpc.config import Settings
from aura_grpc.gen.aura.v2 import admin_pb2, admin_pb2_grpc
from aura_grpc.metrics import MetricsServer
from aura_grpc.services import fleet_gauges
from aura_grpc.services.audit_log import AuditLog
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.devices import DeviceAdministration
from aura_grpc.services.org_admin import OrgAdministration
from aura_grpc.services.orgs import OrgService

log = logging.getLogger(__name__)

SERVICE_NAMES = (admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,)
METRICS_HOST = "127.0.0.1"


@dataclass
class OperationsParts:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: MetricsServer | None = None

    def add_servicers(
        self,
        server: grpc.aio.Server,
        guard: CallGuard,
        orgs: OrgService,
        authorities: AuthorityService,
    ) -> None:
        freshness = timedelta(hours=self.settings.freshness_hours)
        servicer = AdminServicer(
            guard,
            orgs,
            OrgAdministration(self.sessions, authorities, self.clock),
            DeviceAdministration(self.sessions, authorities, self.clock, freshness),
            authorities,
            AuditLog(self.sessions),
            self.clock,
        )
        add_admin = admin_pb2_grpc.add_AdminServiceServicer_to_server
        add_admin(servicer, server)  # type: ignore[no-untyped-call]

    def start_metrics(self) -> None:
        """Serve /metrics. A port already taken is logged, not fatal: losing
        metrics must not stop certificates from being issued and revoked."""
        if not self.settings.metrics_port:
            return
        server = MetricsServer(METRICS_HOST, self.settings.metrics_port)
        try:
            server.start()
        except OSError as exc:
            log.error(
                "metrics not served: cannot listen on %s:%d (%s)",
                METRICS_HOST,
                self.settings.metrics_port,
                exc.strerror,
            )
            return
        self.metrics = server

    def tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        freshness = timedelta(hours=self.settings.freshness_hours)
        interval = self.settings.metrics_refresh_seconds
        return [
            lambda: fleet_gauges.keep_fresh(
                self.sessions, self.clock, freshness, interval
            )
        ]

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
