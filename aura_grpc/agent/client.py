"""gRPC calls the agent makes, over TLS to Envoy (never to the backend socket).

The API listener takes native gRPC with an org bearer token; the device
listener takes mTLS with the certificate the agent was issued.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from aura_grpc.gen.aura.v2 import (
    attest_pb2,
    attest_pb2_grpc,
    certs_pb2,
    certs_pb2_grpc,
    device_pb2,
    device_pb2_grpc,
)

_TIMEOUT = 30.0


class CallFailed(Exception):
    """A call was refused: the gRPC code, the ErrorInfo reason, the message."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(f"{code.name} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


def _failure(error: grpc.RpcError) -> CallFailed:
    call: Any = error
    reason = ""
    status = rpc_status.from_call(call)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
    return CallFailed(call.code(), reason, call.details() or "")


class APIClient(AbstractContextManager["APIClient"]):
    """AttestService and CertService on Envoy's API listener."""

    def __init__(self, target: str, root_pem: bytes, token: str) -> None:
        credentials = grpc.ssl_channel_credentials(root_certificates=root_pem)
        self._channel = grpc.secure_channel(target, credentials)
        self._metadata = (("authorization", f"Bearer {token}"),)
        # The generated stubs carry no type hints.
        attest, certs = (
            attest_pb2_grpc.AttestServiceStub,
            certs_pb2_grpc.CertServiceStub,
        )
        self._attest = attest(self._channel)  # type: ignore[no-untyped-call]
        self._certs = certs(self._channel)  # type: ignore[no-untyped-call]

    def __exit__(self, *exc: object) -> None:
        self._channel.close()

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._metadata, timeout=_TIMEOUT)
        except grpc.RpcError as error:
            raise _failure(error) from None

    def credential_challenge(
        self, ek_public: bytes, ak_public: bytes
    ) -> attest_pb2.CreateCredentialChallengeResponse:
        request = attest_pb2.CreateCredentialChallengeRequest(
            ek_public=ek_public, ak_public=ak_public
        )
        reply: attest_pb2.CreateCredentialChallengeResponse = self._call(
            self._attest.CreateCredentialChallenge, request
        )
        return reply

    def challenge(self) -> bytes:
        reply = self._call(
            self._attest.CreateChallenge, attest_pb2.CreateChallengeRequest()
        )
        return bytes(reply.nonce)

    def attest(self, payload: Mapping[str, Any]) -> attest_pb2.AttestResponse:
        body = struct_pb2.Struct()
        json_format.Parse(json.dumps(payload), body)
        request = attest_pb2.AttestRequest(type="tpm", payload=body)
        reply: attest_pb2.AttestResponse = self._call(self._attest.Attest, request)
        return reply

    def issue(self, **fields: Any) -> certs_pb2.IssueCertResponse:
        request = certs_pb2.IssueCertRequest(**fields)
        reply: certs_pb2.IssueCertResponse = self._call(self._certs.IssueCert, request)
        return reply


def whoami(
    target: str, root_pem: bytes, key_pem: bytes, chain_pem: bytes
) -> device_pb2.WhoAmIResponse:
    """DeviceService.WhoAmI over mTLS with the issued key and certificate."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root_pem, private_key=key_pem, certificate_chain=chain_pem
    )
    with grpc.secure_channel(target, credentials) as channel:
        make_stub = device_pb2_grpc.DeviceServiceStub  # generated, untyped
        stub = make_stub(channel)  # type: ignore[no-untyped-call]
        try:
            reply: device_pb2.WhoAmIResponse = stub.WhoAmI(
                device_pb2.WhoAmIRequest(), timeout=_TIMEOUT
            )
        except grpc.RpcError as error:
            raise _failure(error) from None
    return reply
