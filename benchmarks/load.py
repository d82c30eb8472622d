"""A tiny closed-loop load generator: N workers, each calling as fast as it can."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    label: str
    concurrency: int
    completed: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self, ceiling: Result | None = None) -> str:
        text = (
            f"{self.label:<44} c={self.concurrency:<3} {self.rate:8.1f}/s  "
            f"p50 {self.percentile(50):6.2f} ms  p99 {self.percentile(99):7.2f} ms"
        )
        if self.errors:
            text += f"  errors {self.errors}"
        if ceiling is not None and ceiling.rate:
            text += f"  ratio {self.rate / ceiling.rate:.2f} of {ceiling.label}"
        return text


async def measure(
    label: str,
    call: Callable[[], Awaitable[object]],
    concurrency: int,
    seconds: float,
    warmup: float = 0.5,
) -> Result:
    """Run `call` from `concurrency` workers for `seconds` after a warm-up."""
    latencies: list[float] = []
    errors = 0
    stop_at = 0.0
    recording = False

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += recording
                continue
            if recording:
                latencies.append((time.perf_counter() - started) * 1000)

    stop_at = time.perf_counter() + warmup
    await asyncio.gather(*(worker() for _ in range(concurrency)))

    recording = True
    began = time.perf_counter()
    stop_at = began + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return Result(label, concurrency, len(latencies), errors, elapsed, latencies)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
