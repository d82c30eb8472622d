"""Azure TDX CVM evidence: HCL report + TD quote + vTPM quote (trustee's real sample).

No Intel collateral for this platform (FMSPC 00806F050000, 2023-09) is among the
vectors, so the full verification can only get as far as the collateral check;
the stages before it are tested on their own and must all pass.
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aura_grpc.attestation.intel_tdx import TDXVerifier, azure
from aura_grpc.errors import (
    ClaimMismatch,
    EvidenceExpired,
    EvidenceMalformed,
    NonceMismatch,
)
from tests.attestation.intel_tdx.conftest import context

pytestmark = pytest.mark.vectors
WHEN = datetime(2023, 9, 20, tzinfo=UTC)
NONCE = b"challenge"
TPM_ALG_RSASSA, TPM_ALG_SHA256 = 0x0014, 0x000B


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def azure_payload(vectors: Path) -> dict[str, Any]:
    folder = vectors / "azure" / "hcl_tdx"
    recorded = json.loads((folder / "trustee_tpm-quote-v1.json").read_text())
    signature = bytes.fromhex(recorded["signature"])
    tpmt = (
        struct.pack(">HHH", TPM_ALG_RSASSA, TPM_ALG_SHA256, len(signature)) + signature
    )
    collateral = json.loads(
        (vectors / "tdx" / "gotdx_collateral_fmspc50806f000000.json").read_text()
    )
    return {
        "hcl_report": b64((folder / "trustee_hcl-report.bin").read_bytes()),
        "td_quote": b64((folder / "trustee_td-quote.bin").read_bytes()),
        "tpm_quote": {
            "quote": b64(bytes.fromhex(recorded["message"])),
            "signature": b64(tpmt),
            "pcrs": {str(i): pcr for i, pcr in enumerate(recorded["pcrs"])},
        },
        "collateral": collateral,
    }


def test_every_stage_before_the_collateral_verifies(
    verifier: TDXVerifier, azure_payload: dict[str, Any]
) -> None:
    report, tdreport_data = azure.parse_tdx_hcl_report(
        base64.b64decode(azure_payload["hcl_report"])
    )
    quote, _, pck_info = verifier.authenticate_quote(
        base64.b64decode(azure_payload["td_quote"]), WHEN
    )
    azure.check_azure_binding(report, tdreport_data, quote)
    pcrs = azure.verify_vtpm(azure_payload, report, NONCE, None)

    assert pck_info.fmspc.hex() == "00806f050000"
    assert len(pcrs) > 0


def test_full_path_reaches_the_collateral_check(
    verifier: TDXVerifier, azure_payload: dict[str, Any]
) -> None:
    # The only collateral at hand is another platform's, two months older.
    with pytest.raises(EvidenceExpired) as caught:
        verifier.verify(azure_payload, context(NONCE, WHEN))
    assert caught.value.reason == "TDX_COLLATERAL_EXPIRED"


def test_vtpm_quote_over_another_nonce_is_refused(
    verifier: TDXVerifier, azure_payload: dict[str, Any]
) -> None:
    with pytest.raises(NonceMismatch):
        verifier.verify(azure_payload, context(b"egnellahc", WHEN))


def test_tdreport_that_differs_from_the_quote_is_refused(
    verifier: TDXVerifier, azure_payload: dict[str, Any]
) -> None:
    hcl = bytearray(base64.b64decode(azure_payload["hcl_report"]))
    hcl[azure.TDREPORT_REPORT_DATA.start] ^= 1
    payload = azure_payload | {"hcl_report": b64(bytes(hcl))}
    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(payload, context(NONCE, WHEN))
    assert caught.value.reason == "AZURE_TDREPORT_MISMATCH"


def test_snp_hcl_report_is_not_tdx_evidence(
    verifier: TDXVerifier, azure_payload: dict[str, Any], vectors: Path
) -> None:
    snp = (vectors / "azure" / "hcl_snp" / "trustee_hcl-report.bin").read_bytes()
    with pytest.raises(EvidenceMalformed):
        verifier.verify(azure_payload | {"hcl_report": b64(snp)}, context(NONCE, WHEN))
