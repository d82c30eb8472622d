"""regopy decisions compared with expected ones, input by input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aura_grpc.policy.default import DEFAULT_POLICY
from aura_grpc.policy.engine import (
    PolicyEngine,
    PolicyInvalid,
    compile_policy,
    normalise_input,
    read_decision,
)

# Freshness, posture, key and request rules, each with a reason.
POLICY = """package aura.issuance
import rego.v1

default decision := "allow"

decision := "deny" if count(deny_reasons) > 0
decision := "require_approval" if {
    count(deny_reasons) == 0
    count(approval_reasons) > 0
}

reasons := deny_reasons if count(deny_reasons) > 0
reasons := approval_reasons if {
    count(deny_reasons) == 0
    count(approval_reasons) > 0
}

deny_reasons contains "posture not ok" if not input.device.posture.posture_ok
deny_reasons contains "failed checks" if {
    count(input.device.posture.appraisal.failed_checks) > 0
}
deny_reasons contains "attested more than an hour ago" if {
    attested := time.parse_rfc3339_ns(input.device.last_attested_at)
    now := time.parse_rfc3339_ns(input.now)
    now - attested > 3600 * 1000000000
}
deny_reasons contains "no attestation time" if not input.device.last_attested_at
deny_reasons contains "rsa keys are not accepted" if {
    startswith(input.request.key_type, "rsa")
}

approval_reasons contains "long-lived certificate" if input.request.days > 90
approval_reasons contains "server-made key" if input.request.key_source == "server"
"""

NOW = "2026-03-01T12:00:00+00:00"


def doc(**changes: Any) -> dict[str, Any]:
    """A compliant request, with dotted-path changes (None removes a field)."""
    document: dict[str, Any] = {
        "action": "issue_cert",
        "now": NOW,
        "device": {
            "id": "dev_x",
            "last_attested_at": "2026-03-01T11:30:00+00:00",
            "posture": {"posture_ok": True, "appraisal": {"failed_checks": []}},
        },
        "request": {
            "subject_cn": "a",
            "days": 30,
            "key_type": "ed25519",
            "key_source": "csr",
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = document
        for name in parents:
            target = target.setdefault(name, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return document


CASES = [
    ("a compliant request is allowed", doc(), "allow", []),
    (
        "posture not ok denies",
        doc(device__posture__posture_ok=False),
        "deny",
        ["posture not ok"],
    ),
    (
        "a missing posture_ok denies",
        doc(device__posture__posture_ok=None),
        "deny",
        ["posture not ok"],
    ),
    ("a missing posture denies", doc(device__posture=None), "deny", ["posture not ok"]),
    (
        "failed checks deny",
        doc(device__posture__appraisal={"failed_checks": ["pcr0"]}),
        "deny",
        ["failed checks"],
    ),
    (
        "an empty device denies",
        doc(device={}),
        "deny",
        ["no attestation time", "posture not ok"],
    ),
    (
        "attested 59 minutes ago is fresh",
        doc(device__last_attested_at="2026-03-01T11:01:00+00:00"),
        "allow",
        [],
    ),
    (
        "attested exactly an hour ago is fresh",
        doc(device__last_attested_at="2026-03-01T11:00:00+00:00"),
        "allow",
        [],
    ),
    (
        "attested an hour and a microsecond ago is stale",
        doc(device__last_attested_at="2026-03-01T10:59:59.999999+00:00"),
        "deny",
        ["attested more than an hour ago"],
    ),
    (
        "a Z time is read like +00:00",
        doc(device__last_attested_at="2026-03-01T11:30:00Z"),
        "allow",
        [],
    ),
    (
        "a stale Z time is still stale",
        doc(device__last_attested_at="2026-03-01T09:00:00Z"),
        "deny",
        ["attested more than an hour ago"],
    ),
    (
        "another offset is converted",
        doc(device__last_attested_at="2026-03-01T13:30:00+02:00"),
        "allow",
        [],
    ),
    (
        "an unparsable time is not fresh-checked but still allowed",
        doc(device__last_attested_at="yesterday"),
        "allow",
        [],
    ),
    (
        "a missing attestation time denies",
        doc(device__last_attested_at=None),
        "deny",
        ["no attestation time"],
    ),
    ("a missing now skips the freshness rule", doc(now=None), "allow", []),
    (
        "an rsa key denies",
        doc(request__key_type="rsa-2048"),
        "deny",
        ["rsa keys are not accepted"],
    ),
    ("90 days is allowed", doc(request__days=90), "allow", []),
    (
        "91 days needs approval",
        doc(request__days=91),
        "require_approval",
        ["long-lived certificate"],
    ),
    (
        "a server-made key needs approval",
        doc(request__key_source="server"),
        "require_approval",
        ["server-made key"],
    ),
    (
        "both approval reasons are given",
        doc(request__days=365, request__key_source="server"),
        "require_approval",
        ["long-lived certificate", "server-made key"],
    ),
    (
        "a deny wins over an approval",
        doc(request__days=365, device__posture__posture_ok=False),
        "deny",
        ["posture not ok"],
    ),
    ("a missing request field skips its rules", doc(request={}), "allow", []),
    ("an empty input denies", {}, "deny", ["no attestation time", "posture not ok"]),
]


@pytest.fixture(scope="module")
def engine() -> Iterator[PolicyEngine]:
    running = PolicyEngine()
    yield running
    running.close()


@pytest.mark.parametrize(
    ("document", "expected", "reasons"),
    [pytest.param(d, e, r, id=name) for name, d, e, r in CASES],
)
def test_regopy_decides_as_expected(
    engine: PolicyEngine, document: dict[str, Any], expected: str, reasons: list[str]
) -> None:
    decision = engine.evaluate_here(compile_policy(POLICY), document)
    assert (decision.decision, sorted(decision.reasons)) == (expected, reasons)
    assert decision.error == ""


def test_default_policy_allows_an_empty_input(engine: PolicyEngine) -> None:
    assert engine.evaluate_here(compile_policy(DEFAULT_POLICY), {}).decision == "allow"


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        pytest.param('decision := "maybe"', 'decided "maybe"', id="an unknown value"),
        pytest.param("decision := 3", "decided 3", id="a number"),
        pytest.param(
            'decision := "allow" if input.never',
            "undefined",
            id="an undefined decision",
        ),
        pytest.param(
            'decision := "allow" if input.x\ndecision := "deny" if input.x',
            "failed while evaluating",
            id="conflicting values",
        ),
    ],
)
def test_anything_but_a_clean_decision_denies(
    engine: PolicyEngine, rule: str, error: str
) -> None:
    policy = compile_policy(f"package aura.issuance\nimport rego.v1\n{rule}\n")
    decision = engine.evaluate_here(policy, {"x": True})
    assert decision.decision == "deny"
    assert error in decision.error


def test_compile_error_names_line_and_column() -> None:
    with pytest.raises(PolicyInvalid, match=r"policy\.rego:3:16"):
        compile_policy("package aura.issuance\nimport rego.v1\ndecision := if {\n")


def test_result_that_is_not_json_denies() -> None:
    assert read_decision("not json").decision == "deny"


def test_only_rfc3339_zulu_strings_are_rewritten() -> None:
    given = {"t": "2026-01-01T00:00:00Z", "n": ["Z", "2026-01-01Z"], "k": 1}
    assert normalise_input(given) == {
        "t": "2026-01-01T00:00:00+00:00",
        "n": ["Z", "2026-01-01Z"],
        "k": 1,
    }


async def test_concurrent_evaluations_agree(engine: PolicyEngine) -> None:
    import asyncio

    policy = compile_policy(POLICY)
    documents = [doc(request__days=days) for days in range(1, 200)]
    results = await asyncio.gather(*(engine.evaluate(policy, d) for d in documents))
    expected = ["allow" if d <= 90 else "require_approval" for d in range(1, 200)]
    assert [r.decision for r in results] == expected
