"""Keeps the published trust state in step with the database.

`AuthorityService` calls `refresh` after every committed CA or CRL change (the
hook), so a revocation is in the in-memory set, and on its way to Envoy, before
the revoke call returns; a bounded poll catches changes made by other workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.clock import Clock, SystemClock
from aura_grpc.edge.trust import (
    CRLRejected,
    TrustedCA,
    TrustSnapshot,
    check_crl,
    is_current,
    placeholder_ca,
    snapshot_of,
)
from aura_grpc.logfields import ORG, REASON
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.store.models import CertificateAuthority, IssuedCertificate, Org

log = logging.getLogger(__name__)

Listener = Callable[[TrustSnapshot], None]


class TrustPublisher:
    """The current `TrustSnapshot` and who wants to hear about a new one."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        authorities: AuthorityService,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self._authorities = authorities
        # Envoy checks CRL times against the real clock, so the checks do too.
        self._clock = clock or SystemClock()
        self._placeholder = placeholder_ca(self._clock.now())
        self._good: dict[str, TrustedCA] = {}
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._snapshot = snapshot_of([self._placeholder], [])

    @property
    def snapshot(self) -> TrustSnapshot:
        return self._snapshot

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every new snapshot; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def on_ca_changed(self, ca_id: str) -> None:
        """The AuthorityService hook."""
        # TODO: re-read only `ca_id` and its org instead of every org's CAs (one
        # query per org); can go when revoke latency matters with many orgs.
        await self.refresh()

    async def refresh(self) -> TrustSnapshot:
        async with self._lock:
            now = self._clock.now()
            rows = await self._live_rows()
            cas = [ca for row, name in rows if (ca := self._accept(row, name, now))]
            revoked = await self._revoked_serials()
            self.publish(snapshot_of(cas or [self._placeholder], revoked))
            return self._snapshot

    def publish(self, snapshot: TrustSnapshot) -> None:
        """Make `snapshot` current and tell the listeners if Envoy's bytes changed."""
        changed = snapshot.version != self._snapshot.version
        self._snapshot = snapshot
        if changed:
            log.info("trust bundle %s: %d CA(s)", snapshot.version, len(snapshot.cas))
            for listener in list(self._listeners):
                listener(snapshot)

    async def poll(self, interval: float) -> None:
        """Fallback for changes this process was not told about."""
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing the trust bundle failed; will retry")
            await asyncio.sleep(interval)

    async def watch(self, interval: float) -> None:
        """Refresh as soon as any worker changes a CA or signs a CRL.

        Other workers' revocations are not announced to this process, so it asks
        the database for a cheap revision (number of CAs, sum of CRL numbers; both
        only grow) every `interval` seconds: a bounded stand-in for LISTEN/NOTIFY
        that works the same on SQLite and PostgreSQL.
        """
        seen: tuple[int, int] | None = None
        while True:
            try:
                revision = await self._revision()
                if seen is not None and revision != seen:
                    await self.refresh()
                seen = revision
            except Exception:
                log.exception("checking for trust changes failed; will retry")
            await asyncio.sleep(interval)

    async def _revision(self) -> tuple[int, int]:
        query = select(
            func.count(CertificateAuthority.id),
            func.coalesce(func.sum(CertificateAuthority.crl_number), 0),
        )
        async with self._sessions() as session:
            count, total = (await session.execute(query)).one()
        return int(count), int(total)

    def _accept(
        self, row: CertificateAuthority, org_name: str, now: datetime
    ) -> TrustedCA | None:
        previous = self._good.get(row.id)
        if previous is not None and previous.crl_number == row.crl_number:
            return self._still_valid(previous, now)
        if row.crl_der is None:
            return self._still_valid(previous, now) if previous else None

        cert = x509.load_pem_x509_certificate(row.cert_pem.encode())
        try:
            crl = check_crl(cert, row.crl_der, now)
        except CRLRejected as exc:
            log.error(
                "CRL %d of %s refused, not published: %s",
                row.crl_number,
                row.id,
                exc.message,
                extra={ORG: row.org_id, REASON: exc.reason},
            )
            return self._still_valid(previous, now) if previous else None

        accepted = TrustedCA(row.id, row.org_id, org_name, cert, crl, row.crl_number)
        self._good[row.id] = accepted
        return accepted

    @staticmethod
    def _still_valid(ca: TrustedCA | None, now: datetime) -> TrustedCA | None:
        # A kept CRL that has since lapsed would fail every handshake of the
        # bundle: leave that one CA out instead (its clients fail, no one else).
        if ca is None:
            return None
        if is_current(ca.crl, now):
            return ca
        log.error("CA %s left out: no valid CRL", ca.ca_id, extra={ORG: ca.org_id})
        return None

    async def _live_rows(self) -> list[tuple[CertificateAuthority, str]]:
        async with self._sessions() as session:
            result = await session.execute(select(Org.id, Org.name))
            orgs = {org_id: name for org_id, name in result}
            org_ids = (
                await session.scalars(select(CertificateAuthority.org_id).distinct())
            ).all()
        rows: list[tuple[CertificateAuthority, str]] = []
        for org_id in org_ids:
            for row in await self._authorities.live_cas(org_id):
                rows.append((row, orgs.get(org_id, "")))
        return rows

    async def _revoked_serials(self) -> list[str]:
        now = self._clock.now()
        query = select(IssuedCertificate.serial).where(
            IssuedCertificate.revoked_at.is_not(None),
            IssuedCertificate.not_after > now,
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())
