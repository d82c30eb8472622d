"""The SDS stream re-reads the database before answering a new request, so a
reconnect to a worker that has not yet seen another worker's revocation cannot
hand Envoy an older CRL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from envoy.service.discovery.v3 import discovery_pb2

from aura_grpc.edge.sds import TRUST_SECRET, SecretDiscovery
from aura_grpc.edge.trust import TrustSnapshot, placeholder_ca, snapshot_of


def fresh_snapshot() -> TrustSnapshot:
    return snapshot_of([placeholder_ca(datetime.now(UTC))], [])


class BehindPublisher:
    """A worker's publisher whose memory lags the database by one change."""

    def __init__(self, fail_refresh: bool = False) -> None:
        self.snapshot = fresh_snapshot()  # what this worker holds
        self.in_database = fresh_snapshot()  # what another worker committed
        self.fail_refresh = fail_refresh
        self.listeners: list[Callable[[TrustSnapshot], None]] = []

    def subscribe(
        self, listener: Callable[[TrustSnapshot], None]
    ) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    async def refresh(self) -> TrustSnapshot:
        if self.fail_refresh:
            raise ConnectionError("database unreachable")
        self.publish(self.in_database)
        return self.snapshot

    def publish(self, snapshot: TrustSnapshot) -> None:
        changed = snapshot.version != self.snapshot.version
        self.snapshot = snapshot
        for listener in list(self.listeners) if changed else []:
            listener(snapshot)


async def first_answers(publisher: BehindPublisher, wait: float) -> list[str]:
    """Versions the stream sends within `wait` s of Envoy's first request."""
    sds = SecretDiscovery(publisher)  # type: ignore[arg-type]  # a stand-in publisher
    opened = asyncio.Event()

    async def requests() -> AsyncIterator[Any]:
        yield discovery_pb2.DiscoveryRequest(resource_names=[TRUST_SECRET])
        opened.set()
        await asyncio.sleep(3600)

    versions: list[str] = []

    async def read() -> None:
        async for response in sds.StreamSecrets(requests(), None):  # type: ignore[arg-type]  # no context used
            versions.append(response.version_info)

    reader = asyncio.create_task(read())
    await asyncio.sleep(wait)
    reader.cancel()
    return versions


def test_a_new_stream_gets_what_the_database_holds_not_the_stale_memory() -> None:
    publisher = BehindPublisher()
    stale, current = publisher.snapshot.version, publisher.in_database.version

    versions = asyncio.run(first_answers(publisher, 0.2))

    assert versions == [current]
    assert stale not in versions


def test_no_answer_while_the_database_cannot_be_read() -> None:
    # Envoy then keeps the secret it has rather than going back to ours.
    publisher = BehindPublisher(fail_refresh=True)

    assert asyncio.run(first_answers(publisher, 0.2)) == []
