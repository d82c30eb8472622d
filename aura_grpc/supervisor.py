"""Several backend worker processes behind one Envoy, sharing only the database.

The parent (`aura serve --workers N`) migrates and sets up once, then runs each
worker as `python -m aura_grpc.cli worker --index i`: a whole `Backend` bound to
its own Unix socket. Everything that must hold across workers lives in the
database (single-use nonces, serials, CRL numbers); each worker's trust snapshot
follows the others' changes through `TrustPublisher.watch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aura_grpc.config import Settings

log = logging.getLogger(__name__)

# A worker that keeps dying is restarted ever more slowly, up to this.
MAX_BACKOFF_S = 30.0
FIRST_BACKOFF_S = 0.5
# A worker that ran this long before dying starts again with the first back-off.
STABLE_AFTER_S = 60.0
READY_TIMEOUT_S = 60.0


def worker_socket(settings: Settings, index: int) -> str:
    return str((settings.state_dir / f"backend-{index}.sock").resolve())


def backend_sockets(settings: Settings, count: int) -> list[str]:
    """Where Envoy finds the workers; one worker keeps today's single socket."""
    if count == 1:
        return [settings.resolved_backend_socket]
    return [worker_socket(settings, i) for i in range(count)]


def worker_settings(settings: Settings, index: int, count: int) -> Settings:
    """Worker `index`'s view: its own socket; only worker 0 serves /metrics
    (the others would fight over the port)."""
    if count == 1:
        return settings
    # TODO: merge every worker's counters (prometheus multiprocess mode); until
    # then /metrics shows worker 0's request counters, fleet gauges are whole.
    metrics = settings.metrics_port if index == 0 else 0
    return settings.model_copy(
        update={
            "backend_socket": worker_socket(settings, index),
            "metrics_port": metrics,
        }
    )


@dataclass
class Worker:
    index: int
    command: list[str]
    socket: str
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    def spawn(self) -> None:
        # Its own session: a terminal's Ctrl-C reaches the parent only, which
        # then stops the workers in order.
        self.process = subprocess.Popen(self.command, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    def backoff(self) -> float:
        if time.monotonic() - self.started_at >= STABLE_AFTER_S:
            self.failures = 0
        self.failures += 1
        return float(min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (self.failures - 1)))


@dataclass
class Supervisor:
    """Starts the workers, restarts any that dies, stops them all."""

    workers: list[Worker]
    poll_seconds: float = 0.5
    _stopping: bool = field(default=False, init=False)

    @classmethod
    def for_settings(
        cls, settings: Settings, count: int, config: Path | None, log_args: list[str]
    ) -> Supervisor:
        base = [sys.executable, "-m", "aura_grpc.cli", "worker", "--count", str(count)]
        if config is not None:
            base += ["--config", str(config)]
        return cls(
            [
                Worker(i, [*base, "--index", str(i), *log_args], socket)
                for i, socket in enumerate(backend_sockets(settings, count))
            ]
        )

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process is not None]

    async def start(self) -> None:
        """Spawn every worker and wait until each answers health checks."""
        for worker in self.workers:
            worker.spawn()
        for worker in self.workers:
            await wait_serving(worker, READY_TIMEOUT_S)

    async def supervise(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            for worker in self.workers:
                self._check(worker, now)
            await asyncio.sleep(self.poll_seconds)

    def _check(self, worker: Worker, now: float) -> None:
        assert worker.process is not None
        if worker.restart_at is not None:
            if now >= worker.restart_at:
                log.info("restarting worker %d", worker.index)
                worker.spawn()
            return
        code = worker.process.poll()
        if code is None:
            return
        delay = worker.backoff()
        worker.restart_at = now + delay
        log.error(
            "worker %d (pid %d) exited with %s; restarting in %.1f s",
            worker.index,
            worker.process.pid,
            code,
            delay,
        )

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM every worker, then wait; kill what does not stop in time."""
        self._stopping = True
        running = [w.process for w in self.workers if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker pid %d did not stop; killing it", process.pid)
                process.kill()
                process.wait()


async def wait_serving(worker: Worker, within: float) -> None:
    """Until the worker's gRPC health check says SERVING; raise if it exits."""
    deadline = time.monotonic() + within
    request = health_pb2.HealthCheckRequest(service="")
    while time.monotonic() < deadline:
        assert worker.process is not None
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker {worker.index} exited while starting")
        with contextlib.suppress(grpc.aio.AioRpcError, OSError):
            async with grpc.aio.insecure_channel(f"unix:{worker.socket}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                answer = await stub.Check(request, timeout=1)  # type: ignore[attr-defined]  # generated stub, no hints
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"worker {worker.index} not serving after {within:.0f} s")


async def exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Return once the supervising parent is gone (a worker is then orphaned:
    a killed parent must not leave workers holding the database)."""
    # Polling: nothing wakes a process when its parent dies (no prctl here).
    while os.getppid() == parent:  # noqa: ASYNC110  # no event exists to wait on
        await asyncio.sleep(interval)
