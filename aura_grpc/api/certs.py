"""CertService: certificates, revocation and CRLs."""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.status import translate_errors
from aura_grpc.errors import NotImplementedYet
from aura_grpc.gen.aura.v2 import certs_pb2 as pb
from aura_grpc.gen.aura.v2 import certs_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
PREFIX = "/aura.v2.CertService/"


class CertServicer(certs_pb2_grpc.CertServiceServicer):
    def __init__(self, guard: CallGuard) -> None:
        self._guard = guard

    @translate_errors
    async def IssueCert(
        self, request: pb.IssueCertRequest, context: Context
    ) -> pb.IssueCertResponse:
        await self._guard.principal(context, PREFIX + "IssueCert")
        raise NotImplementedYet("certificate issuance is not implemented yet")
