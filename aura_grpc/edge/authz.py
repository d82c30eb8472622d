"""Envoy's per-request check on the device listener (ext_authz, gRPC).

A TLS handshake checks the CRL once; this check runs on every request, so a
certificate revoked while its keep-alive connection is open stops working on
the next request. It reads only memory (the current `TrustSnapshot`), and on
routes with an `allowed_org` it refuses certificates of any other org's CA.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import grpc
from cryptography import x509
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import (
    external_auth_pb2,
    external_auth_pb2_grpc,
)
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from aura_grpc.edge.publisher import TrustPublisher
from aura_grpc.logfields import ORG, REASON, SERIAL

log = logging.getLogger(__name__)

CACHE_SIZE = 4096
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

# Headers the check sets on the forwarded request, replacing any a client sent.
IDENTITY_HEADERS = ("x-aura-org", "x-aura-org-id", "x-aura-device-id", "x-aura-serial")


@dataclass(frozen=True)
class PeerCertificate:
    serial: str
    issuer_der: bytes
    device_id: str
    not_after: datetime


class Denied(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def parse_peer(pem: str) -> PeerCertificate:
    cert = x509.load_pem_x509_certificate(pem.encode())
    device_id = ""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
        device_id = next(
            (u.rsplit("/device/", 1)[1] for u in uris if "/device/" in u), ""
        )
    except x509.ExtensionNotFound:
        pass
    return PeerCertificate(
        format(cert.serial_number, "x"),
        cert.issuer.public_bytes(),
        device_id,
        cert.not_valid_after_utc,
    )


class DeviceAuthorizer(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self, publisher: TrustPublisher) -> None:
        self._publisher = publisher
        self._parsed: OrderedDict[str, PeerCertificate] = OrderedDict()

    async def Check(  # noqa: N802  # the proto's method name
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        attributes = request.attributes
        try:
            headers = self._decide(
                unquote(attributes.source.certificate),
                dict(attributes.context_extensions),
            )
        except Denied as denied:
            return self._deny(denied)
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=external_auth_pb2.OkHttpResponse(headers=headers),
        )

    def _decide(self, pem: str, extensions: dict[str, str]) -> list[Any]:
        if not pem:
            raise Denied(401, "CLIENT_CERT_MISSING", "a client certificate is required")
        peer = self._peer(pem)
        snapshot = self._publisher.snapshot

        ca = snapshot.by_issuer.get(peer.issuer_der)
        if ca is None or not ca.org_id:
            raise Denied(403, "CA_UNKNOWN", "the certificate's CA is not trusted")
        if peer.serial in snapshot.revoked:
            raise Denied(403, "CERT_REVOKED", "the certificate has been revoked")
        if peer.not_after <= datetime.now(UTC):
            raise Denied(403, "CERT_EXPIRED", "the certificate has expired")
        allowed = extensions.get("allowed_org", "")
        if "allowed_org" in extensions and ca.org_name != allowed:
            log.warning(
                "certificate of another org refused on route %s",
                extensions.get("route", "?"),
                extra={ORG: ca.org_id, SERIAL: peer.serial, REASON: "ORG_NOT_ALLOWED"},
            )
            raise Denied(403, "ORG_NOT_ALLOWED", "this route is not open to your org")

        values = (ca.org_name, ca.org_id, peer.device_id, peer.serial)
        return [_header(k, v) for k, v in zip(IDENTITY_HEADERS, values, strict=True)]

    def _peer(self, pem: str) -> PeerCertificate:
        # Parsing costs more than the whole check: remember recent certificates.
        found = self._parsed.get(pem)
        if found is None:
            try:
                found = parse_peer(pem)
            except ValueError as exc:
                raise Denied(
                    401, "CLIENT_CERT_INVALID", "unreadable certificate"
                ) from exc
            self._parsed[pem] = found
            if len(self._parsed) > CACHE_SIZE:
                self._parsed.popitem(last=False)
        return found

    @staticmethod
    def _deny(denied: Denied) -> Any:
        body = json.dumps(
            {
                "code": 7 if denied.status == 403 else 16,
                "message": denied.message,
                "details": [{"reason": denied.reason}],
            }
        )
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.PERMISSION_DENIED),
            denied_response=external_auth_pb2.DeniedHttpResponse(
                status=http_status_pb2.HttpStatus(code=denied.status),
                headers=[_header("content-type", "application/json")],
                body=body,
            ),
        )


def _header(key: str, value: str) -> Any:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, value=value), append_action=OVERWRITE
    )
