"""Every gRPC method's HTTP route, read from the generated descriptors, so a
test can walk METHOD_SCOPES through Envoy without a hand-kept list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from google.api import annotations_pb2

from aura_grpc.auth.scopes import CERTIFICATE_METHODS, METHOD_SCOPES, PUBLIC
from aura_grpc.gen.aura.v2 import (
    admin_pb2,
    attest_pb2,
    certs_pb2,
    device_pb2,
    meta_pb2,
    policy_pb2,
)

FILES = (admin_pb2, attest_pb2, certs_pb2, device_pb2, meta_pb2, policy_pb2)


@dataclass(frozen=True)
class Route:
    method: str  # full gRPC name, as in METHOD_SCOPES
    verb: str
    template: str
    body: str

    def path(self, values: dict[str, str]) -> str:
        return re.sub(
            r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), self.template
        )

    def call(
        self,
        client: httpx.Client,
        values: dict[str, str],
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        path = self.path(values)
        if self.verb == "get":
            return client.get(path, params=params)
        return client.request(self.verb.upper(), path, json=body or {})


def routes() -> dict[str, Route]:
    found: dict[str, Route] = {}
    for module in FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                rule = method.GetOptions().Extensions[annotations_pb2.http]
                verb = rule.WhichOneof("pattern")
                if verb is None:
                    continue
                name = f"/{service.full_name}/{method.name}"
                found[name] = Route(name, verb, getattr(rule, verb), rule.body)
    return found


def token_methods() -> list[str]:
    """Methods that take a bearer token and need some scope."""
    return [
        m
        for m, scopes in METHOD_SCOPES.items()
        if scopes != PUBLIC and m not in CERTIFICATE_METHODS
    ]
