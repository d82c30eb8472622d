"""AttestService: challenges, evidence, devices, reference values."""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.convert import struct, timestamp, to_dict
from aura_grpc.api.status import translate_errors
from aura_grpc.errors import InvalidInput
from aura_grpc.gen.aura.v2 import attest_pb2 as pb
from aura_grpc.gen.aura.v2 import attest_pb2_grpc
from aura_grpc.services.attestation import AttestationService, AttestOutcome

Context = grpc.aio.ServicerContext[Any, Any]
PREFIX = "/aura.v2.AttestService/"


class AttestServicer(attest_pb2_grpc.AttestServiceServicer):
    def __init__(self, guard: CallGuard, service: AttestationService) -> None:
        self._guard = guard
        self._service = service

    @translate_errors
    async def CreateChallenge(
        self, request: pb.CreateChallengeRequest, context: Context
    ) -> pb.CreateChallengeResponse:
        principal = await self._guard.principal(context, PREFIX + "CreateChallenge")
        challenge = await self._service.create_challenge(principal)
        return pb.CreateChallengeResponse(
            nonce=challenge.nonce, expires_at=timestamp(challenge.expires_at)
        )

    @translate_errors
    async def CreateCredentialChallenge(
        self, request: pb.CreateCredentialChallengeRequest, context: Context
    ) -> pb.CreateCredentialChallengeResponse:
        method = PREFIX + "CreateCredentialChallenge"
        principal = await self._guard.principal(context, method)
        if not request.ek_public or not request.ak_public:
            raise InvalidInput("'ek_public' and 'ak_public' are required")

        challenge = await self._service.create_credential_challenge(
            principal, request.ek_public, request.ak_public, request.ek_cert or None
        )
        return pb.CreateCredentialChallengeResponse(
            credential_blob=challenge.credential_blob,
            encrypted_secret=challenge.encrypted_secret,
            expires_at=timestamp(challenge.expires_at),
        )

    @translate_errors
    async def Attest(
        self, request: pb.AttestRequest, context: Context
    ) -> pb.AttestResponse:
        principal = await self._guard.principal(context, PREFIX + "Attest")
        if not request.type:
            raise InvalidInput("'type' is required")
        if not request.HasField("payload"):
            raise InvalidInput("'payload' is required")

        outcome = await self._service.attest(
            principal,
            self._guard.actor(principal, context),
            request.type,
            to_dict(request.payload),
        )
        return pb.AttestResponse(**outcome_fields(outcome))

    @translate_errors
    async def GetDevice(
        self, request: pb.GetDeviceRequest, context: Context
    ) -> pb.GetDeviceResponse:
        principal = await self._guard.principal(context, PREFIX + "GetDevice")
        device, count = await self._service.get_device(principal, request.device_id)
        return pb.GetDeviceResponse(
            device_id=device.id,
            type=device.type,
            posture_ok=device.posture_ok,
            posture=struct(device.posture),
            last_attested_at=timestamp(device.last_attested_at),
            evidence_digest=device.evidence_digest,
            attestation_count=count,
        )

    @translate_errors
    async def PutReferenceValues(
        self, request: pb.PutReferenceValuesRequest, context: Context
    ) -> pb.PutReferenceValuesResponse:
        principal = await self._guard.principal(context, PREFIX + "PutReferenceValues")
        document = await self._service.put_reference_values(
            principal,
            self._guard.actor(principal, context),
            request.type,
            to_dict(request.values),
        )
        return pb.PutReferenceValuesResponse(
            type=document.type, version=document.version, values=struct(document.values)
        )

    @translate_errors
    async def GetReferenceValues(
        self, request: pb.GetReferenceValuesRequest, context: Context
    ) -> pb.GetReferenceValuesResponse:
        principal = await self._guard.principal(context, PREFIX + "GetReferenceValues")
        document = await self._service.get_reference_values(principal, request.type)
        return pb.GetReferenceValuesResponse(
            type=document.type, version=document.version, values=struct(document.values)
        )


def outcome_fields(outcome: AttestOutcome) -> dict[str, Any]:
    """The fields AttestResponse and the device listener's response share."""
    return {
        "device_id": outcome.device_id,
        "posture_ok": outcome.posture_ok,
        "issue_ticket": outcome.issue_ticket,
        "issue_ticket_expires_at": timestamp(outcome.issue_ticket_expires_at),
        "failed_checks": outcome.failed_checks,
    }
