"""Scratch PostgreSQL databases for tests, one per stack or test.

Set AURA_TEST_DATABASE_URL to a server the tests may create databases on, e.g.
postgresql+asyncpg://postgres:secret@localhost:5432/postgres (`make
test-postgres` starts a throw-away cluster and sets it). Unset, tests use SQLite.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import URL, make_url

ENV = "AURA_TEST_DATABASE_URL"

T = TypeVar("T")


def server_url() -> str | None:
    """The PostgreSQL server to test against, or None for SQLite."""
    return os.environ.get(ENV) or None


def _libpq_dsn(url: URL) -> str:
    # asyncpg takes a plain libpq URL, without SQLAlchemy's "+asyncpg".
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    url = server_url()
    assert url is not None, f"{ENV} is not set"
    connection = await asyncpg.connect(_libpq_dsn(make_url(url)))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_database_async() -> str:
    """A new empty database on the test server; returns its asyncpg URL."""
    server = server_url()
    assert server is not None, f"{ENV} is not set"
    name = f"aura_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_database_async(url: str) -> None:
    # FORCE: a stack stopped after a failure may still hold connections.
    name = make_url(url).database
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # In a thread of its own: callers may already be inside an event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


def create_database() -> str:
    return _run(create_database_async())


def drop_database(url: str) -> None:
    _run(drop_database_async(url))
