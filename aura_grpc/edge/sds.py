"""A gRPC SDS server: the device listener's trust bundle and CRLs, pushed live.

Why gRPC rather than file SDS: Envoy answers every push with an ACK or a NACK
on the same stream, so a refused secret is seen (logged, and health turns
NOT_SERVING) instead of silently leaving Envoy on an old bundle; pushes reach
Envoy in a few ms with no files to rename.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import (
    common_pb2,
    secret_pb2,
)
from envoy.service.discovery.v3 import discovery_pb2
from envoy.service.secret.v3 import sds_pb2_grpc
from google.protobuf import any_pb2

from aura_grpc.edge.publisher import TrustPublisher
from aura_grpc.edge.trust import TrustSnapshot
from aura_grpc.logfields import REASON

log = logging.getLogger(__name__)

# The names envoy.yaml asks for; nothing else is served.
TRUST_SECRET = "aura_device_trust"  # noqa: S105  # a resource name, no secret
SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"  # noqa: S105  # a type URL
HEALTH_NAME = "aura.edge.DeviceTrust"

HealthSetter = Callable[[str, bool], None]


@dataclass
class SDSState:
    """What Envoy last said about our pushes (for health and for tests)."""

    sent_version: str = ""
    acked_version: str = ""
    nack_error: str = ""

    @property
    def healthy(self) -> bool:
        return bool(self.acked_version) and not self.nack_error


def trust_secret(snapshot: TrustSnapshot) -> secret_pb2.Secret:
    context = common_pb2.CertificateValidationContext(
        trusted_ca=base_pb2.DataSource(inline_bytes=snapshot.bundle_pem),
        crl=base_pb2.DataSource(inline_bytes=snapshot.crl_pem),
    )
    return secret_pb2.Secret(name=TRUST_SECRET, validation_context=context)


def response_for(snapshot: TrustSnapshot, nonce: str) -> Any:
    resource = any_pb2.Any()
    resource.Pack(trust_secret(snapshot))
    return discovery_pb2.DiscoveryResponse(
        version_info=snapshot.version,
        resources=[resource],
        type_url=SECRET_TYPE,
        nonce=nonce,
    )


class SecretDiscovery(sds_pb2_grpc.SecretDiscoveryServiceServicer):  # type: ignore[misc]
    def __init__(
        self, publisher: TrustPublisher, set_health: HealthSetter | None = None
    ) -> None:
        self._publisher = publisher
        self._set_health = set_health
        self.state = SDSState()

    async def StreamSecrets(  # noqa: N802  # the proto's method name
        self,
        request_iterator: AsyncIterator[Any],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[Any]:
        # One queue for both Envoy's requests and our changes, so a push never
        # waits for Envoy to speak and ACK/NACKs are read while we wait.
        events: asyncio.Queue[Any] = asyncio.Queue()
        unsubscribe = self._publisher.subscribe(events.put_nowait)
        reader = asyncio.create_task(self._read(request_iterator, events))
        wanted = False
        sent = ""
        try:
            while True:
                event = await events.get()
                if event is None:
                    return
                if isinstance(event, TrustSnapshot):
                    # A refresh for a new request already sent this version.
                    if wanted and event.version != sent:
                        sent = self._publisher.snapshot.version
                        yield self._push(self._publisher.snapshot)
                    continue
                if not event.response_nonce:
                    wanted = TRUST_SECRET in event.resource_names
                    if wanted and await self._caught_up():
                        sent = self._publisher.snapshot.version
                        yield self._push(self._publisher.snapshot)
                else:
                    self._acknowledge(event)
        finally:
            unsubscribe()
            reader.cancel()

    async def FetchSecrets(  # noqa: N802  # the proto's method name
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        return response_for(self._publisher.snapshot, uuid.uuid4().hex)

    async def _caught_up(self) -> bool:
        """Re-read the database before answering a new request.

        With several workers Envoy's stream may reconnect to one whose poll has
        not yet seen another worker's revocation; answering from memory would
        take Envoy back to an older CRL. If the database cannot be read, say
        nothing: Envoy keeps the secret it has, and the next refresh pushes.
        """
        try:
            await self._publisher.refresh()
        except Exception:
            log.exception("cannot refresh trust before answering Envoy; waiting")
            return False
        return True

    @staticmethod
    async def _read(requests: AsyncIterator[Any], events: asyncio.Queue[Any]) -> None:
        try:
            async for request in requests:
                events.put_nowait(request)
        finally:
            events.put_nowait(None)

    def _push(self, snapshot: TrustSnapshot) -> Any:
        self.state.sent_version = snapshot.version
        return response_for(snapshot, uuid.uuid4().hex)

    def _acknowledge(self, request: Any) -> None:
        if request.HasField("error_detail"):
            self.state.nack_error = request.error_detail.message
            log.error(
                "Envoy refused trust bundle %s (still on %s): %s",
                self.state.sent_version,
                request.version_info or "none",
                request.error_detail.message,
                extra={REASON: "SDS_NACK"},
            )
        else:
            self.state.acked_version = request.version_info
            self.state.nack_error = ""
        if self._set_health is not None:
            self._set_health(HEALTH_NAME, self.state.healthy)
