"""A PostgreSQL server for benchmarks: the one named by AURA_BENCH_DATABASE_URL,
else a throw-away cluster made by pg_virtualenv (Debian's postgresql-common)
around a second run of the benchmark, dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import URL, make_url

ENV = "AURA_BENCH_DATABASE_URL"
INSIDE = "AURA_BENCH_PG_CLUSTER"


def server_url() -> str | None:
    """The server to make benchmark databases on, if there is one already."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    if os.environ.get(INSIDE) and os.environ.get("PGHOST"):
        env = os.environ
        return URL.create(
            "postgresql+asyncpg",
            username=env["PGUSER"],
            password=env["PGPASSWORD"],
            host=env["PGHOST"],
            port=int(env["PGPORT"]),
            database=env["PGDATABASE"],
        ).render_as_string(hide_password=False)
    return None


def run_inside_cluster(module: str, args: list[str]) -> bool:
    """Run `python -m module args` inside a pg_virtualenv cluster; False when
    pg_virtualenv is missing (the PostgreSQL figures are then skipped)."""
    if shutil.which("pg_virtualenv") is None:
        return False
    command = ["pg_virtualenv", "-t", sys.executable, "-m", module, *args]
    # Line by line through sys.stdout, so `make bench`'s summary sees them too.
    with subprocess.Popen(
        command,
        env={**os.environ, INSIDE: "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
    return True


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


async def _admin(server: str, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(server))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A new empty database on `server`, dropped on the way out."""
    name = f"aura_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        asyncio.run(_admin(server, drop))
