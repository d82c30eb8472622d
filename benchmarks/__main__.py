"""`make bench`: every benchmark in one run, figures beside their ceilings."""

from __future__ import annotations

import contextlib
import importlib
import io
import platform
import sys
import time
import traceback
from typing import TextIO

MODULES = [
    "benchmarks.crl",
    "benchmarks.service",
    "benchmarks.verify_tpm",
    "benchmarks.verify_nitro_gcp",
    "benchmarks.verify_snp",
    "benchmarks.verify_tdx",
    "benchmarks.policy",
    "benchmarks.edge",
    "benchmarks.hsm",
    "benchmarks.scale",
]


class _Recorder(io.TextIOBase):
    """Passes output through and keeps every whole line, for the summary."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self.out.write(text)
        *done, self._partial = (self._partial + text).split("\n")
        self.lines += done
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def _summary(lines: list[str]) -> None:
    """One table at the end: every figure quoted against a ceiling or a goal."""
    print("\n== summary: figures beside their ceiling or goal")
    for line in lines:
        if " ratio " in line or "goal" in line or "x of 1 worker" in line:
            print(f"  {line.strip()}")


def main() -> None:
    recorder = _Recorder(sys.stdout)
    with contextlib.redirect_stdout(recorder):
        _run_all()
    _summary(recorder.lines)


def _run_all() -> None:
    only = sys.argv[1:]
    print(
        f"AURA benchmarks: {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        flush=True,
    )
    for name in MODULES:
        if only and not any(name.endswith(o) for o in only):
            continue
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"skipped: {exc}", flush=True)
            continue
        try:
            module.main()
        except Exception:
            traceback.print_exc()
            print(f"{name} failed; continuing with the next benchmark", flush=True)
        print(f"({time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
