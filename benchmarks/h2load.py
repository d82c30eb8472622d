"""Drive Envoy with h2load (nghttp2's C load generator), so the client is not
the bottleneck, and read per-request latencies from its log file."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class H2Result:
    label: str
    concurrency: int
    rate: float
    ok: int
    failed: int
    p50_ms: float
    p99_ms: float

    def line(self, ceiling: H2Result | None = None) -> str:
        text = (
            f"{self.label:<46} c={self.concurrency:<3} {self.rate:8.1f}/s  "
            f"p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms"
        )
        if self.failed:
            text += f"  non-2xx {self.failed}"
        if ceiling is not None and ceiling.rate:
            text += f"  ratio {self.rate / ceiling.rate:.2f} of {ceiling.label}"
        return text


def available() -> bool:
    return shutil.which("h2load") is not None


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message (uncompressed)."""
    return b"\0" + len(message).to_bytes(4, "big") + message


def run(
    label: str,
    url: str,
    concurrency: int,
    seconds: float,
    headers: dict[str, str],
    body: bytes | None = None,
) -> H2Result:
    connections = min(concurrency, 4)
    streams = max(1, concurrency // connections)
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "requests.log"
        command = [
            "h2load",
            "-c",
            str(connections),
            "-m",
            str(streams),
            # h2load takes whole seconds here.
            "-D",
            str(max(1, round(seconds))),
            "--warm-up-time",
            "1",
            f"--log-file={log}",
            url,
        ]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        if body is not None:
            data = Path(folder) / "body"
            data.write_bytes(body)
            command += ["-d", str(data)]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
        if not log.exists():
            raise RuntimeError(
                f"h2load failed: {output.stdout[-500:]}{output.stderr[-500:]}"
            )
        rows = [line.split("\t") for line in log.read_text().splitlines() if line]

    match = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", output.stdout)
    rate = float(match.group(1)) if match else 0.0
    ok = [int(r[2]) / 1000 for r in rows if r[1].startswith("2")]
    failed = len(rows) - len(ok)
    ordered = sorted(ok) or [float("nan")]
    pick = lambda p: ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]  # noqa: E731
    return H2Result(label, concurrency, rate, len(ok), failed, pick(50), pick(99))
