"""MetaService: unauthenticated facts about the running service."""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc import __version__
from aura_grpc.gen.aura.v2 import meta_pb2 as pb
from aura_grpc.gen.aura.v2 import meta_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class MetaServicer(meta_pb2_grpc.MetaServiceServicer):
    async def GetVersion(
        self, request: pb.GetVersionRequest, context: Context
    ) -> pb.GetVersionResponse:
        return pb.GetVersionResponse(version=__version__)
