"""Each org's policy versions: upload (validated), read, test a draft."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clock
from aura_grpc.errors import InvalidInput
from aura_grpc.logfields import ORG
from aura_grpc.policy.default import DEFAULT_POLICY
from aura_grpc.policy.engine import (
    DECISIONS,
    CompiledPolicy,
    Decision,
    PolicyEngine,
    PolicyInvalid,
    compile_policy,
)
from aura_grpc.services.audit import Actor, record
from aura_grpc.store.models import IssuancePolicy

log = logging.getLogger(__name__)

# How long a worker may decide with the policy it last read (see `current`).
CURRENT_SECONDS = 2.0

POSTURE_LOSS_ACTIONS = ("revoke", "keep")
MAX_TEST_CASES = 100


@dataclass(frozen=True)
class PolicyVersion:
    version: int  # 0 is the built-in default
    compiled: CompiledPolicy
    test_cases: list[dict[str, Any]]
    on_posture_loss: str
    created_at: datetime | None


class PolicyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engine: PolicyEngine,
        clock: Clock,
        profile: str,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._clock = clock
        # Revoking at once is the safe default in production; dev keeps them.
        self._default_action = "revoke" if profile == "prod" else "keep"
        self._compiled: dict[str, CompiledPolicy] = {}
        self._current: dict[str, tuple[float, PolicyVersion]] = {}
        self._default = compile_policy(DEFAULT_POLICY)

    async def current(self, org_id: str) -> PolicyVersion:
        """The org's policy in force. Read at most every CURRENT_SECONDS: a new
        version put through another worker decides from then on; one put
        through this worker decides at once."""
        cached = self._current.get(org_id)
        if cached is not None and time.monotonic() - cached[0] < CURRENT_SECONDS:
            return cached[1]

        async with self._sessions() as session:
            row = await _latest(session, org_id)
        if row is None:
            policy = PolicyVersion(0, self._default, [], self._default_action, None)
        else:
            policy = PolicyVersion(
                row.version,
                self._compile_cached(row),
                list(row.test_cases),
                row.on_posture_loss,
                row.created_at,
            )
        self._current[org_id] = (time.monotonic(), policy)
        return policy

    async def evaluate(
        self, policy: PolicyVersion, document: Mapping[str, Any]
    ) -> Decision:
        return await self._engine.evaluate(policy.compiled, document)

    async def put(
        self,
        principal: Principal,
        actor: Actor,
        source: str,
        test_cases: Sequence[Mapping[str, Any]],
        on_posture_loss: str,
    ) -> PolicyVersion:
        if on_posture_loss and on_posture_loss not in POSTURE_LOSS_ACTIONS:
            raise InvalidInput("on_posture_loss must be 'revoke' or 'keep'")
        cases = [_check_case(i, case) for i, case in enumerate(test_cases)]
        if len(cases) > MAX_TEST_CASES:
            raise InvalidInput(f"at most {MAX_TEST_CASES} test cases")
        self._current.pop(principal.org_id, None)
        previous = await self.current(principal.org_id)
        cases = cases or previous.test_cases
        compiled = compile_policy(source)
        await self._run_cases(compiled, cases)

        async with self._sessions.begin() as session:
            latest = await _latest(session, principal.org_id)
            row = IssuancePolicy(
                org_id=principal.org_id,
                version=(latest.version if latest else 0) + 1,
                source=source,
                digest=compiled.digest,
                test_cases=cases,
                on_posture_loss=on_posture_loss or previous.on_posture_loss,
                created_at=self._clock.now(),
                created_by=principal.token_id,
            )
            session.add(row)
            record(
                session,
                row.created_at,
                actor,
                "policy.put",
                "ok",
                version=row.version,
                digest=row.digest,
                on_posture_loss=row.on_posture_loss,
            )
        self._compiled[compiled.digest] = compiled
        self._current.pop(principal.org_id, None)
        log.info("policy version %d stored", row.version, extra={ORG: row.org_id})
        return PolicyVersion(
            row.version, compiled, cases, row.on_posture_loss, row.created_at
        )

    async def test(
        self, principal: Principal, source: str, document: Mapping[str, Any]
    ) -> Decision:
        """A draft (or the policy in force) against one input; nothing is stored."""
        if source:
            compiled = compile_policy(source)
        else:
            compiled = (await self.current(principal.org_id)).compiled
        return await self._engine.evaluate(compiled, document)

    async def _run_cases(
        self, compiled: CompiledPolicy, cases: Sequence[Mapping[str, Any]]
    ) -> None:
        failures = []
        for case in cases:
            decision = await self._engine.evaluate(compiled, case["input"])
            if decision.decision != case["expect"]:
                why = f" ({decision.error})" if decision.error else ""
                failures.append(
                    f"test case '{case['name']}' expected {case['expect']} "
                    f"but got {decision.decision}{why}"
                )
        if failures:
            raise PolicyInvalid("; ".join(failures[:10]), reason="POLICY_TEST_FAILED")

    def _compile_cached(self, row: IssuancePolicy) -> CompiledPolicy:
        # Compiled once per stored version; later issuances reuse the bundle.
        compiled = self._compiled.get(row.digest)
        if compiled is None:
            compiled = self._compiled[row.digest] = compile_policy(row.source)
        return compiled


def _check_case(index: int, case: Mapping[str, Any]) -> dict[str, Any]:
    name = str(case.get("name") or f"case {index + 1}")[:100]
    expect = case.get("expect")
    document = case.get("input")
    if expect not in DECISIONS:
        raise InvalidInput(
            f"test case '{name}': expect must be one of {', '.join(DECISIONS)}"
        )
    if not isinstance(document, Mapping):
        raise InvalidInput(f"test case '{name}': input must be an object")
    return {"name": name, "input": dict(document), "expect": expect}


async def _latest(session: AsyncSession, org_id: str) -> IssuancePolicy | None:
    query = (
        select(IssuancePolicy)
        .where(IssuancePolicy.org_id == org_id)
        .order_by(IssuancePolicy.version.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()
