"""Org CAs: creation, rotation, the live trust bundle and each CA's CRL."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.crl import RevokedEntry, build_crl
from aura_grpc.ca.signers.base import KeyBackend, NewKey, SigningKey
from aura_grpc.ca.signers.imported import check_ca_certificate
from aura_grpc.clock import Clock
from aura_grpc.errors import InvalidInput, NotFound, PreconditionFailed, Unavailable
from aura_grpc.logfields import ORG
from aura_grpc.services.audit import Actor, record
from aura_grpc.store.models import CertificateAuthority, IssuedCertificate, Org

log = logging.getLogger(__name__)

ACTIVE_CA_SECONDS = 5.0
ACTIVE = "active"
RETIRING = "retiring"
RETIRED = "retired"

# Called with a CA id after its CRL or status changed and was committed.
CAObserver = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class SigningCA:
    """An unsealed CA ready to sign; kept in memory, never logged."""

    id: str
    org_id: str
    certificate: x509.Certificate
    key: SigningKey

    def __repr__(self) -> str:
        return f"SigningCA(id={self.id!r}, key=<redacted>)"

    @property
    def blocking(self) -> bool:
        """True when signing leaves the process (a token), so may block."""
        return not type(self.key).__module__.startswith("cryptography.")


class AuthorityService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyBackend,
        clock: Clock,
        crl_period: timedelta,
        create_on_first_use: bool,
        *,
        key_algorithm: str = "ed25519",
        required_key_scheme: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._key_algorithm = key_algorithm
        # The prod profile: every new CA's key must be named by such a key_ref.
        self._required_key_scheme = required_key_scheme
        self._clock = clock
        self._crl_period = crl_period
        self._create_on_first_use = create_on_first_use
        self._cache: dict[str, SigningCA] = {}
        # org id -> (monotonic time read, its active CA): saves a query per issuance.
        self._active: dict[str, tuple[float, SigningCA]] = {}
        self._observers: list[CAObserver] = []

    def close(self) -> None:
        """Let go of the key backend (the token's sessions)."""
        self._cache.clear()
        self._active.clear()
        self._keys.close()

    def add_observer(self, observer: CAObserver) -> None:
        """Tell `observer` about every committed CA or CRL change (the edge uses
        it to publish trust and revocations to Envoy at once)."""
        self._observers.append(observer)

    async def active_ca(self, org_id: str, actor: Actor) -> SigningCA:
        """The CA that issues for this org, made on first use in dev.

        Kept for ACTIVE_CA_SECONDS: after a rotation on another worker this one
        may still issue from the old CA for that long, which stays trusted
        until its last certificate expires, so nothing it issues fails.
        """
        cached = self._active.get(org_id)
        if cached is not None and time.monotonic() - cached[0] < ACTIVE_CA_SECONDS:
            return cached[1]

        async with self._sessions() as session:
            row = await self._active_row(session, org_id)
        if row is None:
            if not self._create_on_first_use:
                raise PreconditionFailed(
                    "this org has no CA yet: create one with 'aura ca create'",
                    reason="CA_MISSING",
                )
            row = await self.create_ca(org_id, actor, replace_active=False)
        signer = self._unsealed(row)
        self._active[org_id] = (time.monotonic(), signer)
        return signer

    async def create_ca(
        self,
        org_id: str,
        actor: Actor,
        *,
        replace_active: bool,
        key_ref: str | None = None,
    ) -> CertificateAuthority:
        """A new active CA; with `replace_active` the old one keeps being trusted
        (status retiring) until the last certificate it issued expires.

        The key is made by the key backend: on the token under `key_ref` (or the
        CA id as its label) for an HSM, sealed under the master key in dev.
        """
        if key_ref is not None and self._keys.scheme == "sealed":
            raise InvalidInput(
                "--key-ref needs ca_key_backend pkcs11; sealed keys have no reference",
                reason="KEY_REF_INVALID",
            )
        if key_ref is not None and not key_ref.startswith(f"{self._keys.scheme}:"):
            raise InvalidInput(
                f"this server's CA keys are {self._keys.scheme}: key_refs",
                reason="KEY_REF_INVALID",
            )
        return await self._add_ca(org_id, actor, replace_active, key_ref, None)

    async def import_ca(
        self,
        org_id: str,
        actor: Actor,
        key_ref: str,
        cert_pem: str,
        *,
        replace_active: bool,
    ) -> CertificateAuthority:
        """Adopt a key already on the token and its CA certificate."""
        cert = check_ca_certificate(cert_pem, self._clock.now())
        adopted = await asyncio.to_thread(self._keys.adopt, key_ref)
        if adopted.key.public_key() != cert.public_key():
            raise InvalidInput(
                "the certificate's public key is not the token key's",
                reason="CA_KEY_MISMATCH",
            )
        return await self._add_ca(
            org_id, actor, replace_active, key_ref, (adopted, cert)
        )

    async def _add_ca(
        self,
        org_id: str,
        actor: Actor,
        replace_active: bool,
        key_ref: str | None,
        adopted: tuple[NewKey, x509.Certificate] | None,
    ) -> CertificateAuthority:
        ca_id = f"ca_{secrets.token_hex(8)}"
        now = self._clock.now()

        async with self._sessions.begin() as session:
            org = await session.get(Org, org_id)
            if org is None:
                raise NotFound("no such org")
            current = await self._active_row(session, org_id)
            if current is not None and not replace_active:
                return current  # lost a race with another first issuance

            if current is not None:
                current.status = RETIRING
            if adopted is None:
                # Made inside the transaction, after the race check above, so a
                # lost race leaves no orphan key on the token.
                new = await asyncio.to_thread(
                    self._keys.create_key, key_ref or ca_id, self._key_algorithm
                )
                cert = make_ca_certificate(org.name, ca_id, new.key, now)
            else:
                new, cert = adopted
            self._check_key_ref(new)
            key = new.key
            row = CertificateAuthority(
                id=ca_id,
                org_id=org_id,
                status=ACTIVE,
                cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                key_sealed=new.sealed,
                key_ref=new.key_ref,
                not_after=cert.not_valid_after_utc,
                created_at=now,
                crl_number=0,
            )
            session.add(row)
            await session.flush()
            event = "ca.rotate" if current is not None else "ca.create"
            event = "ca.import" if adopted is not None else event
            record(
                session,
                now,
                actor,
                event,
                "ok",
                ca_id=ca_id,
                previous_ca_id=current.id if current else None,
            )

        self._cache[ca_id] = SigningCA(ca_id, org_id, cert, key)
        self._active.pop(org_id, None)
        log.info("%s %s", event, ca_id, extra={ORG: org_id})
        await self.resign_crl(ca_id)
        if current is not None:
            await self.resign_crl(current.id)
        return row

    async def live_cas(self, org_id: str) -> list[CertificateAuthority]:
        """The CAs a relying party must trust: the active one and any retiring one
        whose certificates have not all expired yet."""
        now = self._clock.now()
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(CertificateAuthority)
                    .where(
                        CertificateAuthority.org_id == org_id,
                        CertificateAuthority.status.in_([ACTIVE, RETIRING]),
                    )
                    .order_by(CertificateAuthority.created_at.desc())
                )
            ).all()
            live = []
            for row in rows:
                if row.status == ACTIVE or await self._has_unexpired(
                    session, row.id, now
                ):
                    live.append(row)
        return live

    async def get(self, ca_id: str) -> CertificateAuthority:
        async with self._sessions() as session:
            row = await session.get(CertificateAuthority, ca_id)
        if row is None:
            raise NotFound(f"no CA '{ca_id}'")
        return row

    async def resign_crl(self, ca_id: str) -> int:
        """Sign the CA's CRL afresh with the next number; returns that number.

        The number is bumped by an UPDATE inside the same transaction that stores
        the CRL, so concurrent re-signs (even from other workers) serialise on
        the CA row and numbers only ever go up.
        """
        async with self._sessions.begin() as session:
            await session.execute(
                update(CertificateAuthority)
                .where(CertificateAuthority.id == ca_id)
                .values(crl_number=CertificateAuthority.crl_number + 1)
            )
            row = await session.get(CertificateAuthority, ca_id, populate_existing=True)
            if row is None:
                raise NotFound(f"no CA '{ca_id}'")
            signer = self._unsealed(row)
            revoked = await self._revoked_entries(session, ca_id)
            now = self._clock.now()
            next_update = now + self._crl_period
            row.crl_der = build_crl(
                signer.certificate,
                signer.key,
                row.crl_number,
                now,
                next_update,
                revoked,
            )
            row.crl_this_update = now
            row.crl_next_update = next_update
            number = row.crl_number

        await self._notify(ca_id)
        return number

    async def resign_due_crls(self) -> list[str]:
        """Re-sign every live CA's CRL that is past half its period, so a CRL never
        lapses even when nothing is revoked."""
        now = self._clock.now()
        half = self._crl_period / 2
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(CertificateAuthority).where(
                        CertificateAuthority.status.in_([ACTIVE, RETIRING])
                    )
                )
            ).all()
        due = [
            row.id
            for row in rows
            if row.crl_next_update is None or row.crl_next_update - now <= half
        ]
        for row in rows:
            if row.id in due:
                await self._resign_or_warn(row, now)
        return due

    async def _resign_or_warn(self, row: CertificateAuthority, now: datetime) -> None:
        """A token outage must not stop the other CAs' CRLs; say how long this
        one has before its CRL lapses and locks its clients out."""
        try:
            await self.resign_crl(row.id)
        except Unavailable as exc:
            left = (row.crl_next_update - now) if row.crl_next_update else None
            log.warning(
                "CRL of %s not re-signed (%s); it lapses in %s, at nextUpdate %s",
                row.id,
                exc.message,
                left,
                row.crl_next_update.isoformat() if row.crl_next_update else "now",
                extra={ORG: row.org_id},
            )

    def _check_key_ref(self, new: NewKey) -> None:
        scheme = self._required_key_scheme
        if scheme and not (new.key_ref or "").startswith(f"{scheme}:"):
            raise PreconditionFailed(
                f"this profile keeps CA keys on an HSM: a {scheme}: key_ref is needed",
                reason="KEY_REF_REQUIRED",
            )

    async def _notify(self, ca_id: str) -> None:
        for observer in self._observers:
            try:
                await observer(ca_id)
            except Exception:
                # The change is committed; the edge's fallback poll catches up.
                log.exception("a CA observer failed for %s", ca_id)

    def _unsealed(self, row: CertificateAuthority) -> SigningCA:
        cached = self._cache.get(row.id)
        if cached is not None:
            return cached
        key = self._keys.load(row.id, row.key_ref, row.key_sealed)
        cert = x509.load_pem_x509_certificate(row.cert_pem.encode())
        signer = SigningCA(row.id, row.org_id, cert, key)
        self._cache[row.id] = signer
        return signer

    @staticmethod
    async def _active_row(
        session: AsyncSession, org_id: str
    ) -> CertificateAuthority | None:
        query = select(CertificateAuthority).where(
            CertificateAuthority.org_id == org_id, CertificateAuthority.status == ACTIVE
        )
        return (await session.scalars(query)).first()

    @staticmethod
    async def _has_unexpired(session: AsyncSession, ca_id: str, now: datetime) -> bool:
        count = await session.scalar(
            select(func.count())
            .select_from(IssuedCertificate)
            .where(IssuedCertificate.ca_id == ca_id, IssuedCertificate.not_after > now)
        )
        return bool(count)

    @staticmethod
    async def _revoked_entries(session: AsyncSession, ca_id: str) -> list[RevokedEntry]:
        # Core rows on the session's connection (same transaction): the ORM's
        # row loading cost about 0.4 s per 100k revoked certificates.
        connection = await session.connection()
        rows = await connection.execute(
            select(
                IssuedCertificate.serial,
                IssuedCertificate.revoked_at,
                IssuedCertificate.revocation_reason,
            ).where(
                IssuedCertificate.ca_id == ca_id,
                IssuedCertificate.revoked_at.is_not(None),
            )
        )
        return [
            RevokedEntry(int(serial, 16), revoked_at, reason or "unspecified")
            for serial, revoked_at, reason in rows
            if revoked_at is not None
        ]
