"""Compiling and evaluating issuance policies written in Rego (regopy, rego-cpp).

A policy is compiled once per version into a bundle. Evaluation runs on a small
pool of worker threads, each with its own interpreter: a shared interpreter gave
wrong answers under concurrency. Anything but a clean `allow`, `deny` or
`require_approval` (undefined, another value, an evaluation error) is a deny.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import regopy

from aura_grpc.errors import InvalidInput

PACKAGE = "aura.issuance"
DECISIONS = ("allow", "deny", "require_approval")
MAX_SOURCE_BYTES = 64 * 1024
MAX_REASONS = 20

# Our own module wraps the org's: defaults keep a missing rule apart from an
# error, and one query returns both values.
_WRAPPER = """package aura_gate
import rego.v1

default decision := "__undefined__"
decision := data.aura.issuance.decision

default reasons := []
reasons := data.aura.issuance.reasons

result := {"decision": decision, "reasons": reasons}
"""
_QUERY = "out := data.aura_gate.result"
_ERROR = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|\d+\s*\(errormsg (\d+):", re.S)
# rego-cpp parses RFC 3339 times only with a numeric offset, never with `Z`.
_ZULU_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


class PolicyInvalid(InvalidInput):
    reason = "POLICY_INVALID"


@dataclass(frozen=True)
class CompiledPolicy:
    source: str
    digest: str
    bundle: regopy.Bundle = field(repr=False, compare=False)


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: list[str]
    error: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


def compile_policy(source: str, name: str = "policy.rego") -> CompiledPolicy:
    """Compile a policy; PolicyInvalid carries the compiler's message."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise PolicyInvalid(f"a policy must be at most {MAX_SOURCE_BYTES} bytes")
    if not re.search(rf"^\s*package\s+{re.escape(PACKAGE)}\s*$", source, re.M):
        raise PolicyInvalid(f"a policy must be in 'package {PACKAGE}'")

    builder = regopy.Interpreter()
    try:
        builder.add_module(name, source)
        builder.add_module("aura_gate.rego", _WRAPPER)
        bundle = builder.build(_QUERY, [])
    except regopy.RegoError as exc:
        raise PolicyInvalid(compiler_message(str(exc), source)) from None
    if not bundle.ok():
        raise PolicyInvalid("the policy did not compile")
    return CompiledPolicy(source, hashlib.sha256(source.encode()).hexdigest(), bundle)


def compiler_message(raw: str, source: str) -> str:
    """`file:line:col: message` lines from rego-cpp's error tree."""
    lines = []
    for match in _ERROR.finditer(raw):
        offset, length = int(match.group(2)), int(match.group(3))
        text = raw[match.end() : match.end() + length]
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        lines.append(f"{match.group(1)}:{line}:{column}: {text}")
    return "; ".join(lines[:5]) or "the policy did not compile"


def normalise_input(value: Any) -> Any:
    """JSON-safe copy with `...Z` times rewritten as `...+00:00` for rego-cpp."""
    if isinstance(value, Mapping):
        return {str(k): normalise_input(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise_input(v) for v in value]
    if isinstance(value, str) and _ZULU_TIME.match(value):
        return value[:-1] + "+00:00"
    return value


def input_digest(document: Mapping[str, Any]) -> str:
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def read_decision(raw: str) -> Decision:
    """The wrapper's result as a Decision; anything unexpected denies."""
    try:
        result = json.loads(raw)
        decision, reasons = result["decision"], result["reasons"]
    except (ValueError, KeyError, TypeError):
        return Decision("deny", [], "the policy result could not be read")
    if decision == "__undefined__":
        return Decision("deny", [], "the policy left 'decision' undefined")
    if decision not in DECISIONS:
        return Decision("deny", [], f"the policy decided {json.dumps(decision)[:80]}")
    if not isinstance(reasons, list):
        reasons = [reasons]
    return Decision(decision, [str(r)[:200] for r in reasons[:MAX_REASONS]])


class PolicyEngine:
    """Evaluates compiled policies on its own threads, one interpreter each."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="policy")
        self._local = threading.local()

    def evaluate_here(
        self, policy: CompiledPolicy, document: Mapping[str, Any]
    ) -> Decision:
        """Evaluate on the calling thread (its own interpreter)."""
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = self._local.interpreter = regopy.Interpreter()
        try:
            interpreter.set_input(normalise_input(document))
            output = interpreter.query_bundle(policy.bundle)
            if not output.ok():
                return Decision("deny", [], "the policy failed while evaluating")
            if len(output) == 0 or str(output) == "undefined":
                return Decision("deny", [], "the policy gave no result")
            return read_decision(output.binding("out").json())
        except (regopy.RegoError, ValueError) as exc:
            return Decision("deny", [], f"the policy failed while evaluating: {exc}")

    async def evaluate(
        self, policy: CompiledPolicy, document: Mapping[str, Any]
    ) -> Decision:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, self.evaluate_here, policy, document
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
