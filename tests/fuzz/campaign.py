"""Run the atheris targets as subprocesses, each for a bounded time.

    python -m tests.fuzz.campaign --seconds 120     # `make fuzz`
Crashing inputs are kept in build/fuzz/<target>/ as crash-* files; make each one
a regression test (tests/fuzz/test_regressions.py) once fixed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.seeds import write_corpus
from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FuzzRun:
    target: str
    inputs: int
    returncode: int
    output: str


def run_target(
    name: str, seconds: int, workdir: Path, seed: int | None = None
) -> FuzzRun:
    corpus = workdir / name / "corpus"
    write_corpus(name, corpus)
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.targets",
        name,
        str(corpus),
        f"-max_total_time={seconds}",
        "-max_len=65536",
        "-rss_limit_mb=1024",
        "-timeout=10",
        f"-artifact_prefix={workdir / name}/",
        # A fixed seed makes a CI run repeat the same exploration; `make fuzz`
        # leaves it random so long runs keep finding new paths.
        *([f"-seed={seed}"] if seed is not None else []),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120
    )
    output = done.stdout + done.stderr
    counts = re.findall(r"Done (\d+) runs", output)
    return FuzzRun(name, int(counts[-1]) if counts else 0, done.returncode, output)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "fuzz")
    parser.add_argument("targets", nargs="*", default=sorted(TARGETS))
    args = parser.parse_args()
    failed = []
    for name in args.targets:
        result = run_target(name, args.seconds, args.workdir)
        print(f"{name}: {result.inputs} inputs, exit {result.returncode}", flush=True)
        if result.returncode != 0:
            failed.append(name)
            print(result.output[-4000:])
    if failed:
        sys.exit(f"crashes in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
