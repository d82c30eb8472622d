"""Issuing, listing and revoking client certificates."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.scopes import Scope
from aura_grpc.auth.tokens import Principal
from aura_grpc.ca import requested_key, serials
from aura_grpc.ca.crl import der_to_pem, parse_reason
from aura_grpc.ca.profile import BACKDATE, ClientIdentity, build_client_certificate
from aura_grpc.ca.requested_key import RequestedKey
from aura_grpc.clock import Clock
from aura_grpc.config import Settings
from aura_grpc.errors import (
    AlreadyExists,
    AuraError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from aura_grpc.logfields import DEVICE, NOT_AFTER, ORG, REASON, SERIAL
from aura_grpc.policy.hook import IssuanceGate
from aura_grpc.services import nonces
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.revocation import revoke_row
from aura_grpc.store.models import Device, IssuedCertificate

log = logging.getLogger(__name__)

_SUBJECT_CN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DEFAULT_PAGE = 50
MAX_PAGE = 500
STATUSES = ("active", "revoked", "expired")


@dataclass(frozen=True)
class IssueRequest:
    device_id: str
    subject_cn: str
    days: int
    csr_pem: str = ""
    public_key_pem: str = ""
    issue_ticket: str = ""
    request_id: str = ""
    # Set only by ApprovalService when it issues an approved request.
    approval_id: str = ""


@dataclass(frozen=True)
class Issued:
    row: IssuedCertificate
    chain_pem: str
    private_key_pem: str = ""


@dataclass(frozen=True)
class RenewalSubject:
    """What a renewal keeps (device, subject) and what it brings (key, ticket)."""

    device_id: str
    subject_cn: str
    days: int
    csr_pem: str
    issue_ticket: str


@dataclass(frozen=True)
class CertPage:
    rows: Sequence[IssuedCertificate]
    next_page_token: str


def status_of(row: IssuedCertificate, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "active" if row.not_after > now else "expired"


class CertificateService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        authorities: AuthorityService,
        settings: Settings,
        clock: Clock,
        gate: IssuanceGate | None = None,
    ) -> None:
        self._sessions = sessions
        self._authorities = authorities
        self._settings = settings
        self._clock = clock
        self._gate = gate

    async def issue(
        self, principal: Principal, actor: Actor, request: IssueRequest
    ) -> Issued:
        self._validate(request)
        if request.request_id:
            previous = await self._by_request_id(principal.org_id, request.request_id)
            if previous is not None:
                return await self._replay(previous, request)

        try:
            device = await self._eligible_device(principal, request.device_id)
            key = requested_key.requested_key(request.csr_pem, request.public_key_pem)
            self._check_bound_key(device, key)
            self._check_binding_allowed(principal, device, request)
        except PreconditionFailed as exc:
            await self._record_denial(actor, request.device_id, exc)
            raise
        write_decision = None
        if self._gate is not None:
            write_decision = await self._gate.check(
                principal, actor, device, request, key
            )

        signer = await self._authorities.active_ca(principal.org_id, actor)
        now = self._clock.now()
        not_after = min(
            now + timedelta(days=request.days), signer.certificate.not_valid_after_utc
        )
        serial = serials.new_serial()
        identity = ClientIdentity(
            principal.org_id, device.id, request.subject_cn, self._settings.trust_domain
        )
        crl_url = f"{self._settings.resolved_public_base_url}/v2/crl/{signer.id}"
        build = functools.partial(
            build_client_certificate,
            identity,
            key.public_key,
            serial,
            signer.certificate,
            signer.key,
            now - BACKDATE,
            not_after,
            crl_url,
        )
        # An in-process signature takes microseconds: a thread hop would cost
        # more than it saves. A token (HSM) may block, so it gets a thread.
        cert = await asyncio.to_thread(build) if signer.blocking else build()

        row = IssuedCertificate(
            serial=serials.to_hex(serial),
            org_id=principal.org_id,
            ca_id=signer.id,
            device_id=device.id,
            subject_cn=request.subject_cn,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            created_at=now,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            key_sha256=key.sha256,
            server_made_key=key.source == "server",
            request_id=request.request_id or None,
            revoked_at=None,
            revocation_reason=None,
        )
        try:
            async with self._sessions.begin() as session:
                if request.issue_ticket:
                    await nonces.claim_ticket(
                        session, principal.org_id, device.id, request.issue_ticket, now
                    )
                if write_decision is not None:
                    write_decision(session)
                session.add(row)
                record(
                    session,
                    now,
                    actor,
                    "cert.issue",
                    "ok",
                    device_id=device.id,
                    serial=row.serial,
                    not_after=row.not_after.isoformat(),
                    key_sha256=key.sha256,
                    key_source=key.source,
                    ca_id=signer.id,
                )
        except AuraError:
            # The certificate was not written, but the policy's decision stands.
            if write_decision is not None:
                async with self._sessions.begin() as session:
                    write_decision(session)
            raise
        except IntegrityError:
            # Another request with the same request_id won the race.
            previous = await self._by_request_id(principal.org_id, request.request_id)
            if previous is None:
                raise
            return await self._replay(previous, request)

        log.info(
            "certificate issued",
            extra={
                ORG: principal.org_id,
                DEVICE: device.id,
                SERIAL: row.serial,
                NOT_AFTER: row.not_after,
            },
        )
        return Issued(
            row,
            signer.certificate.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_key_pem,
        )

    async def renew(
        self, principal: Principal, actor: Actor, current: RenewalSubject
    ) -> Issued:
        """A new certificate for the device a verified certificate belongs to:
        same org (the principal's) and subject, a new key from a CSR, and the
        ticket of a fresh attestation of that same device (claimed in `issue`)."""
        if not current.csr_pem:
            raise InvalidInput("csr_pem is required: renewal certifies a new key")
        if not current.issue_ticket:
            raise PreconditionFailed(
                "attest the device again and give that issue_ticket",
                reason="ATTESTATION_REQUIRED",
            )
        request = IssueRequest(
            device_id=current.device_id,
            subject_cn=current.subject_cn,
            days=current.days,
            csr_pem=current.csr_pem,
            issue_ticket=current.issue_ticket,
        )
        return await self.issue(principal, actor, request)

    async def list(
        self,
        principal: Principal,
        page_size: int,
        page_token: str,
        device_id: str = "",
        status: str = "",
        expires_before: datetime | None = None,
    ) -> CertPage:
        if page_size < 0 or page_size > MAX_PAGE:
            raise InvalidInput(f"page_size must be 1 to {MAX_PAGE}")
        if status and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        size = page_size or DEFAULT_PAGE
        now = self._clock.now()
        table = IssuedCertificate

        query = select(table).where(table.org_id == principal.org_id)
        if device_id:
            query = query.where(table.device_id == device_id)
        if status == "revoked":
            query = query.where(table.revoked_at.is_not(None))
        elif status == "active":
            query = query.where(table.revoked_at.is_(None), table.not_after > now)
        elif status == "expired":
            query = query.where(table.revoked_at.is_(None), table.not_after <= now)
        if expires_before is not None:
            query = query.where(table.not_after < expires_before)
        if page_token:
            created, serial = _decode_token(page_token)
            # A row comparison, which both databases turn into an index range;
            # the equivalent OR form made PostgreSQL filter every newer entry.
            query = query.where(
                tuple_(table.created_at, table.serial) < tuple_(created, serial)
            )
        query = query.order_by(table.created_at.desc(), table.serial.desc()).limit(
            size + 1
        )

        async with self._sessions() as session:
            rows = list((await session.scalars(query)).all())
        token = _encode_token(rows[size - 1]) if len(rows) > size else ""
        return CertPage(rows[:size], token)

    async def revoke(
        self, principal: Principal, actor: Actor, serial_text: str, reason_text: str
    ) -> IssuedCertificate:
        serial = serials.normalise(serial_text)
        reason = parse_reason(reason_text)
        now = self._clock.now()

        async with self._sessions.begin() as session:
            row = await session.get(IssuedCertificate, serial)
            if row is None or row.org_id != principal.org_id:
                raise NotFound(f"no certificate with serial '{serial}'")
            if row.revoked_at is not None:
                return row  # the first revocation's time and reason stand
            revoke_row(session, actor, now, reason, row)

        # Committed first, so the revocation survives even if re-signing fails.
        await self._authorities.resign_crl(row.ca_id)
        log.info(
            "certificate revoked",
            extra={ORG: principal.org_id, DEVICE: row.device_id, SERIAL: serial},
        )
        return row

    async def crl_pem(self, principal: Principal) -> str:
        cas = await self._authorities.live_cas(principal.org_id)
        if not cas:
            raise NotFound("this org has no CA yet")
        return "".join(der_to_pem(ca.crl_der) for ca in cas if ca.crl_der)

    async def crl_der(self, ca_id: str) -> bytes:
        ca = await self._authorities.get(ca_id)
        if ca.crl_der is None:
            raise NotFound(f"no CRL for CA '{ca_id}'")
        return ca.crl_der

    def _validate(self, request: IssueRequest) -> None:
        problems = []
        if not 1 <= request.days <= self._settings.max_cert_days:
            problems.append(f"days must be 1 to {self._settings.max_cert_days}")
        if not _SUBJECT_CN.match(request.subject_cn):
            problems.append(
                "subject_cn must be 1-64 ASCII characters: letters, digits, space "
                "and ._@:-, starting with a letter or digit"
            )
        if request.request_id and not _REQUEST_ID.match(request.request_id):
            problems.append("request_id must be 1-64 characters of A-Z a-z 0-9 ._:-")
        if not request.device_id:
            problems.append("device_id is required")
        if problems:
            raise InvalidInput("; ".join(problems))

    async def _eligible_device(self, principal: Principal, device_id: str) -> Device:
        async with self._sessions() as session:
            device = await session.get(Device, device_id)
        if device is None or device.org_id != principal.org_id:
            raise NotFound(f"no device '{device_id}'")
        if not device.posture_ok:
            raise PreconditionFailed(
                "the device's last attestation did not pass appraisal",
                reason="POSTURE_NOT_OK",
            )
        window = timedelta(hours=self._settings.freshness_hours)
        if self._clock.now() - device.last_attested_at > window:
            raise PreconditionFailed(
                "the device's last attestation is too old: attest again",
                reason="ATTESTATION_STALE",
            )
        return device

    @staticmethod
    def _check_bound_key(device: Device, key: RequestedKey) -> None:
        if device.bound_key_spki is not None and device.bound_key_spki != key.spki:
            raise PreconditionFailed(
                "the device's evidence bound a different key",
                reason="KEY_NOT_BOUND",
            )

    def _check_binding_allowed(
        self, principal: Principal, device: Device, request: IssueRequest
    ) -> None:
        # A ticket (claimed when the row is written) or a key the evidence bound
        # ties the request to the device that attested. Without either, only a
        # token trusted to issue for any device may proceed: `issue_any`, or
        # `admin`, which holds every right in its org (the documented
        # three-field request). A `device` token never can, in any profile.
        if request.issue_ticket or device.bound_key_spki is not None:
            return
        if principal.scopes & {Scope.ISSUE_ANY, Scope.ADMIN}:
            return
        raise PreconditionFailed(
            "give the issue_ticket from the device's attestation",
            reason="BINDING_REQUIRED",
        )

    async def _record_denial(
        self, actor: Actor, device_id: str, exc: PreconditionFailed
    ) -> None:
        """Refusals by the issuance rules (posture, freshness, key binding) are
        security events; policy refusals are recorded by the gate."""
        async with self._sessions.begin() as session:
            record(
                session,
                self._clock.now(),
                actor,
                "cert.deny",
                "denied",
                reason=exc.reason,
                device_id=device_id[:64],
            )
        log.warning(
            "issuance refused: %s",
            exc.message,
            extra={ORG: actor.org_id, DEVICE: device_id, REASON: exc.reason},
        )

    async def _by_request_id(
        self, org_id: str, request_id: str
    ) -> IssuedCertificate | None:
        async with self._sessions() as session:
            query = select(IssuedCertificate).where(
                IssuedCertificate.org_id == org_id,
                IssuedCertificate.request_id == request_id,
            )
            return (await session.scalars(query)).first()

    async def _replay(self, row: IssuedCertificate, request: IssueRequest) -> Issued:
        # A retry must be the same request: a request_id reused for another
        # device, subject or key would otherwise hand back someone's certificate.
        same = (
            row.device_id == request.device_id and row.subject_cn == request.subject_cn
        )
        if same and (request.csr_pem or request.public_key_pem):
            key = requested_key.requested_key(request.csr_pem, request.public_key_pem)
            same = key.sha256 == row.key_sha256
        if not same:
            raise AlreadyExists(
                "this request_id was used for a different request",
                reason="REQUEST_ID_REUSED",
            )
        if row.server_made_key:
            raise AlreadyExists(
                f"request already issued certificate {row.serial}; its private key "
                "was returned once and cannot be returned again",
                reason="ALREADY_ISSUED",
            )
        ca = await self._authorities.get(row.ca_id)
        return Issued(row, ca.cert_pem)


def _encode_token(row: IssuedCertificate) -> str:
    raw = json.dumps({"c": row.created_at.isoformat(), "s": row.serial}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return datetime.fromisoformat(data["c"]), str(data["s"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput("page_token is not one this server gave out") from exc
