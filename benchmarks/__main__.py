"""`make bench`: every benchmark in one run, figures beside their ceilings."""

from __future__ import annotations

import importlib
import platform
import sys
import time
import traceback

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
]


def main() -> None:
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
