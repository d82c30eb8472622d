"""Resident memory of a running AURA: the server processes (the parent and its
workers) and Envoy, read from /proc (VmHWM is the peak, VmRSS the current)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    server_mib: float
    envoy_mib: float

    def line(self, label: str, field: str) -> str:
        return (
            f"{label:<46} server {self.server_mib:7.1f} MiB  "
            f"Envoy {self.envoy_mib:7.1f} MiB  ({field}, server = parent + workers)"
        )


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(child) for child in text.split()]
    return found


def process_tree(root: int) -> list[int]:
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        queue += _children(pid)
    return pids


def _kib(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0  # exited meanwhile
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _is_envoy(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "envoy"
    except OSError:
        return False


def measure(root: int, field: str = "VmHWM") -> Memory:
    """Sum `field` over the server processes and over Envoy under `root`."""
    server = envoy = 0
    for pid in process_tree(root):
        if _is_envoy(pid):
            envoy += _kib(pid, field)
        else:
            server += _kib(pid, field)
    return Memory(server / 1024, envoy / 1024)
