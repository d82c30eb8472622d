"""Real Intel TDX quotes get the verdicts their SOURCE.md states."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aura_grpc.attestation.intel_tdx import TDXVerifier
from aura_grpc.errors import (
    ChainInvalid,
    ClaimMismatch,
    EvidenceExpired,
    EvidenceMalformed,
    EvidenceRejected,
    NonceMismatch,
    SignatureInvalid,
    Unavailable,
)
from tests.attestation.intel_tdx.conftest import TODAY, at, context, recorded_nonce

pytestmark = pytest.mark.vectors
Build = Callable[[str, str], dict[str, Any]]

GOTDX = "gotdx_tdx_prod_quote_SPR_E4_v4.bin"
GOTDX_COLLATERAL = "gotdx_collateral_fmspc50806f000000.json"
GOTDX_TIME = at("2023-07-01T00:00:00")

# (quote, collateral, time inside the collateral window, status, quote version)
VERDICTS = [
    pytest.param(
        "dcapqvl_tdx_quote",
        "dcapqvl_tdx_quote_collateral.json",
        at("2025-07-04T00:00:00"),
        "UpToDate",
        4,
        id="dcap-qvl v4 quote is UpToDate mid-window",
    ),
    pytest.param(
        "dcapqvl_tdx_quote_outdated",
        "dcapqvl_tdx_quote_outdated_collateral.json",
        at("2026-03-04T00:00:00"),
        "NoMatchingLevel",
        5,
        id="dcap-qvl v5 quote with a low SGX component matches no TCB level",
    ),
    pytest.param(
        GOTDX,
        GOTDX_COLLATERAL,
        GOTDX_TIME,
        "NoMatchingLevel",
        4,
        id="go-tdx-guest SPR E4 quote matches no TCB level in its collateral",
    ),
    pytest.param(
        "gotdx_quote_v5_sample.bin",
        "gotdx_collateral_v5_fmspc90c06f000000.json",
        at("2026-02-20T00:00:00"),
        "UpToDate",
        5,
        id="go-tdx-guest v5 sample is UpToDate with assembled collateral",
    ),
]


@pytest.mark.parametrize(("quote", "collateral", "now", "status", "version"), VERDICTS)
def test_real_quote_gets_its_stated_verdict(
    verifier: TDXVerifier,
    real_payload: Build,
    quote: str,
    collateral: str,
    now: Any,
    status: str,
    version: int,
) -> None:
    payload = real_payload(quote, collateral)
    evidence = verifier.verify(payload, context(recorded_nonce(payload), now))

    assert evidence.claims["tcb_status"] == status
    assert evidence.claims["quote_version"] == version
    assert evidence.claims["advisory_ids"] == []
    assert len(evidence.fingerprint) == 64
    json.dumps(evidence.claims)


@pytest.mark.parametrize(("quote", "collateral", "now", "status", "version"), VERDICTS)
def test_real_quote_is_rejected_today_because_its_collateral_lapsed(
    verifier: TDXVerifier,
    real_payload: Build,
    quote: str,
    collateral: str,
    now: Any,
    status: str,
    version: int,
) -> None:
    payload = real_payload(quote, collateral)
    with pytest.raises(EvidenceRejected):
        verifier.verify(payload, context(recorded_nonce(payload), TODAY))


@pytest.mark.parametrize(
    ("suffix", "error", "reason"),
    [
        ("header_0x1E", SignatureInvalid, "TDX_QUOTE_SIGNATURE_INVALID"),
        ("tdbody_0x3C", SignatureInvalid, "TDX_QUOTE_SIGNATURE_INVALID"),
        ("pckleaf_0xB77", ChainInvalid, "TDX_PCK_LEAF_INVALID"),
        ("intermediate_0xF5F", ChainInvalid, "TDX_PCK_INTERMEDIATE_INVALID"),
        ("rootcert_0x1329", ChainInvalid, "TDX_PCK_ROOT_UNTRUSTED"),
    ],
)
def test_tampered_quote_fails_with_its_own_reason(
    verifier: TDXVerifier, real_payload: Build, suffix: str, error: type, reason: str
) -> None:
    payload = real_payload(
        f"gotdx_tdx_prod_quote_SPR_E4_v4_tampered_{suffix}.bin", GOTDX_COLLATERAL
    )
    with pytest.raises(error) as caught:
        verifier.verify(payload, context(b"x", GOTDX_TIME))
    assert caught.value.reason == reason


def test_full_64_byte_report_data_is_accepted_as_nonce(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    full = base64.b64decode(payload["quote"])[48 + 520 : 48 + 584]
    evidence = verifier.verify(payload, context(full, GOTDX_TIME))
    assert evidence.claims["report_data"] == full.hex()


def test_quote_rejected_when_nonce_differs(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    with pytest.raises(NonceMismatch):
        verifier.verify(payload, context(b"another nonce", GOTDX_TIME))


@pytest.mark.parametrize(
    "now",
    [at("2023-06-17T00:00:00"), at("2023-07-19T00:00:00")],
    ids=["before the TCB Info was issued", "after its nextUpdate"],
)
def test_collateral_outside_its_window_is_expired(
    verifier: TDXVerifier, real_payload: Build, now: Any
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    with pytest.raises(EvidenceExpired) as caught:
        verifier.verify(payload, context(recorded_nonce(payload), now))
    assert caught.value.reason == "TDX_COLLATERAL_EXPIRED"


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("tcb_info", "TDX_TCB_INFO_SIGNATURE_INVALID"),
        ("qe_identity", "TDX_QE_IDENTITY_SIGNATURE_INVALID"),
    ],
)
def test_edited_collateral_fails_its_signature(
    verifier: TDXVerifier, real_payload: Build, field: str, reason: str
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    payload["collateral"][field] = (
        payload["collateral"][field]
        .replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"')
        .replace('"version":', '"version": ')
    )
    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(payload, context(recorded_nonce(payload), GOTDX_TIME))
    assert caught.value.reason == reason


def test_collateral_for_another_platform_is_refused(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    # A B0C06F000000 quote with the (valid, Intel-signed) 90C06F000000 collateral.
    payload = real_payload(
        "dcapqvl_tdx_quote", "dcapqvl_tdx_quote_outdated_collateral.json"
    )
    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(
            payload, context(recorded_nonce(payload), at("2026-03-04T00:00:00"))
        )
    assert caught.value.reason == "TDX_COLLATERAL_FMSPC_MISMATCH"


def test_missing_collateral_without_cache_is_malformed(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    del payload["collateral"]
    with pytest.raises(EvidenceMalformed) as caught:
        verifier.verify(payload, context(recorded_nonce(payload), GOTDX_TIME))
    assert caught.value.reason == "TDX_COLLATERAL_MISSING"


def test_collateral_is_read_from_the_cache_directory_by_fmspc(
    real_payload: Build, tmp_path: Path
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    (tmp_path / "50806f000000.json").write_text(json.dumps(payload.pop("collateral")))
    cached = TDXVerifier.from_options({"collateral_dir": str(tmp_path)}, "prod")

    evidence = cached.verify(payload, context(recorded_nonce(payload), GOTDX_TIME))
    assert evidence.claims["fmspc"] == "50806f000000"


def test_cache_miss_is_unavailable_not_the_clients_fault(
    real_payload: Build, tmp_path: Path
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    del payload["collateral"]
    cached = TDXVerifier.from_options({"collateral_dir": str(tmp_path)}, "prod")
    with pytest.raises(Unavailable):
        cached.verify(payload, context(recorded_nonce(payload), GOTDX_TIME))


def test_claims_carry_the_posture_fields(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    payload = real_payload(
        "gotdx_quote_v5_sample.bin", "gotdx_collateral_v5_fmspc90c06f000000.json"
    )
    evidence = verifier.verify(
        payload, context(recorded_nonce(payload), at("2026-02-20T00:00:00"))
    )

    claims = evidence.claims
    for name in (
        "mrtd",
        "rtmr0",
        "rtmr1",
        "rtmr2",
        "rtmr3",
        "mr_config_id",
        "mr_owner",
    ):
        assert len(claims[name]) == 96
    assert claims["td_attributes"]["debug"] is False
    assert claims["fmspc"] == "90c06f000000"
    assert claims["tee_tcb_svn"] == "0b010400000000000000000000000000"
    assert claims["tee_tcb_svn2"] == "0d010400000000000000000000000000"
    assert len(claims["xfam"]) == 16


def test_same_platform_gives_the_same_fingerprint(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    payload = real_payload(GOTDX, GOTDX_COLLATERAL)
    nonce = recorded_nonce(payload)
    first = verifier.verify(payload, context(nonce, GOTDX_TIME))
    again = verifier.verify(copy.deepcopy(payload), context(nonce, GOTDX_TIME))
    assert first.fingerprint == again.fingerprint
    assert first.evidence_digest != ""


def test_sgx_quote_is_not_tdx_evidence(
    verifier: TDXVerifier, real_payload: Build
) -> None:
    payload = real_payload("dcapqvl_sgx_quote", "dcapqvl_sgx_quote_collateral.json")
    with pytest.raises(EvidenceMalformed):
        verifier.verify(payload, context(b"Hello, world!", at("2025-07-04T00:00:00")))
