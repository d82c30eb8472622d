"""Who a verified client certificate belongs to: serial -> org, device, subject.

Envoy has already checked chain, CRL and expiry; the backend checks again from
its own records (known serial, same certificate, not revoked, not expired), so
a stale CRL at the edge never turns into access here.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.ca import serials
from aura_grpc.clock import Clock
from aura_grpc.errors import InvalidInput, Unauthenticated
from aura_grpc.store.models import IssuedCertificate, Org

FINGERPRINT_CACHE = 65536


@dataclass(frozen=True)
class DeviceIdentity:
    org_id: str
    org_name: str
    device_id: str
    subject_cn: str
    serial: str
    ca_id: str
    not_after: datetime


def certificate_sha256(cert_pem: str) -> str:
    """The fingerprint Envoy puts in x-forwarded-client-cert's `Hash`."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class DeviceIdentities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # A certificate never changes: remember its fingerprint by serial.
        self._fingerprints: dict[str, str] = {}

    async def resolve(self, serial_text: str, fingerprint: str) -> DeviceIdentity:
        """The identity behind a certificate Envoy verified, or Unauthenticated."""
        try:
            serial = serials.normalise(serial_text)
        except InvalidInput as exc:
            raise Unauthenticated("no verified client certificate") from exc

        async with self._sessions() as session:
            row = await session.get(IssuedCertificate, serial)
            org = await session.get(Org, row.org_id) if row is not None else None
        if row is None or org is None or org.disabled:
            raise Unauthenticated("this client certificate is not one AURA issued")
        self._check_usable(row, fingerprint)
        return DeviceIdentity(
            org.id,
            org.name,
            row.device_id,
            row.subject_cn,
            serial,
            row.ca_id,
            row.not_after,
        )

    def _fingerprint(self, row: IssuedCertificate) -> str:
        known = self._fingerprints.get(row.serial)
        if known is None:
            if len(self._fingerprints) >= FINGERPRINT_CACHE:
                self._fingerprints.clear()
            known = self._fingerprints[row.serial] = certificate_sha256(row.cert_pem)
        return known

    def _check_usable(self, row: IssuedCertificate, fingerprint: str) -> None:
        # The serial alone could collide across CAs; the fingerprint pins the
        # exact certificate Envoy verified.
        if not fingerprint or not hmac.compare_digest(
            self._fingerprint(row), fingerprint.lower()
        ):
            raise Unauthenticated("this client certificate is not one AURA issued")
        if row.revoked_at is not None:
            raise Unauthenticated(
                "this client certificate has been revoked", reason="CERT_REVOKED"
            )
        if row.not_after <= self._clock.now():
            raise Unauthenticated(
                "this client certificate has expired", reason="CERT_EXPIRED"
            )
