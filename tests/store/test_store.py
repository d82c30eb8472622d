"""The store's promises, on SQLite and on PostgreSQL alike.

Every test runs once per database kind (see conftest.py): migrations, single-use
claims and CRL numbers under concurrency, device upsert, and the column types
whose behaviour differs between the two (time zones, bytes, JSON, big integers).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography import x509
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from aura_grpc.attestation.registry import VerifierRegistry
from aura_grpc.auth.scopes import Scope
from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clocks, ManualClock
from aura_grpc.errors import NonceInvalid, PreconditionFailed
from aura_grpc.server import Backend
from aura_grpc.services import nonces
from aura_grpc.services.attestation import AttestationService, AttestOutcome
from aura_grpc.services.audit import Actor, record
from aura_grpc.store import db
from aura_grpc.store.models import (
    Attestation,
    AuditEvent,
    Base,
    CertificateAuthority,
    Device,
    Org,
)

RACERS = 20
ACTOR = Actor(org_id=None, token_id=None)


async def _principal(backend: Backend, scope: Scope = Scope.DEVICE) -> Principal:
    orgs = backend.orgs()
    await orgs.create_org("acme")
    token = await orgs.create_token("acme", frozenset({scope}))
    return await orgs.authenticate(token.bearer)


async def _schema(engine: AsyncEngine) -> tuple[str, list[str]]:
    async with engine.connect() as connection:
        version = await connection.scalar(
            text("SELECT version_num FROM alembic_version")
        )
        tables = await connection.run_sync(
            lambda sync: sorted(inspect(sync).get_table_names())
        )
    return str(version), tables


async def _claim_wins(
    claims: list[Coroutine[Any, Any, object]],
) -> tuple[int, set[str]]:
    """How many claims won, and the error classes of those that lost."""
    outcomes = await asyncio.gather(*claims, return_exceptions=True)
    failures = {type(o).__name__ for o in outcomes if isinstance(o, BaseException)}
    return sum(not isinstance(o, BaseException) for o in outcomes), failures


async def test_migrations_run_again_change_nothing(backend: Backend) -> None:
    assert backend.engine is not None
    head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    first = await _schema(backend.engine)

    await db.migrate(backend.engine)
    await db.migrate(backend.engine)

    assert first[0] == head
    assert await _schema(backend.engine) == first
    assert {"orgs", "devices", "nonces", "certificate_authorities"} <= set(first[1])


async def test_migrated_schema_matches_the_models(backend: Backend) -> None:
    assert backend.engine is not None
    async with backend.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync), Base.metadata
            )
        )

    assert differences == []


async def test_append_only_ids_pass_32_bits(backend: Backend) -> None:
    assert backend.sessions is not None and backend.engine is not None
    beyond = 2**33
    async with backend.sessions.begin() as session:
        if backend.engine.dialect.name == "postgresql":
            await session.execute(
                text(f"ALTER SEQUENCE audit_events_id_seq RESTART WITH {beyond}")
            )
        else:  # SQLite hands out max(rowid) + 1
            record(session, datetime.now(UTC), ACTOR, "test.seed", "ok")
            await session.flush()
            await session.execute(text(f"UPDATE audit_events SET id = {beyond - 1}"))

    async with backend.sessions.begin() as session:
        record(session, datetime.now(UTC), ACTOR, "test.big", "ok")
    async with backend.sessions() as session:
        ids = (
            await session.scalars(
                select(AuditEvent.id).where(AuditEvent.event == "test.big")
            )
        ).all()

    assert ids == [beyond]


async def test_workers_migrating_a_new_database_together_both_succeed(
    database_url: str,
) -> None:
    if not database_url:
        pytest.skip("SQLite serves one host: several workers share PostgreSQL only")
    await _assert_empty(database_url)
    engines = [db.create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(db.migrate(engine) for engine in engines))

        versions = {(await _schema(engine))[0] for engine in engines}
    finally:
        for engine in engines:
            await engine.dispose()
    assert versions == {
        ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    }


async def _assert_empty(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(
                lambda sync: inspect(sync).get_table_names()
            )
    finally:
        await engine.dispose()
    assert tables == []


async def test_nonce_is_claimed_once_under_concurrency(
    backend: Backend, clock: ManualClock
) -> None:
    assert backend.sessions is not None
    principal = await _principal(backend)
    now = clock.now()
    async with backend.sessions.begin() as session:
        nonce = nonces.new_nonce(session, principal.org_id, now, timedelta(minutes=5))

    async def claim() -> bytes | None:
        assert backend.sessions is not None
        async with backend.sessions.begin() as session:
            return await nonces.claim_nonce(session, principal.org_id, nonce, now)

    wins, failures = await _claim_wins([claim() for _ in range(RACERS)])

    assert wins == 1
    assert failures == {NonceInvalid.__name__}


async def test_issue_ticket_is_claimed_once_under_concurrency(
    backend: Backend, clock: ManualClock
) -> None:
    # claim_ticket trusts the UPDATE's rowcount, which each driver reports itself.
    assert backend.sessions is not None
    service = _attestation(backend, clock)
    principal = await _principal(backend)
    outcome = await _attest(service, principal, "SN-1")

    async def claim() -> None:
        assert backend.sessions is not None
        async with backend.sessions.begin() as session:
            await nonces.claim_ticket(
                session,
                principal.org_id,
                outcome.device_id,
                outcome.issue_ticket,
                clock.now(),
            )

    wins, failures = await _claim_wins([claim() for _ in range(RACERS)])

    assert wins == 1
    assert failures == {PreconditionFailed.__name__}


async def test_crl_numbers_strictly_increase_under_concurrent_resigns(
    backend: Backend,
) -> None:
    principal = await _principal(backend, Scope.ADMIN)
    authorities = backend.authority_service()
    ca = await authorities.active_ca(
        principal.org_id, Actor(principal.org_id, principal.token_id)
    )
    start = (await authorities.get(ca.id)).crl_number

    numbers = await asyncio.gather(
        *(authorities.resign_crl(ca.id) for _ in range(RACERS))
    )

    assert sorted(numbers) == list(range(start + 1, start + RACERS + 1))
    row = await authorities.get(ca.id)
    assert row.crl_number == start + RACERS
    # The CRL stored last is the one with the highest number.
    assert row.crl_der is not None
    crl = x509.load_der_x509_crl(row.crl_der)
    stored = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert stored == start + RACERS


async def test_same_fingerprint_updates_one_device(
    backend: Backend, clock: ManualClock
) -> None:
    assert backend.sessions is not None
    service = _attestation(backend, clock)
    principal = await _principal(backend)

    first = await _attest(service, principal, "SN-1")
    clock.advance(timedelta(minutes=7))
    again = await _attest(service, principal, "SN-1")
    other = await _attest(service, principal, "SN-2")

    assert again.device_id == first.device_id
    assert other.device_id != first.device_id
    async with backend.sessions() as session:
        device = await session.get(Device, first.device_id)
        devices = await session.scalar(select(func.count()).select_from(Device))
        attestations = await session.scalar(
            select(func.count()).where(Attestation.device_id == first.device_id)
        )
    assert device is not None
    assert device.last_attested_at == clock.now()
    assert (devices, attestations) == (2, 2)


async def test_datetime_round_trips_as_aware_utc(backend: Backend) -> None:
    assert backend.sessions is not None
    india = timezone(timedelta(hours=5, minutes=30))
    written = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=india)
    await _add_org(backend, "acme", written)

    async with backend.sessions() as session:
        org = (await session.scalars(select(Org))).one()
        later = await session.scalar(
            select(func.count()).where(Org.created_at > written - timedelta(0, 0, 1))
        )

    assert org.created_at == written
    assert org.created_at.tzinfo is UTC
    assert org.created_at.hour == 21  # 03:04 at +05:30 is 21:34 the day before
    assert later == 1


async def test_naive_datetime_is_refused(backend: Backend) -> None:
    with pytest.raises(StatementError, match="naive datetimes"):
        await _add_org(backend, "acme", datetime(2026, 1, 2))


async def test_bytes_json_and_big_integers_round_trip(backend: Backend) -> None:
    assert backend.sessions is not None
    principal = await _principal(backend, Scope.ADMIN)
    authorities = backend.authority_service()
    ca = await authorities.active_ca(
        principal.org_id, Actor(principal.org_id, principal.token_id)
    )
    key = bytes(range(256))[::-1][:32]
    posture: dict[str, Any] = {
        "pcrs": {"0": "a" * 64},
        "note": "zürich ✓",
        "n": [1, 2.5, None],
    }

    async with backend.sessions.begin() as session:
        row = await session.get(CertificateAuthority, ca.id)
        assert row is not None
        row.crl_number = 2**40
        org = await session.get(Org, principal.org_id)
        assert org is not None
        org.device_id_key = key
    await _store_posture(backend, principal, posture)

    async with backend.sessions() as session:
        assert (await session.get(CertificateAuthority, ca.id)).crl_number == 2**40  # type: ignore[union-attr]
        assert (await session.get(Org, principal.org_id)).device_id_key == key  # type: ignore[union-attr]
        device = (await session.scalars(select(Device))).one()
    assert device.posture == posture
    assert await authorities.resign_crl(ca.id) == 2**40 + 1


def _attestation(backend: Backend, clock: ManualClock) -> AttestationService:
    assert backend.sessions is not None
    settings = backend.settings
    registry = VerifierRegistry.build("dev", {}, settings.verifiers.extra)
    return AttestationService(
        backend.sessions, registry, settings, Clocks(evidence=clock, issuing=clock)
    )


async def _attest(
    service: AttestationService, principal: Principal, serial: str
) -> AttestOutcome:
    challenge = await service.create_challenge(principal)
    payload = {"nonce": base64.b64encode(challenge.nonce).decode(), "serial": serial}
    actor = Actor(principal.org_id, principal.token_id)
    return await service.attest(principal, actor, "serial_number", payload)


async def _add_org(backend: Backend, name: str, created_at: datetime) -> None:
    assert backend.sessions is not None
    async with backend.sessions.begin() as session:
        session.add(
            Org(
                id=f"org_{name}",
                name=name,
                device_id_key=b"k" * 32,
                disabled=False,
                created_at=created_at,
            )
        )


async def _store_posture(
    backend: Backend, principal: Principal, posture: dict[str, Any]
) -> None:
    assert backend.sessions is not None
    now = datetime.now(UTC)
    async with backend.sessions.begin() as session:
        session.add(
            Device(
                id="dev_json",
                org_id=principal.org_id,
                fingerprint="serial_number:json",
                type="serial_number",
                posture=posture,
                posture_ok=True,
                last_attested_at=now,
                evidence_digest="0" * 64,
                created_at=now,
            )
        )
