"""Attestation and issuance throughput through Envoy (JSON and native gRPC, driven
by h2load) and directly over gRPC to the backend (a grpc.aio client), each beside
the trivial `GetVersion` handler of the same server, in the same run."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import ssl
from typing import Any

import grpc
import httpx

from aura_grpc.gen.aura.v2 import certs_pb2, certs_pb2_grpc, meta_pb2, meta_pb2_grpc
from benchmarks import h2load
from benchmarks.load import measure
from benchmarks.running import RunningAura, running_aura
from tests.certs import public_pem
from tests.stub_evidence import StubTPM

SECONDS = float(os.environ.get("AURA_BENCH_SECONDS", "3"))
CONCURRENCY = (1, 8, 32)


def attested_device(aura: RunningAura) -> str:
    context = ssl.create_default_context(cafile=str(aura.ca_cert))
    headers = {"authorization": f"Bearer {aura.token}"}
    with httpx.Client(
        base_url=aura.base_url, verify=context, headers=headers
    ) as client:
        nonce = client.post("/v2/attest/challenge", json={}).json()["nonce"]
        payload = StubTPM().payload(nonce)
        response = client.post("/v2/attest", json={"type": "tpm", "payload": payload})
        response.raise_for_status()
        return str(response.json()["device_id"])


def issued_count(aura: RunningAura) -> int:
    with sqlite3.connect(aura.state_dir / "aura.db") as db:
        return int(db.execute("select count(*) from certificates").fetchone()[0])


def envoy_figures(aura: RunningAura, body: dict[str, Any], n: int) -> list[str]:
    auth = {"authorization": f"Bearer {aura.token}"}
    grpc_headers = {**auth, "content-type": "application/grpc", "te": "trailers"}
    issue_grpc = h2load.grpc_frame(
        certs_pb2.IssueCertRequest(**body).SerializeToString()
    )
    empty = h2load.grpc_frame(b"")

    trivial_json = h2load.run(
        "trivial GetVersion, Envoy JSON", f"{aura.base_url}/v2/version", n, SECONDS, {}
    )
    before = issued_count(aura)
    issue_json = h2load.run(
        "issue cert, Envoy JSON",
        f"{aura.base_url}/v2/certs/issue",
        n,
        SECONDS,
        {**auth, "content-type": "application/json"},
        json.dumps(body).encode(),
    )
    trivial_grpc = h2load.run(
        "trivial GetVersion, Envoy gRPC",
        f"{aura.base_url}/aura.v2.MetaService/GetVersion",
        n,
        SECONDS,
        grpc_headers,
        empty,
    )
    middle = issued_count(aura)
    issue_grpc_result = h2load.run(
        "issue cert, Envoy gRPC",
        f"{aura.base_url}/aura.v2.CertService/IssueCert",
        n,
        SECONDS,
        grpc_headers,
        issue_grpc,
    )
    after = issued_count(aura)
    return [
        trivial_json.line(),
        issue_json.line(trivial_json) + f"  (rows +{middle - before})",
        trivial_grpc.line(),
        issue_grpc_result.line(trivial_grpc) + f"  (rows +{after - middle})",
    ]


async def direct_figures(aura: RunningAura, body: dict[str, Any], n: int) -> list[str]:
    metadata = (("authorization", f"Bearer {aura.token}"),)
    async with grpc.aio.insecure_channel(f"unix:{aura.backend_socket}") as channel:
        meta = meta_pb2_grpc.MetaServiceStub(channel)
        certs = certs_pb2_grpc.CertServiceStub(channel)
        request = certs_pb2.IssueCertRequest(**body)

        async def trivial() -> None:
            await meta.GetVersion(meta_pb2.GetVersionRequest())

        async def issue() -> None:
            await certs.IssueCert(request, metadata=metadata)

        ceiling = await measure("trivial GetVersion, direct gRPC", trivial, n, SECONDS)
        issued = await measure("issue cert, direct gRPC", issue, n, SECONDS)
    return [ceiling.line(), issued.line(ceiling)]


async def attest_figures(aura: RunningAura, n: int) -> list[str]:
    """The stub attestation flow (challenge, then attest) through Envoy JSON and
    directly over gRPC; h2load cannot chain two calls, so Python clients drive it
    and each figure is beside the trivial handler driven by the same client."""
    import base64

    from google.protobuf import struct_pb2

    from aura_grpc.gen.aura.v2 import attest_pb2, attest_pb2_grpc

    device = StubTPM()
    context = ssl.create_default_context(cafile=str(aura.ca_cert))
    http = httpx.AsyncClient(
        base_url=aura.base_url,
        verify=context,
        timeout=30,
        headers={"authorization": f"Bearer {aura.token}"},
        limits=httpx.Limits(max_connections=n),
    )
    metadata = (("authorization", f"Bearer {aura.token}"),)

    async def json_trivial() -> None:
        (await http.get("/v2/version")).raise_for_status()

    async def json_attest() -> None:
        nonce = (await http.post("/v2/attest/challenge", json={})).json()["nonce"]
        body = {"type": "tpm", "payload": device.payload(nonce)}
        (await http.post("/v2/attest", json=body)).raise_for_status()

    async with grpc.aio.insecure_channel(f"unix:{aura.backend_socket}") as channel:
        meta = meta_pb2_grpc.MetaServiceStub(channel)
        attest = attest_pb2_grpc.AttestServiceStub(channel)

        async def grpc_trivial() -> None:
            await meta.GetVersion(meta_pb2.GetVersionRequest())

        async def grpc_attest() -> None:
            challenge = await attest.CreateChallenge(
                attest_pb2.CreateChallengeRequest(), metadata=metadata
            )
            payload = struct_pb2.Struct()
            payload.update(device.payload(base64.b64encode(challenge.nonce).decode()))
            request = attest_pb2.AttestRequest(type="tpm", payload=payload)
            await attest.Attest(request, metadata=metadata)

        json_ceiling = await measure(
            "trivial GetVersion, Envoy JSON (httpx)", json_trivial, n, SECONDS
        )
        json_flow = await measure(
            "attest stub flow, Envoy JSON (httpx)", json_attest, n, SECONDS
        )
        grpc_ceiling = await measure(
            "trivial GetVersion, direct gRPC", grpc_trivial, n, SECONDS
        )
        grpc_flow = await measure(
            "attest stub flow, direct gRPC", grpc_attest, n, SECONDS
        )
    await http.aclose()
    return [
        json_ceiling.line(),
        json_flow.line(json_ceiling),
        grpc_ceiling.line(),
        grpc_flow.line(grpc_ceiling),
    ]


def main() -> None:
    print(
        f"service: {SECONDS:.0f} s per figure; Envoy driven by h2load, direct gRPC "
        "by a grpc.aio client in this process",
        flush=True,
    )
    with running_aura() as aura:
        body = {
            "device_id": attested_device(aura),
            "subject_cn": "bench",
            "days": 1,
            "public_key_pem": public_pem(StubTPM().ak),
        }
        for n in CONCURRENCY:
            lines = (
                envoy_figures(aura, body, n)
                if h2load.available()
                else ["h2load not found (Debian nghttp2-client): Envoy figures skipped"]
            )
            lines += asyncio.run(direct_figures(aura, body, n))
            for line in lines:
                print(line, flush=True)
        print("attestation (two calls per flow: challenge, then attest):", flush=True)
        for n in (1, 8):
            for line in asyncio.run(attest_figures(aura, n)):
                print(line, flush=True)


if __name__ == "__main__":
    main()
