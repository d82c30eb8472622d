"""GCP reference values and appraisal: no allow-all, debug refused by default."""

from __future__ import annotations

from typing import Any

import pytest

from aura_grpc.attestation.base import VerifiedEvidence
from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from aura_grpc.errors import ReferenceValuesInvalid

DIGEST = "sha256:" + "ab" * 32
STRICT = {
    "hwmodels": ["GCP_AMD_SEV_SNP"],
    "swnames": ["CONFIDENTIAL_SPACE"],
    "image_digests": [DIGEST],
}


def evidence(**overrides: Any) -> VerifiedEvidence:
    claims = {
        "hwmodel": "GCP_AMD_SEV_SNP",
        "swname": "CONFIDENTIAL_SPACE",
        "image_digest": DIGEST,
        "secboot": True,
        "debug": False,
    } | overrides
    return VerifiedEvidence(fingerprint="f", claims=claims)


@pytest.fixture(scope="module")
def verifier() -> GCPConfidentialVerifier:
    return GCPConfidentialVerifier()


def appraise(
    verifier: GCPConfidentialVerifier, reference: dict[str, Any], **claims: Any
) -> list[str]:
    return verifier.appraise(
        evidence(**claims), verifier.parse_reference_values(reference)
    )


def test_matching_workload_passes(verifier: GCPConfidentialVerifier) -> None:
    assert appraise(verifier, STRICT) == []


@pytest.mark.parametrize(
    ("claims", "failed"),
    [
        ({"hwmodel": "GCP_AMD_SEV"}, ["hwmodel"]),
        ({"swname": "GCE"}, ["swname"]),
        ({"image_digest": "sha256:" + "00" * 32}, ["image_digest"]),
        ({"secboot": False}, ["secure_boot"]),
        ({"debug": True}, ["debug"]),
    ],
    ids=["other hardware", "other software", "other image", "secure boot off", "debug"],
)
def test_each_mismatch_is_named(
    verifier: GCPConfidentialVerifier, claims: dict[str, Any], failed: list[str]
) -> None:
    assert appraise(verifier, STRICT, **claims) == failed


def test_empty_or_missing_lists_match_nothing(
    verifier: GCPConfidentialVerifier,
) -> None:
    assert appraise(verifier, {"hwmodels": []}) == ["hwmodel", "swname", "image_digest"]


def test_confidential_vm_without_an_image_is_judged_by_software_name(
    verifier: GCPConfidentialVerifier,
) -> None:
    assert (
        appraise(
            verifier, STRICT | {"swnames": ["GCE"]}, swname="GCE", image_digest=None
        )
        == []
    )


def test_debug_allowed_by_the_org(verifier: GCPConfidentialVerifier) -> None:
    assert appraise(verifier, STRICT | {"allow_debug": True}, debug=True) == []


def test_every_reference_problem_is_reported_at_once(
    verifier: GCPConfidentialVerifier,
) -> None:
    with pytest.raises(ReferenceValuesInvalid) as caught:
        verifier.parse_reference_values(
            {
                "pcr0": [],
                "hwmodels": "GCP_AMD_SEV",
                "image_digests": ["abc"],
                "allow_debug": 1,
            }
        )

    for fragment in ("unknown keys: pcr0", "hwmodels", "image_digests", "allow_debug"):
        assert fragment in caught.value.message
