"""Each storage test runs on SQLite and, when configured, on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aura_grpc.clock import Clocks, ManualClock
from aura_grpc.config import load_settings
from aura_grpc.server import Backend
from tests import pgdb
from tests.harness import TEST_VERIFIERS


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, empty database of each kind; "" means the default SQLite file."""
    if request.param == "sqlite":
        yield ""
        return
    if pgdb.server_url() is None:
        pytest.skip(f"no PostgreSQL: set {pgdb.ENV} (or run `make test-postgres`)")
    url = await pgdb.create_database_async()
    try:
        yield url
    finally:
        await pgdb.drop_database_async(url)


@pytest.fixture
def clock() -> ManualClock:
    """Stands still until a test moves it."""
    return ManualClock(pinned=datetime.now(UTC))


@pytest.fixture
async def backend(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> AsyncIterator[Backend]:
    """The real backend's database and services, migrated, without a server."""
    settings = load_settings(
        None,
        state_dir=tmp_path,
        database_url=database_url,
        verifiers={"extra": TEST_VERIFIERS},
    )
    backend = Backend(settings, Clocks(evidence=clock, issuing=clock))
    await backend.open_database()
    try:
        yield backend
    finally:
        await backend.stop()
