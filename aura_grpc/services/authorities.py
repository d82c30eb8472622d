"""Org CAs: creation, rotation, the live trust bundle and each CA's CRL."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.crl import RevokedEntry, build_crl
from aura_grpc.ca.sealing import MasterKey
from aura_grpc.clock import Clock
from aura_grpc.errors import NotFound, PreconditionFailed
from aura_grpc.logfields import ORG
from aura_grpc.services.audit import Actor, record
from aura_grpc.store.models import CertificateAuthority, IssuedCertificate, Org

log = logging.getLogger(__name__)

ACTIVE = "active"
RETIRING = "retiring"
RETIRED = "retired"


@dataclass(frozen=True)
class SigningCA:
    """An unsealed CA ready to sign; kept in memory, never logged."""

    id: str
    org_id: str
    certificate: x509.Certificate
    key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"SigningCA(id={self.id!r}, key=<redacted>)"


class AuthorityService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        master_key: MasterKey,
        clock: Clock,
        crl_period: timedelta,
        create_on_first_use: bool,
    ) -> None:
        self._sessions = sessions
        self._master_key = master_key
        self._clock = clock
        self._crl_period = crl_period
        self._create_on_first_use = create_on_first_use
        self._cache: dict[str, SigningCA] = {}

    async def active_ca(self, org_id: str, actor: Actor) -> SigningCA:
        """The CA that issues for this org, made on first use in dev."""
        async with self._sessions() as session:
            row = await self._active_row(session, org_id)
        if row is None:
            if not self._create_on_first_use:
                raise PreconditionFailed(
                    "this org has no CA yet: create one with 'aura ca create'",
                    reason="CA_MISSING",
                )
            row = await self.create_ca(org_id, actor, replace_active=False)
        return self._unsealed(row)

    async def create_ca(
        self, org_id: str, actor: Actor, *, replace_active: bool
    ) -> CertificateAuthority:
        """A new active CA; with `replace_active` the old one keeps being trusted
        (status retiring) until the last certificate it issued expires."""
        ca_id = f"ca_{secrets.token_hex(8)}"
        key = Ed25519PrivateKey.generate()
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
            cert = make_ca_certificate(org.name, ca_id, key, now)
            row = CertificateAuthority(
                id=ca_id,
                org_id=org_id,
                status=ACTIVE,
                cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                key_sealed=self._master_key.seal(ca_id, key),
                key_ref=None,
                not_after=cert.not_valid_after_utc,
                created_at=now,
                crl_number=0,
            )
            session.add(row)
            await session.flush()
            event = "ca.rotate" if current is not None else "ca.create"
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
            return row.crl_number

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
        for ca_id in due:
            await self.resign_crl(ca_id)
        return due

    def _unsealed(self, row: CertificateAuthority) -> SigningCA:
        cached = self._cache.get(row.id)
        if cached is not None:
            return cached
        if row.key_sealed is None:
            raise PreconditionFailed(
                "this CA's key is not held here", reason="CA_KEY_MISSING"
            )
        key = self._master_key.unseal(row.id, row.key_sealed)
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
        rows = await session.execute(
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
