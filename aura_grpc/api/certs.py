"""CertService: certificates, revocation and CRLs."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import grpc
from google.api import httpbody_pb2

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.convert import timestamp
from aura_grpc.api.status import translate_errors
from aura_grpc.clock import Clock
from aura_grpc.gen.aura.v2 import certs_pb2 as pb
from aura_grpc.gen.aura.v2 import certs_pb2_grpc
from aura_grpc.services.authorities import AuthorityService
from aura_grpc.services.certificates import CertificateService, IssueRequest, status_of
from aura_grpc.store.models import IssuedCertificate

Context = grpc.aio.ServicerContext[Any, Any]
PREFIX = "/aura.v2.CertService/"
CRL_TYPE = "application/pkix-crl"


class CertServicer(certs_pb2_grpc.CertServiceServicer):
    def __init__(
        self,
        guard: CallGuard,
        certificates: CertificateService,
        authorities: AuthorityService,
        clock: Clock,
    ) -> None:
        self._guard = guard
        self._certificates = certificates
        self._authorities = authorities
        self._clock = clock

    @translate_errors
    async def IssueCert(
        self, request: pb.IssueCertRequest, context: Context
    ) -> pb.IssueCertResponse:
        principal = await self._guard.principal(context, PREFIX + "IssueCert")
        issued = await self._certificates.issue(
            principal,
            self._guard.actor(principal, context),
            IssueRequest(
                device_id=request.device_id,
                subject_cn=request.subject_cn,
                days=request.days,
                csr_pem=request.csr_pem,
                public_key_pem=request.public_key_pem,
                issue_ticket=request.issue_ticket,
                request_id=request.request_id,
            ),
        )
        return pb.IssueCertResponse(
            serial=issued.row.serial,
            cert_pem=issued.row.cert_pem,
            not_before=timestamp(issued.row.not_before),
            not_after=timestamp(issued.row.not_after),
            private_key_pem=issued.private_key_pem,
            ca_id=issued.row.ca_id,
            chain_pem=issued.chain_pem,
        )

    @translate_errors
    async def ListCerts(
        self, request: pb.ListCertsRequest, context: Context
    ) -> pb.ListCertsResponse:
        principal = await self._guard.principal(context, PREFIX + "ListCerts")
        expires_before = (
            request.expires_before.ToDatetime(tzinfo=UTC)
            if request.HasField("expires_before")
            else None
        )
        page = await self._certificates.list(
            principal,
            request.page_size,
            request.page_token,
            request.device_id,
            request.status,
            expires_before,
        )
        return pb.ListCertsResponse(
            certificates=[self._message(row) for row in page.rows],
            next_page_token=page.next_page_token,
        )

    @translate_errors
    async def RevokeCert(
        self, request: pb.RevokeCertRequest, context: Context
    ) -> pb.RevokeCertResponse:
        principal = await self._guard.principal(context, PREFIX + "RevokeCert")
        row = await self._certificates.revoke(
            principal,
            self._guard.actor(principal, context),
            request.serial,
            request.reason,
        )
        return pb.RevokeCertResponse(certificate=self._message(row))

    @translate_errors
    async def GetCRL(
        self, request: pb.GetCRLRequest, context: Context
    ) -> httpbody_pb2.HttpBody:
        principal = await self._guard.principal(context, PREFIX + "GetCRL")
        pem = await self._certificates.crl_pem(principal)
        return httpbody_pb2.HttpBody(content_type=CRL_TYPE, data=pem.encode())

    @translate_errors
    async def GetCAcrl(
        self, request: pb.GetCAcrlRequest, context: Context
    ) -> httpbody_pb2.HttpBody:
        # Public on purpose: relying parties fetch it from the CRL distribution point.
        der = await self._certificates.crl_der(request.ca_id)
        return httpbody_pb2.HttpBody(content_type=CRL_TYPE, data=der)

    @translate_errors
    async def GetCA(
        self, request: pb.GetCARequest, context: Context
    ) -> pb.GetCAResponse:
        principal = await self._guard.principal(context, PREFIX + "GetCA")
        cas = await self._authorities.live_cas(principal.org_id)
        return pb.GetCAResponse(
            cas=[
                pb.CACertificate(
                    ca_id=ca.id,
                    cert_pem=ca.cert_pem,
                    status=ca.status,
                    not_after=timestamp(ca.not_after),
                )
                for ca in cas
            ],
            bundle_pem="".join(ca.cert_pem for ca in cas),
        )

    def _message(self, row: IssuedCertificate) -> pb.Certificate:
        return pb.Certificate(
            serial=row.serial,
            device_id=row.device_id,
            subject_cn=row.subject_cn,
            not_before=timestamp(row.not_before),
            not_after=timestamp(row.not_after),
            status=status_of(row, self._clock.now()),
            revoked_at=timestamp(row.revoked_at),
            revocation_reason=row.revocation_reason or "",
            ca_id=row.ca_id,
            cert_pem=row.cert_pem,
        )
