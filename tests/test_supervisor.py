"""The worker supervisor and the Envoy bootstrap it renders, without a database:
real child processes, a real `envoy --mode validate`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

from aura_grpc.config import load_settings
from aura_grpc.supervisor import (
    FIRST_BACKOFF_S,
    Supervisor,
    Worker,
    backend_sockets,
    worker_settings,
)
from gateway.bootstrap import backend_endpoints, render, validate


def test_one_worker_keeps_the_single_socket_and_settings(tmp_path: Path) -> None:
    settings = load_settings(None, state_dir=tmp_path, metrics_port=9464)

    assert backend_sockets(settings, 1) == [settings.resolved_backend_socket]
    assert worker_settings(settings, 0, 1) is settings


def test_each_worker_gets_its_own_socket_and_only_the_first_serves_metrics(
    tmp_path: Path,
) -> None:
    settings = load_settings(None, state_dir=tmp_path, metrics_port=9464)

    first, second = (worker_settings(settings, i, 2) for i in range(2))

    assert first.resolved_backend_socket == str(tmp_path.resolve() / "backend-0.sock")
    assert second.resolved_backend_socket == str(tmp_path.resolve() / "backend-1.sock")
    assert (first.metrics_port, second.metrics_port) == (9464, 0)


def test_zero_workers_means_one_per_core(tmp_path: Path) -> None:
    assert load_settings(None, state_dir=tmp_path).resolved_workers >= 1
    assert load_settings(None, state_dir=tmp_path, workers=3).resolved_workers == 3


def test_backend_endpoints_quote_any_path_as_yaml() -> None:
    paths = ["/tmp/a b/backend-0.sock", "/tmp/x:y/backend-1.sock"]

    parsed = yaml.safe_load(f"e: {backend_endpoints(paths)}")["e"]

    assert [e["endpoint"]["address"]["pipe"]["path"] for e in parsed] == paths
    assert backend_endpoints(paths[0]) == backend_endpoints([paths[0]])
    with pytest.raises(ValueError, match="at least one"):
        backend_endpoints([])


def test_envoy_accepts_a_bootstrap_with_several_backend_endpoints(
    tmp_path: Path,
) -> None:
    sockets = [str(tmp_path / f"backend-{i}.sock") for i in range(3)]
    paths = render(
        tmp_path, api_host="127.0.0.1", api_port=1, admin_port=2, backend_socket=sockets
    )

    checked = validate(paths.bootstrap)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    for socket in sockets:
        assert socket in paths.bootstrap.read_text()


def test_a_dead_worker_is_restarted_after_a_growing_backoff() -> None:
    worker = Worker(0, [sys.executable, "-c", "pass"], "/nonexistent.sock")
    supervisor = Supervisor([worker])
    worker.spawn()
    assert worker.process is not None
    worker.process.wait(timeout=30)
    first_pid = worker.process.pid

    supervisor._check(worker, time.monotonic())
    assert worker.restart_at is not None
    assert worker.failures == 1

    supervisor._check(worker, worker.restart_at + 0.01)
    assert worker.process.pid != first_pid
    worker.process.wait(timeout=30)
    supervisor._check(worker, time.monotonic())
    assert worker.restart_at is not None
    assert worker.restart_at - time.monotonic() > FIRST_BACKOFF_S  # doubled
    supervisor.stop()


def test_stop_terminates_running_workers() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = Supervisor([Worker(i, sleeper, "/nonexistent.sock") for i in (0, 1)])
    for worker in supervisor.workers:
        worker.spawn()

    supervisor.stop(timeout=10)

    codes = [w.process.poll() for w in supervisor.workers if w.process is not None]
    assert len(codes) == 2 and all(code is not None for code in codes)
