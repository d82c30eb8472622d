"""TDX reference values: parsing and appraisal."""

from __future__ import annotations

from typing import Any

import pytest

from aura_grpc.attestation.intel_tdx.reference import appraise_tdx, parse_tdx_reference
from aura_grpc.errors import ReferenceValuesInvalid

MRTD = "aa" * 48
CLAIMS: dict[str, Any] = {
    "mrtd": MRTD,
    "rtmr0": "00" * 48,
    "tcb_status": "UpToDate",
    "td_attributes": {"debug": False},
}


def test_defaults_accept_only_up_to_date_and_no_debug() -> None:
    reference = parse_tdx_reference({"mrtd": [MRTD.upper()]})
    assert reference == {
        "mrtd": [MRTD],
        "accepted_tcb_statuses": ["UpToDate"],
        "allow_debug": False,
    }


def test_every_problem_is_reported_at_once() -> None:
    document = {
        "rtmr0": ["zz"],
        "colour": "blue",
        "accepted_tcb_statuses": ["NoMatchingLevel"],
        "allow_debug": "yes",
    }
    with pytest.raises(ReferenceValuesInvalid) as caught:
        parse_tdx_reference(document)
    message = str(caught.value)
    for fragment in ("colour", "'mrtd'", "rtmr0", "NoMatchingLevel", "allow_debug"):
        assert fragment in message


def test_matching_claims_pass() -> None:
    reference = parse_tdx_reference({"mrtd": [MRTD], "rtmr0": ["00" * 48]})
    assert appraise_tdx(CLAIMS, reference) == []


def test_empty_mrtd_list_matches_nothing() -> None:
    assert appraise_tdx(CLAIMS, parse_tdx_reference({"mrtd": []})) == ["mrtd"]


def test_listed_rtmr_must_match() -> None:
    reference = parse_tdx_reference({"mrtd": [MRTD], "rtmr0": ["11" * 48], "rtmr3": []})
    assert appraise_tdx(CLAIMS, reference) == ["rtmr0", "rtmr3"]


def test_no_matching_level_fails_tcb_status_even_if_everything_else_matches() -> None:
    claims = CLAIMS | {"tcb_status": "NoMatchingLevel"}
    reference = parse_tdx_reference(
        {"mrtd": [MRTD], "accepted_tcb_statuses": ["UpToDate", "OutOfDate"]}
    )
    assert appraise_tdx(claims, reference) == ["tcb_status"]


def test_claims_without_attributes_count_as_debug() -> None:
    claims = {k: v for k, v in CLAIMS.items() if k != "td_attributes"}
    assert appraise_tdx(claims, parse_tdx_reference({"mrtd": [MRTD]})) == ["debug"]
