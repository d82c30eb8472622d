"""The one place domain errors become gRPC statuses.

Each failure is logged once here (or by the domain code that already logged it),
and clients see only the error's message and stable reason: never a traceback,
a path or an internal value.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from aura_grpc import errors
from aura_grpc.logfields import REASON, REQUEST, current_request
from aura_grpc.store.faults import database_fault

log = logging.getLogger(__name__)

DOMAIN = "aura.dev"
# Messages may quote client input (an unknown scope, a device id). The message
# travels twice in trailers (grpc-message percent-encoded, up to 6x its
# characters, and inside grpc-status-details-bin), so an unbounded quote of a
# long non-ASCII value overran the trailer limit and reached clients as a
# reset stream (503): keep messages short.
MAX_MESSAGE_CHARS = 1000

# Most specific first: the first matching class decides the code.
_CODES: list[tuple[type[errors.AuraError], grpc.StatusCode]] = [
    (errors.InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.EvidenceRejected, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.NotImplementedYet, grpc.StatusCode.UNIMPLEMENTED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
]


def code_for(error: errors.AuraError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


def rich_status(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: dict[str, str] | None = None,
) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain=DOMAIN, metadata=metadata or {}
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    details = [detail, *_retry_details(metadata or {})]
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "..."
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=message, details=details
    )
    return rpc_status.to_status(status)


def _retry_details(metadata: dict[str, str]) -> list[any_pb2.Any]:
    """google.rpc.RetryInfo when the error carries a retry hint."""
    seconds = metadata.get(errors.RETRY_AFTER)
    if seconds is None:
        return []
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay={"seconds": int(seconds)}))
    return [detail]


def request_id_of(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id":
            return str(value)[:64]
    return ""


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def translate_errors(method: Handler) -> Handler:
    """Wrap a servicer method so every exception ends in a clean status."""

    @functools.wraps(method)
    async def wrapper(
        self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        bound = current_request.set(request_id_of(context))
        try:
            return await method(self, request, context)
        except errors.AuraError as exc:
            await _abort(method.__name__, exc, context)
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            fault = database_fault(exc)
            if fault is not None:
                await _abort(method.__name__, fault, context)
            request_id = request_id_of(context)
            log.exception(
                "unexpected error in %s", method.__name__, extra={REQUEST: request_id}
            )
            await context.abort_with_status(
                rich_status(
                    grpc.StatusCode.INTERNAL,
                    f"internal error (request id {request_id or 'unknown'})",
                    "INTERNAL",
                )
            )
        finally:
            current_request.reset(bound)

    return wrapper  # type: ignore[return-value]


async def _abort(
    name: str, exc: errors.AuraError, context: grpc.aio.ServicerContext[Any, Any]
) -> None:
    code = code_for(exc)
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
        log.error(
            "%s: %s",
            name,
            exc.message,
            extra={REASON: exc.reason, REQUEST: request_id_of(context)},
        )
    retry_after = exc.metadata.get(errors.RETRY_AFTER)
    if retry_after is not None:
        # Initial metadata survives the transcoder as the HTTP Retry-After
        # header (trailing metadata does not).
        await context.send_initial_metadata((("retry-after", retry_after),))
    await context.abort_with_status(
        rich_status(code, exc.message, exc.reason, exc.metadata)
    )
