"""Policy evaluations per second, and what the policy step adds to issuance.

Evaluations: a realistic policy (freshness, posture, key and request rules) on
one thread's interpreter, beside the built-in default policy (one rule), same run.
Issuance: CertificateService.issue in process (SQLite, the dev CA) with and
without the policy gate, one at a time, alternating, on the same device.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from aura_grpc.attestation.registry import VerifierRegistry
from aura_grpc.auth.scopes import Scope
from aura_grpc.config import load_settings
from aura_grpc.policy.default import DEFAULT_POLICY
from aura_grpc.policy.engine import PolicyEngine, compile_policy
from aura_grpc.policy.wiring import PolicyParts
from aura_grpc.server import Backend
from aura_grpc.services.attestation import AttestationService
from aura_grpc.services.audit import Actor
from aura_grpc.services.certificates import CertificateService, IssueRequest
from tests.certs import public_pem
from tests.policy.test_engine import POLICY, doc
from tests.stub_evidence import StubTPM

BUDGET_SECONDS = 2.0


def evaluation_rate(engine: PolicyEngine, source: str) -> float:
    policy, document = compile_policy(source), doc(request__days=120)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < BUDGET_SECONDS:
        for _ in range(100):
            engine.evaluate_here(policy, document)
        calls += 100
    return calls / elapsed


async def latencies(
    issue: Callable[[], Awaitable[object]], other: Callable[[], Awaitable[object]]
) -> tuple[list[float], list[float]]:
    """Alternate the two so drift (a growing table, the disk) hits both alike."""
    first: list[float] = []
    second: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < 2 * BUDGET_SECONDS:
        for work, into in ((issue, first), (other, second)):
            began = time.perf_counter()
            await work()
            into.append(time.perf_counter() - began)
    return first, second


async def issuance_figures(state: Path) -> str:
    settings = load_settings(None, state_dir=state)
    backend = Backend(settings)
    sessions = await backend.open_database()
    await backend.orgs().create_org("bench")
    token = await backend.orgs().create_token("bench", frozenset({Scope.ADMIN}))
    principal = await backend.orgs().authenticate(token.bearer)
    actor = Actor(principal.org_id, principal.token_id)

    registry = VerifierRegistry.build("dev", {}, {})
    attestation = AttestationService(sessions, registry, settings, backend.clocks)
    challenge = await attestation.create_challenge(principal)
    payload = StubTPM().payload(base64.b64encode(challenge.nonce).decode())
    device = await attestation.attest(principal, actor, "tpm", payload)

    authorities = backend.authority_service()
    parts = PolicyParts.build(sessions, settings, backend.clocks.issuing)
    await parts.policies.put(principal, actor, POLICY, [], "")
    plain = CertificateService(sessions, authorities, settings, backend.clocks.issuing)
    gated = CertificateService(
        sessions, authorities, settings, backend.clocks.issuing, parts.gate
    )
    key = public_pem(ed25519.Ed25519PrivateKey.generate())
    request = IssueRequest(device.device_id, "bench", 30, public_key_pem=key)

    with_policy, without = await latencies(
        lambda: gated.issue(principal, actor, request),
        lambda: plain.issue(principal, actor, request),
    )
    parts.close()
    await backend.stop(0)
    p50_with = statistics.median(with_policy) * 1000
    p50_without = statistics.median(without) * 1000
    return (
        f"issuance p50 with policy: {p50_with:.2f} ms ({len(with_policy)} issued)  "
        f"without: {p50_without:.2f} ms ({len(without)} issued)  "
        f"added {p50_with - p50_without:.2f} ms  ratio {p50_without / p50_with:.2f}"
    )


def main() -> None:
    engine = PolicyEngine()
    realistic = evaluation_rate(engine, POLICY)
    trivial = evaluation_rate(engine, DEFAULT_POLICY)
    engine.close()
    print(
        f"policy evaluations (realistic policy, one thread): {realistic:.0f}/s  "
        f"default one-rule policy: {trivial:.0f}/s  ratio {realistic / trivial:.2f}"
    )
    with tempfile.TemporaryDirectory() as state:
        print(asyncio.run(issuance_figures(Path(state))))


if __name__ == "__main__":
    main()
