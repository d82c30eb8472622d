"""SEV-SNP reference values: validation and appraisal."""

from __future__ import annotations

from typing import Any

import pytest

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.attestation.base import VerifiedEvidence
from aura_grpc.errors import ReferenceValuesInvalid

MEASUREMENT = "ab" * 48
CLAIMS: dict[str, Any] = {
    "measurement": MEASUREMENT,
    "debug": False,
    "reported_tcb": {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115},
    "azure": {"pcrs": {"0": "00" * 32}},
}


@pytest.fixture(scope="module")
def verifier() -> AzureSNPVerifier:
    return AzureSNPVerifier()


def _appraise(
    verifier: AzureSNPVerifier, document: dict[str, Any], **claims: Any
) -> list[str]:
    reference = verifier.parse_reference_values(document)
    evidence = VerifiedEvidence(fingerprint="f", claims={**CLAIMS, **claims})
    return verifier.appraise(evidence, reference)


CASES = [
    pytest.param({"measurements": [MEASUREMENT]}, {}, [],
                 id="allowed measurement without debug passes"),
    pytest.param({"measurements": [MEASUREMENT.upper()]}, {}, [],
                 id="measurements compare case-insensitively"),
    pytest.param({"measurements": []}, {}, ["measurement"],
                 id="an empty measurement list matches nothing"),
    pytest.param({"measurements": ["cd" * 48]}, {}, ["measurement"],
                 id="an unlisted measurement fails"),
    pytest.param({"measurements": [MEASUREMENT]}, {"debug": True}, ["debug"],
                 id="a debuggable guest fails by default"),
    pytest.param({"measurements": [MEASUREMENT], "allow_debug": True},
                 {"debug": True}, [], id="a debuggable guest passes when allowed"),
    pytest.param({"measurements": [MEASUREMENT], "min_tcb": {"snp": 9}}, {},
                 ["tcb"], id="an SNP level below the minimum fails"),
    pytest.param({"measurements": [MEASUREMENT],
                  "min_tcb": {"snp": 8, "microcode": 115}}, {}, [],
                 id="levels at the minimum pass"),
    pytest.param({"measurements": [MEASUREMENT], "min_tcb": {"fmc": 3}}, {}, [],
                 id="fmc is not appraised on products without it"),
    pytest.param({"measurements": [MEASUREMENT], "pcrs": {"0": ["11" * 32]}}, {},
                 ["pcr0"], id="an Azure PCR outside its list fails"),
    pytest.param({"measurements": [], "min_tcb": {"tee": 1}}, {"debug": True},
                 ["measurement", "tcb", "debug"], id="every failure is reported"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "claims", "failed"), CASES)
def test_appraisal(
    verifier: AzureSNPVerifier,
    document: dict[str, Any],
    claims: dict[str, Any],
    failed: list[str],
) -> None:
    assert _appraise(verifier, document, **claims) == failed


def test_reference_without_measurements_is_invalid(verifier: AzureSNPVerifier) -> None:
    with pytest.raises(ReferenceValuesInvalid, match="measurements"):
        verifier.parse_reference_values({"allow_debug": False})


def test_every_reference_problem_is_reported_at_once(
    verifier: AzureSNPVerifier,
) -> None:
    document = {
        "measurements": ["xyz"],
        "min_tcb": {"snp": -1, "gpu": 2},
        "allow_debug": "no",
        "colour": "blue",
        "pcrs": {"99": []},
    }
    with pytest.raises(ReferenceValuesInvalid) as caught:
        verifier.parse_reference_values(document)

    message = caught.value.message
    for word in ("colour", "xyz", "min_tcb.snp", "gpu", "allow_debug", "99"):
        assert word in message
