"""AdminService: orgs, tokens, devices, CA rotation and the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.convert import struct, timestamp
from aura_grpc.api.status import translate_errors
from aura_grpc.auth.scopes import Scope, parse_scopes
from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clock
from aura_grpc.errors import InvalidInput, PermissionDenied
from aura_grpc.gen.aura.v2 import admin_pb2 as pb
from aura_grpc.gen.aura.v2 import admin_pb2_grpc, certs_pb2
from aura_grpc.services.audit_log import AuditLog, AuditQuery
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.certificates import status_of
from aura_grpc.services.devices import DeviceAdministration, DeviceRow
from aura_grpc.services.org_admin import OrgAdministration, TokenView
from aura_grpc.services.orgs import OrgService
from aura_grpc.store.models import AuditEvent, IssuedCertificate, Org

Context = grpc.aio.ServicerContext[Any, Any]
PREFIX = "/aura.v2.AdminService/"
MAX_TTL_SECONDS = 10 * 366 * 86400


def org_message(org: Org) -> pb.OrgInfo:
    return pb.OrgInfo(
        org_id=org.id,
        name=org.name,
        disabled=org.disabled,
        created_at=timestamp(org.created_at),
    )


def token_message(view: TokenView) -> pb.TokenInfo:
    row = view.row
    return pb.TokenInfo(
        token_id=row.id,
        org=view.org_name,
        scopes=[s for s in row.scopes.split(",") if s],
        label=row.label,
        created_at=timestamp(row.created_at),
        expires_at=timestamp(row.expires_at),
        revoked_at=timestamp(row.revoked_at),
        status=view.status,
    )


def device_message(summary: DeviceRow) -> pb.DeviceSummary:
    device = summary.device
    return pb.DeviceSummary(
        device_id=device.id,
        type=device.type,
        posture_ok=device.posture_ok,
        last_attested_at=timestamp(device.last_attested_at),
        created_at=timestamp(device.created_at),
        stale=summary.stale,
        active_certificates=summary.active_certificates,
    )


def certificate_message(row: IssuedCertificate, clock: Clock) -> certs_pb2.Certificate:
    return certs_pb2.Certificate(
        serial=row.serial,
        device_id=row.device_id,
        subject_cn=row.subject_cn,
        not_before=timestamp(row.not_before),
        not_after=timestamp(row.not_after),
        status=status_of(row, clock.now()),
        revoked_at=timestamp(row.revoked_at),
        revocation_reason=row.revocation_reason or "",
        ca_id=row.ca_id,
        cert_pem=row.cert_pem,
    )


def audit_message(row: AuditEvent) -> pb.AuditEvent:
    return pb.AuditEvent(
        id=row.id,
        at=timestamp(row.at),
        event=row.event,
        outcome=row.outcome,
        reason=row.reason,
        org_id=row.org_id or "",
        device_id=row.device_id or "",
        serial=row.serial or "",
        token_id=row.token_id or "",
        request_id=row.request_id,
        detail=struct(row.detail or {}),
    )


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        guard: CallGuard,
        orgs: OrgService,
        admin: OrgAdministration,
        devices: DeviceAdministration,
        authorities: AuthorityService,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._guard = guard
        self._orgs = orgs
        self._admin = admin
        self._devices = devices
        self._authorities = authorities
        self._audit = audit
        self._clock = clock

    async def _caller(self, context: Context, name: str) -> Principal:
        return await self._guard.principal(context, PREFIX + name)

    @translate_errors
    async def CreateOrg(
        self, request: pb.CreateOrgRequest, context: Context
    ) -> pb.CreateOrgResponse:
        principal = await self._caller(context, "CreateOrg")
        org = await self._orgs.create_org(request.name, principal.token_id)
        return pb.CreateOrgResponse(org=org_message(org))

    @translate_errors
    async def ListOrgs(
        self, request: pb.ListOrgsRequest, context: Context
    ) -> pb.ListOrgsResponse:
        await self._caller(context, "ListOrgs")
        orgs = await self._admin.list_orgs()
        return pb.ListOrgsResponse(orgs=[org_message(org) for org in orgs])

    @translate_errors
    async def DisableOrg(
        self, request: pb.DisableOrgRequest, context: Context
    ) -> pb.DisableOrgResponse:
        principal = await self._caller(context, "DisableOrg")
        actor = self._guard.actor(principal, context)
        org, rows = await self._admin.disable_org(actor, request.name)
        return pb.DisableOrgResponse(
            org=org_message(org), revoked_serials=[row.serial for row in rows]
        )

    @translate_errors
    async def CreateToken(
        self, request: pb.CreateTokenRequest, context: Context
    ) -> pb.CreateTokenResponse:
        principal = await self._caller(context, "CreateToken")
        try:
            scopes = parse_scopes(",".join(request.scopes))
        except ValueError as exc:
            raise InvalidInput(str(exc), reason="SCOPE_UNKNOWN") from exc
        if Scope.PLATFORM in scopes and Scope.PLATFORM not in principal.scopes:
            raise PermissionDenied("only a platform token can grant the platform scope")
        if not 0 <= request.ttl_seconds <= MAX_TTL_SECONDS:
            raise InvalidInput(f"ttl_seconds must be 0 to {MAX_TTL_SECONDS}")

        org = await self._admin.target_org(principal, request.org)
        expires_at = (
            self._clock.now() + timedelta(seconds=request.ttl_seconds)
            if request.ttl_seconds
            else None
        )
        token = await self._orgs.create_token(
            org.name, scopes, request.label, expires_at, principal.token_id
        )
        view = await self._admin.get_token(token.token_id)
        return pb.CreateTokenResponse(token=token_message(view), bearer=token.bearer)

    @translate_errors
    async def ListTokens(
        self, request: pb.ListTokensRequest, context: Context
    ) -> pb.ListTokensResponse:
        principal = await self._caller(context, "ListTokens")
        org = await self._admin.target_org(principal, request.org)
        views = await self._admin.list_tokens(org, request.include_revoked)
        return pb.ListTokensResponse(tokens=[token_message(v) for v in views])

    @translate_errors
    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: Context
    ) -> pb.RevokeTokenResponse:
        principal = await self._caller(context, "RevokeToken")
        actor = self._guard.actor(principal, context)
        view = await self._admin.revoke_token(principal, actor, request.token_id)
        return pb.RevokeTokenResponse(token=token_message(view))

    @translate_errors
    async def ListDevices(
        self, request: pb.ListDevicesRequest, context: Context
    ) -> pb.ListDevicesResponse:
        principal = await self._caller(context, "ListDevices")
        page = await self._devices.list_devices(
            principal, request.page_size, request.page_token
        )
        return pb.ListDevicesResponse(
            devices=[device_message(row) for row in page.rows],
            next_page_token=page.next_page_token,
        )

    @translate_errors
    async def GetDeviceHistory(
        self, request: pb.GetDeviceHistoryRequest, context: Context
    ) -> pb.GetDeviceHistoryResponse:
        principal = await self._caller(context, "GetDeviceHistory")
        history = await self._devices.history(principal, request.device_id)
        return pb.GetDeviceHistoryResponse(
            device=device_message(history.summary),
            posture=struct(history.summary.device.posture),
            attestations=[
                pb.AttestationRecord(
                    attested_at=timestamp(row.attested_at),
                    type=row.type,
                    posture_ok=row.posture_ok,
                    failed_checks=_failed_checks(row.posture),
                    evidence_digest=row.evidence_digest,
                )
                for row in history.attestations
            ],
            certificates=[
                certificate_message(row, self._clock) for row in history.certificates
            ],
        )

    @translate_errors
    async def ForgetDevice(
        self, request: pb.ForgetDeviceRequest, context: Context
    ) -> pb.ForgetDeviceResponse:
        principal = await self._caller(context, "ForgetDevice")
        actor = self._guard.actor(principal, context)
        serials = await self._devices.forget(principal, actor, request.device_id)
        return pb.ForgetDeviceResponse(
            device_id=request.device_id, revoked_serials=serials
        )

    @translate_errors
    async def RevokeDeviceCerts(
        self, request: pb.RevokeDeviceCertsRequest, context: Context
    ) -> pb.RevokeDeviceCertsResponse:
        principal = await self._caller(context, "RevokeDeviceCerts")
        actor = self._guard.actor(principal, context)
        serials = await self._devices.revoke_certificates(
            principal, actor, request.device_id, request.reason
        )
        return pb.RevokeDeviceCertsResponse(
            device_id=request.device_id, revoked_serials=serials
        )

    @translate_errors
    async def GetCert(
        self, request: pb.GetCertRequest, context: Context
    ) -> pb.GetCertResponse:
        principal = await self._caller(context, "GetCert")
        row = await self._devices.certificate(principal, request.serial)
        return pb.GetCertResponse(certificate=certificate_message(row, self._clock))

    @translate_errors
    async def RotateCA(
        self, request: pb.RotateCARequest, context: Context
    ) -> pb.RotateCAResponse:
        principal = await self._caller(context, "RotateCA")
        actor = self._guard.actor(principal, context)
        live = await self._authorities.live_cas(principal.org_id)
        previous = next((ca.id for ca in live if ca.status == "active"), "")
        row = await self._authorities.create_ca(
            principal.org_id, actor, replace_active=bool(previous)
        )
        return pb.RotateCAResponse(ca_id=row.id, previous_ca_id=previous)

    @translate_errors
    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: Context
    ) -> pb.ListAuditEventsResponse:
        principal = await self._caller(context, "ListAuditEvents")
        org = await self._admin.target_org(principal, request.org)
        page = await self._audit.query(
            AuditQuery(
                org_id=org.id,
                event=request.event,
                device_id=request.device_id,
                serial=request.serial,
                since=request.since,
                page_size=request.page_size,
                page_token=request.page_token,
                newest_first=request.newest_first,
            )
        )
        return pb.ListAuditEventsResponse(
            events=[audit_message(row) for row in page.rows],
            next_page_token=page.next_page_token,
        )


def _failed_checks(posture: dict[str, Any]) -> list[str]:
    appraisal = posture.get("appraisal")
    checks = appraisal.get("failed_checks", []) if isinstance(appraisal, dict) else []
    return [str(check) for check in checks]
