"""DeviceService: calls a device makes with its client certificate, no token.

Served on the device (mTLS) listener only; the caller is the certificate Envoy
verified, resolved by `CallGuard.device_identity`.
"""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc.api.attest import outcome_fields
from aura_grpc.api.calls import CallGuard
from aura_grpc.api.convert import timestamp, to_dict
from aura_grpc.api.status import request_id_of, translate_errors
from aura_grpc.errors import InvalidInput
from aura_grpc.gen.aura.v2 import device_pb2 as pb
from aura_grpc.gen.aura.v2 import device_pb2_grpc
from aura_grpc.services.attestation import AttestationService
from aura_grpc.services.audit import Actor
from aura_grpc.services.certificates import CertificateService, RenewalSubject
from aura_grpc.services.identities import DeviceIdentity

Context = grpc.aio.ServicerContext[Any, Any]
PREFIX = "/aura.v2.DeviceService/"


def _actor(identity: DeviceIdentity, context: Context) -> Actor:
    # No token behind this call: the audit row names the org and the request.
    return Actor(identity.org_id, None, request_id_of(context))


class DeviceServicer(device_pb2_grpc.DeviceServiceServicer):
    def __init__(
        self,
        guard: CallGuard,
        attestation: AttestationService,
        certificates: CertificateService,
    ) -> None:
        self._guard = guard
        self._attestation = attestation
        self._certificates = certificates

    @translate_errors
    async def WhoAmI(
        self, request: pb.WhoAmIRequest, context: Context
    ) -> pb.WhoAmIResponse:
        me = await self._guard.device_identity(context, PREFIX + "WhoAmI")
        return pb.WhoAmIResponse(
            org=me.org_name,
            org_id=me.org_id,
            device_id=me.device_id,
            subject_cn=me.subject_cn,
            serial=me.serial,
            not_after=timestamp(me.not_after),
            ca_id=me.ca_id,
        )

    @translate_errors
    async def CreateDeviceChallenge(
        self, request: pb.CreateDeviceChallengeRequest, context: Context
    ) -> pb.CreateDeviceChallengeResponse:
        method = PREFIX + "CreateDeviceChallenge"
        me = await self._guard.device_identity(context, method)
        challenge = await self._attestation.create_challenge(
            self._guard.device_principal(me, method)
        )
        return pb.CreateDeviceChallengeResponse(
            nonce=challenge.nonce, expires_at=timestamp(challenge.expires_at)
        )

    @translate_errors
    async def AttestDevice(
        self, request: pb.AttestDeviceRequest, context: Context
    ) -> pb.AttestDeviceResponse:
        method = PREFIX + "AttestDevice"
        me = await self._guard.device_identity(context, method)
        if not request.type or not request.HasField("payload"):
            raise InvalidInput("'type' and 'payload' are required")

        outcome = await self._attestation.attest(
            self._guard.device_principal(me, method),
            _actor(me, context),
            request.type,
            to_dict(request.payload),
            expected_device_id=me.device_id,
        )
        return pb.AttestDeviceResponse(**outcome_fields(outcome))

    @translate_errors
    async def RenewCert(
        self, request: pb.RenewCertRequest, context: Context
    ) -> pb.RenewCertResponse:
        method = PREFIX + "RenewCert"
        me = await self._guard.device_identity(context, method)
        subject = RenewalSubject(
            me.device_id,
            me.subject_cn,
            request.days,
            request.csr_pem,
            request.issue_ticket,
        )
        issued = await self._certificates.renew(
            self._guard.device_principal(me, method), _actor(me, context), subject
        )
        return pb.RenewCertResponse(
            serial=issued.row.serial,
            cert_pem=issued.row.cert_pem,
            not_before=timestamp(issued.row.not_before),
            not_after=timestamp(issued.row.not_after),
            ca_id=issued.row.ca_id,
            chain_pem=issued.chain_pem,
        )
