"""Issuance through Envoy with 1 and N workers, on SQLite and on PostgreSQL.

Each configuration is a fresh `aura serve --workers N`; in each, issuance (JSON
and native gRPC, driven by h2load) is quoted beside the trivial `GetVersion`
handler behind the same Envoy, in the same run, and the peak resident memory
of the server processes and of Envoy under that load is read from /proc.
Without AURA_BENCH_DATABASE_URL the PostgreSQL half runs again inside a
throw-away cluster made by pg_virtualenv.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aura_grpc.gen.aura.v2 import certs_pb2
from benchmarks import h2load, memory, pgcluster
from benchmarks.running import RunningAura, running_aura
from benchmarks.service import attested_device
from tests.certs import public_pem
from tests.stub_evidence import StubTPM

SECONDS = float(os.environ.get("AURA_BENCH_SECONDS", "3"))
CONCURRENCY = int(os.environ.get("AURA_BENCH_SCALE_CONCURRENCY", "32"))
MANY = os.cpu_count() or 2


@dataclass(frozen=True)
class Figures:
    issue_json: h2load.H2Result
    issue_grpc: h2load.H2Result
    lines: list[str]


@contextmanager
def started(database: str, workers: int) -> Iterator[RunningAura]:
    if database == "sqlite":
        with running_aura(workers=str(workers)) as aura:
            yield aura
        return
    with (
        pgcluster.scratch_database(database) as url,
        running_aura(workers=str(workers), database_url=url) as aura,
    ):
        yield aura


def measure(aura: RunningAura, label: str) -> Figures:
    body: dict[str, Any] = {
        "device_id": attested_device(aura),
        "subject_cn": "bench",
        "days": 1,
        "public_key_pem": public_pem(StubTPM().ak),
    }
    auth = {"authorization": f"Bearer {aura.token}"}
    grpc_headers = {**auth, "content-type": "application/grpc", "te": "trailers"}
    json_headers = {**auth, "content-type": "application/json"}
    request = certs_pb2.IssueCertRequest(**body).SerializeToString()
    url, n = aura.base_url, CONCURRENCY

    def run(
        name: str, path: str, headers: dict[str, str], data: bytes | None
    ) -> h2load.H2Result:
        return h2load.run(f"{name}, {label}", f"{url}{path}", n, SECONDS, headers, data)

    trivial_json = run("trivial GetVersion JSON", "/v2/version", {}, None)
    issue_json = run(
        "issue JSON", "/v2/certs/issue", json_headers, json.dumps(body).encode()
    )
    trivial_grpc = run(
        "trivial GetVersion gRPC",
        "/aura.v2.MetaService/GetVersion",
        grpc_headers,
        h2load.grpc_frame(b""),
    )
    issue_grpc = run(
        "issue gRPC",
        "/aura.v2.CertService/IssueCert",
        grpc_headers,
        h2load.grpc_frame(request),
    )
    peak = memory.measure(aura.pid, "VmHWM")
    lines = [
        trivial_json.line(),
        issue_json.line(trivial_json) + "  (goal >= 0.50)",
        trivial_grpc.line(),
        issue_grpc.line(trivial_grpc),
        peak.line(f"peak RSS under issuance, {label}", "VmHWM"),
    ]
    return Figures(issue_json, issue_grpc, lines)


def configuration(database: str, name: str) -> None:
    """1 and N workers on one database; N's issuance as a ratio to 1's."""
    by_workers: dict[int, Figures] = {}
    for workers in (1, MANY):
        label = f"{name}, {workers} worker{'s' if workers > 1 else ''}"
        with started(database, workers) as aura:
            by_workers[workers] = measure(aura, label)
        for line in by_workers[workers].lines:
            print(line, flush=True)

    one, many = by_workers[1], by_workers[MANY]
    for kind in ("issue_json", "issue_grpc"):
        single = getattr(one, kind).rate
        several = getattr(many, kind).rate
        ratio = several / single if single else float("nan")
        print(
            f"{kind.replace('_', ' ')}, {name}: {MANY} workers {several:.1f}/s = "
            f"{ratio:.2f}x of 1 worker {single:.1f}/s"
            + ("  (goal >= 1.30x)" if name == "PostgreSQL" else ""),
            flush=True,
        )


def main() -> None:
    if not h2load.available():
        print("h2load not found (Debian nghttp2-client): scale figures skipped")
        return
    print(
        f"scale: h2load c={CONCURRENCY}, {SECONDS:.0f} s per figure, "
        f"1 and {MANY} workers",
        flush=True,
    )
    if "--postgres-only" not in sys.argv:
        configuration("sqlite", "SQLite")
    server = pgcluster.server_url()
    if server is not None:
        configuration(server, "PostgreSQL")
    elif not pgcluster.run_inside_cluster("benchmarks.scale", ["--postgres-only"]):
        print("pg_virtualenv not found: PostgreSQL figures skipped", flush=True)


if __name__ == "__main__":
    main()
