"""A real AURA (server + Envoy) in child processes, for load tests.

The load client runs in this process; the server gets its own process so the
two do not share one interpreter lock, as in production.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningAura:
    state_dir: Path
    base_url: str
    ca_cert: Path
    backend_socket: str
    token: str
    pid: int
    device_port: int = 0
    admin_port: int = 0


@contextmanager
def running_aura(**settings: str) -> Iterator[RunningAura]:
    """Start `aura serve` on a fresh SQLite file (or the `database_url` given);
    yield once Envoy answers. One worker unless `workers` says otherwise."""
    settings = {"workers": "1", **settings}
    with tempfile.TemporaryDirectory(prefix="aura-bench-") as folder:
        state = Path(folder)
        api_port = free_port()
        admin_port = free_port()
        env = {
            **os.environ,
            "AURA_STATE_DIR": str(state),
            "AURA_API_PORT": str(api_port),
            "AURA_DEVICE_PORT": str(free_port()),
            "AURA_ENVOY_ADMIN_PORT": str(admin_port),
            "AURA_METRICS_PORT": "0",
            **{f"AURA_{k.upper()}": v for k, v in settings.items()},
        }
        log = (state / "server.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "aura_grpc.cli", "serve", "--log-level", "WARNING"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"https://127.0.0.1:{api_port}"
            try:
                _wait(base_url, state / "pki" / "ca.pem", process)
            except RuntimeError as exc:
                tail = (state / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}\n{tail}") from exc
            token = (state / "dev-token").read_text().strip()
            one = settings["workers"] == "1"
            yield RunningAura(
                state,
                base_url,
                state / "pki" / "ca.pem",
                str(state / ("backend.sock" if one else "backend-0.sock")),
                token,
                process.pid,
                int(env["AURA_DEVICE_PORT"]),
                admin_port,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait(base_url: str, ca: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("aura serve exited early; see server.log")
        if ca.exists():
            try:
                context = ssl.create_default_context(cafile=str(ca))
                if httpx.get(
                    f"{base_url}/v2/version", verify=context, timeout=1
                ).is_success:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise RuntimeError("aura serve did not come up within 60 s")
