"""Engine set-up that needs no database."""

from __future__ import annotations

import pytest

from aura_grpc.store import db


@pytest.mark.parametrize(
    ("given", "used"),
    [
        pytest.param(
            "postgresql://aura:pw@db/aura",
            "postgresql+asyncpg://aura:pw@db/aura",
            id="plain postgresql means asyncpg",
        ),
        pytest.param(
            "postgres://aura@db:6432/aura?ssl=require",
            "postgresql+asyncpg://aura@db:6432/aura?ssl=require",
            id="the postgres alias too, query kept",
        ),
        pytest.param(
            "postgresql+asyncpg://aura@db/aura",
            "postgresql+asyncpg://aura@db/aura",
            id="an explicit driver is kept",
        ),
        pytest.param(
            "sqlite:////var/lib/aura/aura.db",
            "sqlite+aiosqlite:////var/lib/aura/aura.db",
            id="plain sqlite means aiosqlite",
        ),
    ],
)
def test_url_gets_the_async_driver(given: str, used: str) -> None:
    assert db.async_url(given) == used


async def test_postgres_engine_uses_asyncpg_and_the_pool_size_given() -> None:
    # Made without connecting: the options are what a worker will use.
    engine = db.create_engine("postgresql://aura@db.invalid/aura", pool_size=3)
    try:
        assert engine.dialect.driver == "asyncpg"
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
