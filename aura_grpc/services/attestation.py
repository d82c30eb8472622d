"""Challenges, attestation, devices and reference values."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc import metrics
from aura_grpc.attestation.base import VerificationContext, VerifiedEvidence
from aura_grpc.attestation.payload import NONCE_FIELD, decode_base64
from aura_grpc.attestation.registry import VerifierRegistry
from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clocks
from aura_grpc.config import Settings
from aura_grpc.errors import AuraError, EvidenceMalformed, NotFound, PermissionDenied
from aura_grpc.logfields import DEVICE, ORG, REASON, TYPE
from aura_grpc.policy.hook import PostureHook
from aura_grpc.services import activation, nonces
from aura_grpc.services.audit import Actor, record
from aura_grpc.store.models import Attestation, Device, Org, ReferenceValues

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1 << 20


@dataclass(frozen=True)
class Challenge:
    nonce: bytes
    expires_at: datetime


@dataclass(frozen=True)
class CredentialChallenge:
    """TPM2_ActivateCredential inputs, TPM2B forms with their size prefixes."""

    credential_blob: bytes
    encrypted_secret: bytes
    expires_at: datetime


@dataclass(frozen=True)
class AttestOutcome:
    device_id: str
    posture_ok: bool
    failed_checks: list[str]
    issue_ticket: str
    issue_ticket_expires_at: datetime | None


@dataclass(frozen=True)
class ReferenceDocument:
    type: str
    version: int
    values: dict[str, Any]


def derive_device_id(org_key: bytes, type_name: str, fingerprint: str) -> str:
    """Opaque and org-scoped: the same hardware in two orgs gets unrelated ids."""
    mac = hmac.new(org_key, f"{type_name}\0{fingerprint}".encode(), hashlib.sha256)
    return "dev_" + base64.b32encode(mac.digest()[:20]).decode().lower()


class AttestationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: VerifierRegistry,
        settings: Settings,
        clocks: Clocks,
        posture_hook: PostureHook | None = None,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._settings = settings
        self._clocks = clocks
        self._posture_hook = posture_hook

    async def create_challenge(self, principal: Principal) -> Challenge:
        now = self._clocks.issuing.now()
        ttl = timedelta(seconds=self._settings.nonce_ttl_seconds)
        async with self._sessions.begin() as session:
            nonce = nonces.new_nonce(session, principal.org_id, now, ttl)
        return Challenge(nonce=nonce, expires_at=now + ttl)

    async def create_credential_challenge(
        self,
        principal: Principal,
        ek_public: bytes,
        ak_public: bytes,
        ek_cert: bytes | None = None,
    ) -> CredentialChallenge:
        """A secret only the TPM holding this EK can unwrap, for this AK only."""
        wrapped = await asyncio.to_thread(
            activation.wrap_secret, ek_public, ak_public, ek_cert
        )

        now = self._clocks.issuing.now()
        ttl = timedelta(seconds=self._settings.nonce_ttl_seconds)
        async with self._sessions.begin() as session:
            nonces.seed_nonce(
                session,
                principal.org_id,
                wrapped.secret,
                now + ttl,
                binding=wrapped.binding,
            )
        return CredentialChallenge(
            wrapped.credential_blob, wrapped.encrypted_secret, now + ttl
        )

    async def attest(
        self,
        principal: Principal,
        actor: Actor,
        type_name: str,
        payload: Mapping[str, Any],
        expected_device_id: str | None = None,
    ) -> AttestOutcome:
        """Verify, appraise and store. With `expected_device_id` (a device
        re-attesting with its certificate) evidence of any other device is
        refused before anything about it is stored."""
        verifier = self._registry.get(type_name)
        raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        limit = min(verifier.max_payload_bytes, MAX_PAYLOAD_BYTES)
        if len(raw) > limit:
            raise EvidenceMalformed(
                f"payload is larger than {limit} bytes", reason="PAYLOAD_TOO_LARGE"
            )
        verifier.ensure_available()
        nonce = self._read_nonce(payload)

        # The nonce is spent before verification so a replay fails whatever the
        # evidence says; it is committed on its own for the same reason.
        try:
            async with self._sessions.begin() as session:
                binding = await nonces.claim_nonce(
                    session, principal.org_id, nonce, self._clocks.issuing.now()
                )
            context = VerificationContext(
                nonce=nonce,
                now=self._clocks.evidence.now(),
                profile=self._settings.profile,
            )
            with metrics.VERIFY_SECONDS.labels(type_name).time():
                evidence = await asyncio.to_thread(verifier.verify, payload, context)
            # An EK vouches for the AK only if this nonce went out wrapped by
            # make_credential for that EK and AK name: the verifier cannot know.
            activation.check_activation(evidence.appraisal_hints, binding)
            if expected_device_id is not None:
                await self._check_same_device(
                    principal, type_name, evidence, expected_device_id
                )
        except AuraError as exc:
            await self._record_rejection(actor, type_name, exc)
            raise

        if not evidence.evidence_digest:
            evidence = _with_digest(evidence, raw)
        return await self._store(principal, actor, type_name, evidence)

    async def get_device(
        self, principal: Principal, device_id: str
    ) -> tuple[Device, int]:
        async with self._sessions() as session:
            device = await session.get(Device, device_id)
            if device is None or device.org_id != principal.org_id:
                raise NotFound(f"no device '{device_id}'")
            count = await session.scalar(
                select(func.count()).where(Attestation.device_id == device_id)
            )
        return device, int(count or 0)

    async def put_reference_values(
        self,
        principal: Principal,
        actor: Actor,
        type_name: str,
        document: Mapping[str, Any],
    ) -> ReferenceDocument:
        verifier = self._registry.get(type_name)
        values = verifier.parse_reference_values(document)

        async with self._sessions.begin() as session:
            latest = await self._latest_reference(session, principal.org_id, type_name)
            version = (latest.version if latest else 0) + 1
            now = self._clocks.issuing.now()
            session.add(
                ReferenceValues(
                    org_id=principal.org_id,
                    type=type_name,
                    version=version,
                    document=values,
                    created_at=now,
                    created_by=principal.token_id,
                )
            )
            record(
                session,
                now,
                actor,
                "reference_values.put",
                "ok",
                type=type_name,
                version=version,
            )
        return ReferenceDocument(type_name, version, values)

    async def get_reference_values(
        self, principal: Principal, type_name: str
    ) -> ReferenceDocument:
        self._registry.get(type_name)
        async with self._sessions() as session:
            latest = await self._latest_reference(session, principal.org_id, type_name)
        if latest is None:
            raise NotFound(f"no reference values for '{type_name}'")
        return ReferenceDocument(type_name, latest.version, latest.document)

    @staticmethod
    def _read_nonce(payload: Mapping[str, Any]) -> bytes:
        value = payload.get(NONCE_FIELD)
        if not isinstance(value, str) or not value:
            raise EvidenceMalformed(
                "payload must name the server nonce it used in 'nonce'"
            )
        return decode_base64(value, NONCE_FIELD, max_bytes=64)

    async def _check_same_device(
        self,
        principal: Principal,
        type_name: str,
        evidence: VerifiedEvidence,
        expected_device_id: str,
    ) -> None:
        async with self._sessions() as session:
            org = await session.get(Org, principal.org_id)
        assert org is not None  # the principal's org was just authenticated
        device_id = derive_device_id(org.device_id_key, type_name, evidence.fingerprint)
        if device_id != expected_device_id:
            raise PermissionDenied(
                "the evidence is of another device than this certificate's",
                reason="DEVICE_MISMATCH",
            )

    async def _store(
        self,
        principal: Principal,
        actor: Actor,
        type_name: str,
        evidence: VerifiedEvidence,
    ) -> AttestOutcome:
        verifier = self._registry.get(type_name)
        now = self._clocks.issuing.now()
        fingerprint = f"{type_name}:{evidence.fingerprint}"

        async with self._sessions.begin() as session:
            org = await session.get(Org, principal.org_id)
            assert org is not None  # the principal's org was just authenticated
            device_id = derive_device_id(
                org.device_id_key, type_name, evidence.fingerprint
            )

            reference = await self._latest_reference(session, org.id, type_name)
            failed = (
                verifier.appraise(evidence, reference.document) if reference else []
            )
            # Some checks need the device's history (a TPM clock that went back).
            device = await session.get(Device, device_id)
            if device is not None:
                failed = [*failed, *verifier.appraise_history(device.posture, evidence)]
            posture = _posture(type_name, evidence, reference, failed, now)
            posture_ok = not failed

            if device is None:
                device = Device(
                    id=device_id,
                    org_id=org.id,
                    fingerprint=fingerprint,
                    type=type_name,
                    created_at=now,
                )
                session.add(device)
            device.posture = posture
            device.posture_ok = posture_ok
            device.last_attested_at = now
            device.evidence_digest = evidence.evidence_digest
            device.bound_key_spki = evidence.bound_key_spki
            await session.flush()  # the device row must exist before rows naming it
            session.add(
                Attestation(
                    org_id=org.id,
                    device_id=device_id,
                    type=type_name,
                    posture=posture,
                    posture_ok=posture_ok,
                    evidence_digest=evidence.evidence_digest,
                    attested_at=now,
                )
            )

            ticket, ticket_expiry = "", None
            if posture_ok:
                ttl = timedelta(seconds=self._settings.issue_ticket_ttl_seconds)
                ticket, ticket_expiry = nonces.new_ticket(
                    session, org.id, device_id, now, ttl
                )
            record(
                session,
                now,
                actor,
                "attestation",
                "accepted",
                device_id=device_id,
                type=type_name,
                posture_ok=posture_ok,
                failed_checks=failed,
                evidence_digest=evidence.evidence_digest,
            )

        log.info(
            "attestation accepted",
            extra={ORG: org.id, DEVICE: device_id, TYPE: type_name},
        )
        # After the commit: the new posture is stored whatever the hook does.
        if not posture_ok and self._posture_hook is not None:
            await self._posture_hook.posture_lost(org.id, device_id, actor, failed)
        return AttestOutcome(device_id, posture_ok, failed, ticket, ticket_expiry)

    async def _record_rejection(
        self, actor: Actor, type_name: str, exc: AuraError
    ) -> None:
        async with self._sessions.begin() as session:
            record(
                session,
                self._clocks.issuing.now(),
                actor,
                "attestation",
                "rejected",
                reason=exc.reason,
                type=type_name,
            )
        log.warning(
            "attestation rejected: %s",
            exc.message,
            extra={ORG: actor.org_id, TYPE: type_name, REASON: exc.reason},
        )

    @staticmethod
    async def _latest_reference(
        session: AsyncSession, org_id: str, type_name: str
    ) -> ReferenceValues | None:
        query = (
            select(ReferenceValues)
            .where(ReferenceValues.org_id == org_id, ReferenceValues.type == type_name)
            .order_by(ReferenceValues.version.desc())
            .limit(1)
        )
        return (await session.scalars(query)).first()


def _with_digest(evidence: VerifiedEvidence, raw: bytes) -> VerifiedEvidence:
    return VerifiedEvidence(
        fingerprint=evidence.fingerprint,
        claims=evidence.claims,
        bound_key_spki=evidence.bound_key_spki,
        evidence_digest=hashlib.sha256(raw).hexdigest(),
        appraisal_hints=evidence.appraisal_hints,
    )


def _posture(
    type_name: str,
    evidence: VerifiedEvidence,
    reference: ReferenceValues | None,
    failed: list[str],
    now: datetime,
) -> dict[str, Any]:
    """Claims flattened for policies, with the appraisal under reserved keys."""
    return {
        **evidence.claims,
        "type": type_name,
        "posture_ok": not failed,
        "verified_at": now.isoformat(),
        "appraisal": {
            "appraised": reference is not None,
            "reference_version": reference.version if reference else None,
            "failed_checks": failed,
        },
    }
