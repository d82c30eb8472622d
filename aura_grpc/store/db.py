"""Engine, sessions and start-up migrations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000

POOL_SIZE = 10
POOL_OVERFLOW = 5
POOL_TIMEOUT_S = 10
POOL_RECYCLE_S = 1800
CONNECT_TIMEOUT_S = 10
COMMAND_TIMEOUT_S = 60

# Any constant of our own: workers starting together take turns migrating.
MIGRATION_LOCK_ID = 0x41555241  # "AURA"


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; the busy timeout turns a
    # momentary lock into a short wait instead of an error.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def async_url(url: str) -> str:
    """The URL with its async driver: `postgresql://` means asyncpg here."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+asyncpg{sep}{rest}"
    if scheme == "sqlite":
        return f"sqlite+aiosqlite{sep}{rest}"
    return url


def create_engine(url: str, *, pool_size: int = POOL_SIZE) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLite has a single writer. With several pooled connections, writers
        # queue inside SQLite's busy handler, which sleeps in growing steps and
        # gave p99 latencies over a second at 8 concurrent issuances; one
        # connection serialises statements in arrival order instead (p99 about
        # 190 ms). PostgreSQL, with real concurrency, is the option for scale.
        engine = create_async_engine(
            url,
            connect_args={"timeout": 5},
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return _create_postgres_engine(url, pool_size)


def _create_postgres_engine(url: str, pool_size: int) -> AsyncEngine:
    # Each worker holds at most pool_size + POOL_OVERFLOW connections: size them
    # so that workers x that stays under the server's max_connections (100).
    # A request waits POOL_TIMEOUT_S for a connection, then fails instead of
    # queueing forever; pre-ping and recycle drop connections a restart or a
    # firewall closed.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_S,
        connect_args={
            "timeout": CONNECT_TIMEOUT_S,
            "command_timeout": COMMAND_TIMEOUT_S,
            "server_settings": {"application_name": "aura", "timezone": "UTC"},
        },
    )


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # DDL is transactional on PostgreSQL: the second worker waits here, then
        # finds the schema current. (SQLite's single writer serialises anyway.)
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; safe to run at every start."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    log.info("database schema is current on %s", engine.dialect.name)
