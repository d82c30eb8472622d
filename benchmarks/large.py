"""`make bench-large`: hot paths that must stay flat as the data grows.

Against a real `aura serve` (one worker; SQLite, then PostgreSQL), rows are
bulk-inserted straight into the database (SQLAlchemy Core executemany) and the
running server is timed: the full CRL re-sign (`AuthorityService.resign_crl`,
reading every revoked row) at 1k, 10k and 100k revoked, a revoke call through
Envoy at 100k (re-sign + publish to every check), `GET /v2/certs` pages with
1M certificates stored beside `GET /v2/version` through the same Envoy, and the
server's memory after many issuances.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import and_, insert, or_, select, text

from aura_grpc.config import load_settings
from aura_grpc.gen.aura.v2 import certs_pb2
from aura_grpc.server import Backend
from aura_grpc.store import db
from aura_grpc.store.models import Device, IssuedCertificate
from benchmarks import h2load, memory, pgcluster
from benchmarks.running import RunningAura, running_aura
from benchmarks.service import attested_device
from tests.certs import public_pem
from tests.stub_evidence import StubTPM

TOTAL = int(os.environ.get("AURA_BENCH_LARGE_ROWS", "1000000"))
REVOKED_STEPS = tuple(
    int(n)
    for n in os.environ.get("AURA_BENCH_LARGE_REVOKED", "1000,10000,100000").split(",")
)
ISSUANCES = int(os.environ.get("AURA_BENCH_ISSUANCES", "100000"))
PAGES = 200
BATCH = 20_000


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered):7.2f} ms  p99 {p99:7.2f} ms"


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


class Rows:
    """Inserts certificate rows like the real ones for one org, CA and device."""

    def __init__(self, url: str, template: dict[str, Any]) -> None:
        self.url = url
        self.template = template
        self.created = datetime.now(UTC) - timedelta(days=30)

    def add(self, count: int, revoked: bool) -> float:
        """Insert `count` rows; returns the seconds it took."""
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            batch = [self._row(revoked) for _ in range(min(BATCH, count - start))]
            asyncio.run(self._insert(batch))
        return time.perf_counter() - started

    def _row(self, revoked: bool) -> dict[str, Any]:
        self.created += timedelta(milliseconds=1)
        row = {**self.template, "serial": format(secrets.randbits(127) | 1 << 64, "x")}
        row["created_at"] = self.created
        row["revoked_at"] = self.created if revoked else None
        row["revocation_reason"] = "superseded" if revoked else None
        return row

    async def _insert(self, batch: list[dict[str, Any]]) -> None:
        engine = db.create_engine(self.url)
        try:
            async with engine.begin() as connection:
                await connection.execute(insert(IssuedCertificate), batch)
        finally:
            await engine.dispose()


async def template_row(url: str) -> dict[str, Any]:
    """The one real certificate issued so far, as the pattern for bulk rows."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            # Through the table, so columns come back typed (UTC datetimes).
            result = await connection.execute(select(IssuedCertificate.__table__))
            row = dict(result.mappings().one())
    finally:
        await engine.dispose()
    row.update(request_id=None, not_after=datetime.now(UTC) + timedelta(days=365))
    return row


def resign_ms(aura: RunningAura, url: str, ca_id: str) -> float:
    """The full re-sign in a process of its own: read revoked rows, build, sign,
    store (the same code path a revocation takes)."""
    code = (
        "import asyncio,time,sys\n"
        "from benchmarks.large import resign_in_process\n"
        "print(asyncio.run(resign_in_process(sys.argv[1], sys.argv[2], sys.argv[3])))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code, str(aura.state_dir), url, ca_id],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(answer.stdout.strip().splitlines()[-1])


async def resign_in_process(state_dir: str, url: str, ca_id: str) -> float:
    settings = load_settings(None, state_dir=state_dir, database_url=url)
    backend = Backend(settings)
    await backend.open_database()
    try:
        authorities = backend.authority_service()
        await authorities.resign_crl(ca_id)  # warm: key unsealed, caches filled
        # Let the running server finish reloading that CRL (it shares the cores).
        await asyncio.sleep(3)
        started = time.perf_counter()
        await authorities.resign_crl(ca_id)
        return (time.perf_counter() - started) * 1000
    finally:
        await backend.stop()


async def query_plans(url: str, template: dict[str, Any]) -> list[str]:
    """EXPLAIN of the hot lookups, on the filled database (the planner's choice
    depends on the data): a later page, the CRL's rows, a device by fingerprint."""
    table = IssuedCertificate
    page = (
        select(table)
        .where(
            table.org_id == template["org_id"],
            or_(
                table.created_at < template["created_at"],
                and_(
                    table.created_at == template["created_at"],
                    table.serial < template["serial"],
                ),
            ),
        )
        .order_by(table.created_at.desc(), table.serial.desc())
        .limit(101)
    )
    crl = select(table.serial, table.revoked_at).where(
        table.ca_id == template["ca_id"], table.revoked_at.is_not(None)
    )
    device = select(Device.id).where(
        Device.org_id == template["org_id"], Device.fingerprint == "f"
    )
    engine = db.create_engine(url)
    lines = []
    try:
        async with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            if not sqlite:
                await connection.execute(text("ANALYZE certificates"))
            for label, query in (("page", page), ("crl", crl), ("device", device)):
                sql = query.compile(
                    engine.sync_engine, compile_kwargs={"literal_binds": True}
                )
                plan = await connection.execute(text(prefix + str(sql)))
                steps = [str(row[-1]).strip() for row in plan]
                lines.append(f"{label}: " + " | ".join(steps))
    finally:
        await engine.dispose()
    return lines


def api(aura: RunningAura) -> httpx.Client:
    return httpx.Client(
        base_url=aura.base_url,
        verify=ssl.create_default_context(cafile=str(aura.ca_cert)),
        headers={"authorization": f"Bearer {aura.token}"},
        timeout=60,
    )


def revoke_through_envoy(aura: RunningAura, serial: str) -> float:
    with api(aura) as client:
        started = time.perf_counter()
        response = client.post(f"/v2/certs/{serial}/revoke", json={})
        elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def page_latencies(aura: RunningAura) -> tuple[list[float], list[float], int]:
    """Walk PAGES pages of 100 newest-first, then GET /v2/version as often."""
    pages, trivial, seen = [], [], 0
    with api(aura) as client:
        token = ""
        for _ in range(PAGES):
            started = time.perf_counter()
            body = client.get(
                "/v2/certs", params={"page_size": 100, "page_token": token}
            ).json()
            pages.append((time.perf_counter() - started) * 1000)
            seen += len(body["certificates"])
            token = body["next_page_token"]
        for _ in range(PAGES):
            trivial.append(timed(lambda: client.get("/v2/version").raise_for_status()))
    return pages, trivial, seen


def issue_many(aura: RunningAura, body: dict[str, Any]) -> str:
    """Exactly ISSUANCES issuances (native gRPC through Envoy, 32 streams)."""
    with tempfile.TemporaryDirectory() as folder:
        frame = Path(folder) / "body"
        request = certs_pb2.IssueCertRequest(**body).SerializeToString()
        frame.write_bytes(h2load.grpc_frame(request))
        headers = [f"authorization: Bearer {aura.token}", "te: trailers"]
        headers.append("content-type: application/grpc")
        command = ["h2load", "-c", "4", "-m", "8", "-n", str(ISSUANCES)]
        command += [arg for header in headers for arg in ("-H", header)]
        command += ["-d", str(frame), f"{aura.base_url}/aura.v2.CertService/IssueCert"]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
    summary = [line for line in output.stdout.splitlines() if "req/s" in line]
    return f"{ISSUANCES} issuances, native gRPC via Envoy: " + " ".join(summary)


@contextmanager
def started(database: str) -> Iterator[tuple[RunningAura, str]]:
    if database == "sqlite":
        with running_aura() as aura:
            yield aura, f"sqlite+aiosqlite:///{aura.state_dir / 'aura.db'}"
        return
    with (
        pgcluster.scratch_database(database) as url,
        running_aura(database_url=url) as aura,
    ):
        yield aura, url


def run(database: str, name: str) -> None:
    with started(database) as (aura, url):
        body: dict[str, Any] = {
            "device_id": attested_device(aura),
            "subject_cn": "bench",
            "days": 1,
            "public_key_pem": public_pem(StubTPM().ak),
        }
        with api(aura) as client:
            client.post("/v2/certs/issue", json=body).raise_for_status()
        template = asyncio.run(template_row(url))
        rows = Rows(url, template)

        revoked = 0
        for step in REVOKED_STEPS:
            seconds = rows.add(step - revoked, revoked=True)
            revoked = step
            took = resign_ms(aura, url, template["ca_id"])
            print(
                f"{name}: resign_crl with {step:>6} revoked rows in the DB: "
                f"{took:8.1f} ms  (goal at 100k: 2000 ms; rows inserted in "
                f"{seconds:.1f} s)",
                flush=True,
            )

        with api(aura) as client:
            spares = [
                client.post("/v2/certs/issue", json=body).json()["serial"]
                for _ in range(2)
            ]
        # The first re-sign in the server builds every entry; later ones reuse them.
        for when, spare in zip(("first", "second"), spares, strict=True):
            print(
                f"{name}: revoke call through Envoy at {revoked} revoked (re-sign "
                f"+ publish), {when}: {revoke_through_envoy(aura, spare):8.1f} ms",
                flush=True,
            )
            time.sleep(3)

        seconds = rows.add(TOTAL - revoked, revoked=False)
        print(f"{name}: {TOTAL} certificates stored (+{seconds:.0f} s)", flush=True)
        pages, trivial, seen = page_latencies(aura)
        print(
            f"{name}: GET /v2/certs page of 100 with {TOTAL} stored: "
            f"{percentiles(pages)}  ({seen} rows over {PAGES} pages; "
            f"ratio p50 {statistics.median(pages) / statistics.median(trivial):.1f}x "
            f"of GET /v2/version {percentiles(trivial)}; goal p99 < 20 ms)",
            flush=True,
        )
        for line in asyncio.run(query_plans(url, template)):
            print(f"{name}: plan: {line}", flush=True)
        # With all that loaded: the revoked set, the CRL, the entry cache.
        rss = memory.measure(aura.pid, "VmRSS")
        print(rss.line(f"{name}: RSS, 1M rows + 100k revoked", "VmRSS"), flush=True)


def memory_after_issuing() -> None:
    """A fresh server (SQLite, one worker) after ISSUANCES issuances.

    Not on the server filled above: all its rows belong to one device, and the
    policy input counts a device's certificates per issuance.
    """
    with started("sqlite") as (aura, _):
        body: dict[str, Any] = {
            "device_id": attested_device(aura),
            "subject_cn": "bench",
            "days": 1,
            "public_key_pem": public_pem(StubTPM().ak),
        }
        rss_after_issuing(aura, body, "SQLite, fresh server")


def rss_after_issuing(aura: RunningAura, body: dict[str, Any], label: str) -> None:
    before = memory.measure(aura.pid, "VmRSS")
    summary = issue_many(aura, body)
    after = memory.measure(aura.pid, "VmRSS")
    peak = memory.measure(aura.pid, "VmHWM")
    print(summary, flush=True)
    print(before.line(f"{label}: RSS before", "VmRSS"), flush=True)
    print(
        after.line(f"{label}: RSS after {ISSUANCES} issuances", "VmRSS")
        + "  (goal server < 200 MB)",
        flush=True,
    )
    print(peak.line(f"{label}: peak RSS", "VmHWM"), flush=True)


def main() -> None:
    print(
        f"large: {TOTAL} certificates, CRL at {REVOKED_STEPS} revoked, "
        f"{ISSUANCES} issuances for memory",
        flush=True,
    )
    if "--memory-only" in sys.argv:
        memory_after_issuing()
        return
    if "--postgres-only" not in sys.argv:
        run("sqlite", "SQLite")
        if h2load.available():
            memory_after_issuing()
    server = pgcluster.server_url()
    if server is not None:
        run(server, "PostgreSQL")
    elif not pgcluster.run_inside_cluster("benchmarks.large", ["--postgres-only"]):
        print("pg_virtualenv not found: PostgreSQL figures skipped", flush=True)


if __name__ == "__main__":
    main()
