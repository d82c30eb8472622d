"""Requests that do not decode get INVALID_ARGUMENT, not grpcio's UNKNOWN.

grpcio decodes a request before any servicer runs; a protobuf DecodeError (for
example a path parameter that is not valid UTF-8, which Envoy's transcoder passes
on as a string field) would otherwise reach the client as an UNKNOWN status whose
message names internal classes. This interceptor wraps each unary method's
deserializer so a bad request is answered like any other malformed input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from aura_grpc.api.status import rich_status


class _Undecodable:
    """Stands in for a request that could not be decoded."""


UNDECODABLE = _Undecodable()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        if deserializer is None:
            return data
        try:
            return deserializer(data)
        except DecodeError:
            return UNDECODABLE

    return decode


def _guarded(behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if request is UNDECODABLE:
            await context.abort_with_status(
                rich_status(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "the request is not a valid message (text must be UTF-8)",
                    "REQUEST_UNDECODABLE",
                )
            )
        return await behaviour(request, context)

    return call


class DecodeErrorInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _guarded(handler.unary_unary),
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
