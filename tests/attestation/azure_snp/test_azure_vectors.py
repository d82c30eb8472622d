"""Real Azure confidential VM evidence (HCL report + vTPM quote) gets its verdicts."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.errors import (
    CertificateExpired,
    ClaimMismatch,
    EvidenceMalformed,
    NonceMismatch,
    SignatureInvalid,
)
from tests.attestation.azure_snp.conftest import (
    AT_2023_05_03,
    AT_2025_01_25,
    AT_2025_01_29,
    LONG_AFTER_EXPIRY,
    TODAY,
    azure_payload_from_evidence,
    azure_unit_payload,
    b64,
    context,
    tpmt_signature,
)

pytestmark = [
    pytest.mark.vectors,
    pytest.mark.filterwarnings("ignore:Parsed a serial number"),
]

NONCE_V2 = bytes.fromhex(
    "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9a"
    "a398f647caa2338748cd0fd9f5f819ef"
)
NONCE_GENOA = bytes.fromhex(
    "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938c"
    "a05475f8b46094de6b64270ea35d950f"
)

EVIDENCE = [
    pytest.param(
        "trustee_evidence-v0.json", b"challenge", AT_2025_01_29, "Milan", "e15c4479",
        id="v0 Milan evidence with nonce 'challenge' is valid",
    ),
    pytest.param(
        "trustee_evidence-v1.json", b"challenge", AT_2025_01_29, "Milan", "e15c4479",
        id="v1 Milan evidence with nonce 'challenge' is valid",
    ),
    pytest.param(
        "trustee_evidence-v2.json", NONCE_V2, AT_2025_01_29, "Milan", "84275b2f",
        id="v2 Milan evidence with a 48-byte nonce is valid",
    ),
    pytest.param(
        "trustee_evidence-genoa.json", NONCE_GENOA, AT_2025_01_25, "Genoa", "afd689d0",
        id="Genoa evidence with HCL v2 is valid",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "nonce", "at", "product", "pcr0"), EVIDENCE)
def test_real_azure_evidence_verifies(
    verifier: AzureSNPVerifier,
    hcl_dir: Path,
    name: str,
    nonce: bytes,
    at: datetime,
    product: str,
    pcr0: str,
) -> None:
    payload = azure_payload_from_evidence(hcl_dir / name)

    for now in (at, TODAY):
        evidence = verifier.verify(payload, context(nonce, now))

    claims = evidence.claims
    assert claims["evidence_format"] == "azure_hcl_snp"
    assert claims["product"] == product
    assert claims["azure"]["pcrs"]["0"].startswith(pcr0)
    assert claims["azure"]["vm_unique_id"]
    chip_id = bytes.fromhex(claims["chip_id"])
    assert evidence.fingerprint == hashlib.sha256(chip_id).hexdigest()
    json.dumps(claims)


@pytest.mark.parametrize(("name", "nonce", "at", "product", "pcr0"), EVIDENCE)
def test_real_azure_evidence_rejected_with_another_nonce(
    verifier: AzureSNPVerifier,
    hcl_dir: Path,
    name: str,
    nonce: bytes,
    at: datetime,
    product: str,
    pcr0: str,
) -> None:
    payload = azure_payload_from_evidence(hcl_dir / name)
    with pytest.raises(NonceMismatch):
        verifier.verify(payload, context(b"123abc", at))


def test_real_azure_evidence_rejected_after_its_vcek_expired(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_payload_from_evidence(hcl_dir / "trustee_evidence-v1.json")
    with pytest.raises(CertificateExpired):
        verifier.verify(payload, context(b"challenge", LONG_AFTER_EXPIRY))


def test_trustee_unit_fixture_verifies(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    evidence = verifier.verify(
        azure_unit_payload(hcl_dir), context(b"challenge", AT_2023_05_03)
    )
    assert evidence.claims["product"] == "Milan"
    assert set(evidence.claims["azure"]["pcrs"]) == {str(i) for i in range(24)}


def _patched_hcl(hcl_dir: Path, offset: int, new: int | None = None) -> bytes:
    hcl = bytearray((hcl_dir / "trustee_hcl-report.bin").read_bytes())
    hcl[offset] = (hcl[offset] + 1) % 256 if new is None else new
    return bytes(hcl)


def test_hcl_with_zeroed_reported_snp_level_mismatches_the_vcek_tcb(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir, _patched_hcl(hcl_dir, 0x1A6, 0))
    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(payload, context(b"challenge", AT_2023_05_03))
    assert caught.value.reason == "SNP_TCB_MISMATCH"


def test_hcl_with_altered_runtime_claims_fails_the_report_data_hash(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir, _patched_hcl(hcl_dir, 0x6E0))
    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(payload, context(b"challenge", AT_2023_05_03))
    assert caught.value.reason == "AZURE_RUNTIME_CLAIMS_HASH_MISMATCH"


def test_hcl_with_a_broken_ak_public_key_is_malformed(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir, _patched_hcl(hcl_dir, 0x540, 0))
    with pytest.raises(EvidenceMalformed) as caught:
        verifier.verify(payload, context(b"challenge", AT_2023_05_03))
    assert caught.value.reason == "AZURE_AK_PUB_INVALID"


def _with_quote(payload: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    changed["tpm_quote"][field] = value
    return changed


def test_quote_with_a_flipped_signature_bit_fails_its_signature(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir)
    signature = bytearray(base64.b64decode(payload["tpm_quote"]["signature"]))
    signature[6] ^= 1  # the first byte after the TPMT_SIGNATURE header

    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(
            _with_quote(payload, "signature", b64(bytes(signature))),
            context(b"challenge", AT_2023_05_03),
        )
    assert caught.value.reason == "TPM_QUOTE_SIGNATURE"


def test_quote_checked_against_the_reversed_nonce_is_a_nonce_mismatch(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    with pytest.raises(NonceMismatch) as caught:
        verifier.verify(
            azure_unit_payload(hcl_dir), context(b"challenge"[::-1], AT_2023_05_03)
        )
    assert caught.value.reason == "TPM_NONCE_MISMATCH"


def test_quote_with_an_altered_pcr_value_fails_the_pcr_digest(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir)
    pcrs = dict(payload["tpm_quote"]["pcrs"])
    first = bytearray(bytes.fromhex(pcrs["0"]))
    first[0] ^= 1
    pcrs["0"] = first.hex()

    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(
            _with_quote(payload, "pcrs", pcrs), context(b"challenge", AT_2023_05_03)
        )
    assert caught.value.reason == "TPM_PCR_DIGEST_MISMATCH"


def test_quote_missing_a_quoted_pcr_value_is_malformed(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir)
    pcrs = {k: v for k, v in payload["tpm_quote"]["pcrs"].items() if k != "7"}

    with pytest.raises(EvidenceMalformed):
        verifier.verify(
            _with_quote(payload, "pcrs", pcrs), context(b"challenge", AT_2023_05_03)
        )


def test_azure_evidence_with_the_genoa_vcek_for_a_milan_report_is_rejected(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    payload = azure_unit_payload(hcl_dir)
    payload["vcek"] = (hcl_dir / "trustee_vcek-genoa.pem").read_text()

    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(payload, context(b"challenge", AT_2025_01_25))
    assert caught.value.reason == "SNP_CHIP_ID_MISMATCH"


def test_quote_from_another_vtpm_fails_with_this_hcl_reports_ak(
    verifier: AzureSNPVerifier, hcl_dir: Path
) -> None:
    # trustee_tpm-quote.{msg,sig} is a real "challenge" quote whose AK is not in
    # any HCL report here: presented with the unit HCL report it must not pass.
    payload = azure_unit_payload(hcl_dir)
    payload["tpm_quote"]["quote"] = b64(
        (hcl_dir / "trustee_tpm-quote.msg").read_bytes()
    )
    raw_signature = (hcl_dir / "trustee_tpm-quote.sig").read_bytes()
    payload["tpm_quote"]["signature"] = b64(tpmt_signature(raw_signature))

    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(payload, context(b"challenge", AT_2023_05_03))
    assert caught.value.reason == "TPM_QUOTE_SIGNATURE"
