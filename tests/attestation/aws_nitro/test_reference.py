"""Nitro reference values and appraisal: no allow-all, debug refused by default."""

from __future__ import annotations

import pytest

from aura_grpc.attestation.aws_nitro import NitroVerifier
from aura_grpc.attestation.base import VerifiedEvidence
from aura_grpc.errors import ReferenceValuesInvalid

A, B = "aa" * 48, "bb" * 48


def evidence(debug: bool = False, **pcrs: str) -> VerifiedEvidence:
    values = {"0": A, "1": A, "2": A, "8": A} | pcrs
    return VerifiedEvidence(fingerprint="f", claims={"pcrs": values, "debug": debug})


STRICT = {"pcr0": [A], "pcr1": [A], "pcr2": [A], "pcr8": [A]}


@pytest.fixture(scope="module")
def verifier() -> NitroVerifier:
    return NitroVerifier()


def test_matching_enclave_passes(verifier: NitroVerifier) -> None:
    reference = verifier.parse_reference_values(STRICT)

    assert verifier.appraise(evidence(), reference) == []


def test_pcr_outside_the_allow_list_is_named(verifier: NitroVerifier) -> None:
    reference = verifier.parse_reference_values(STRICT)

    assert verifier.appraise(evidence(**{"0": B}), reference) == ["pcr0"]


def test_empty_or_missing_allow_list_matches_nothing(verifier: NitroVerifier) -> None:
    reference = verifier.parse_reference_values({"pcr0": [], "pcr1": [A]})

    assert verifier.appraise(evidence(), reference) == ["pcr0", "pcr2", "pcr8"]


def test_debug_enclave_fails_under_a_strict_org(verifier: NitroVerifier) -> None:
    reference = verifier.parse_reference_values(STRICT)

    assert verifier.appraise(evidence(debug=True), reference) == ["debug"]


def test_debug_enclave_passes_when_the_org_allows_debug(
    verifier: NitroVerifier,
) -> None:
    reference = verifier.parse_reference_values(STRICT | {"allow_debug": True})

    assert verifier.appraise(evidence(debug=True), reference) == []


def test_reference_values_are_normalised(verifier: NitroVerifier) -> None:
    reference = verifier.parse_reference_values({"pcr0": ["0x" + A.upper()]})

    assert reference == {"allow_debug": False, "pcr0": [A]}


def test_every_reference_problem_is_reported_at_once(verifier: NitroVerifier) -> None:
    with pytest.raises(ReferenceValuesInvalid) as caught:
        verifier.parse_reference_values(
            {"pcr3": [A], "pcr0": ["zz"], "pcr1": "aa", "allow_debug": "yes"}
        )

    message = caught.value.message
    for fragment in ("unknown keys: pcr3", "pcr0", "pcr1", "allow_debug"):
        assert fragment in message
