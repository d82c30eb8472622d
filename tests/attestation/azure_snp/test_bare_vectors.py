"""Real bare SEV-SNP reports (../shared/vectors/sev-snp) get their stated verdicts."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.attestation.azure_snp.report import MILAN
from aura_grpc.attestation.azure_snp.vcek import (
    load_chains,
    read_endorsement_key,
    verify_chain,
)
from aura_grpc.errors import (
    CertificateExpired,
    ChainInvalid,
    ClaimMismatch,
    EvidenceMalformed,
    NonceMismatch,
    SignatureInvalid,
)
from tests.attestation.azure_snp.conftest import (
    AT_2022_09_25,
    AT_2023_01_25,
    AT_2023_04_04,
    AT_2025_01_25,
    AT_2025_01_29,
    LONG_AFTER_EXPIRY,
    TODAY,
    bare_payload,
    context,
    recorded_nonce,
)

pytestmark = [
    pytest.mark.vectors,
    pytest.mark.filterwarnings("ignore:Parsed a serial number"),
]

VALID = [
    pytest.param(
        "gosevguest_milan_attestation.bin", "gosevguest_milan_vcek.der",
        AT_2022_09_25, "Milan", id="go-sev-guest Milan v2 report is valid",
    ),
    pytest.param(
        "virtee_milan_report.bin", "virtee_milan_vcek.der",
        AT_2023_04_04, "Milan", id="virtee Milan v2 report is valid",
    ),
    pytest.param(
        "trustee_test-report.bin", "trustee_test-vcek.der",
        AT_2023_01_25, "Milan", id="trustee Milan v2 report is valid",
    ),
    pytest.param(
        "azure_genoa_from_hcl_report.bin", "azure_genoa_from_hcl_vcek.pem",
        AT_2025_01_25, "Genoa", id="Azure Genoa v3 report is valid",
    ),
    pytest.param(
        "azure_milan_from_hcl_v0_report.bin", "azure_milan_from_hcl_v0_vcek.pem",
        AT_2025_01_29, "Milan", id="Azure Milan v3 report is valid",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("report", "vcek", "at", "product"), VALID)
def test_real_report_verifies_at_its_time_and_today(
    verifier: AzureSNPVerifier,
    snp_dir: Path,
    report: str,
    vcek: str,
    at: datetime,
    product: str,
) -> None:
    raw = (snp_dir / report).read_bytes()
    payload = bare_payload(raw, snp_dir / vcek)

    for now in (at, TODAY):  # every VCEK here is valid until 2029 or later
        evidence = verifier.verify(payload, context(recorded_nonce(raw), now))

    assert evidence.claims["product"] == product
    assert evidence.fingerprint == hashlib.sha256(raw[0x1A0:0x1E0]).hexdigest()
    assert evidence.bound_key_spki is None
    json.dumps(evidence.claims)


@pytest.mark.parametrize(("report", "vcek", "at", "product"), VALID)
def test_real_report_rejected_once_its_vcek_has_expired(
    verifier: AzureSNPVerifier,
    snp_dir: Path,
    report: str,
    vcek: str,
    at: datetime,
    product: str,
) -> None:
    raw = (snp_dir / report).read_bytes()
    with pytest.raises(CertificateExpired) as caught:
        verifier.verify(
            bare_payload(raw, snp_dir / vcek),
            context(recorded_nonce(raw), LONG_AFTER_EXPIRY),
        )
    assert caught.value.reason == "SNP_CERTIFICATE_EXPIRED"


def test_go_sev_guest_report_claims_decode_its_debug_policy(
    verifier: AzureSNPVerifier, snp_dir: Path
) -> None:
    raw = (snp_dir / "gosevguest_milan_attestation.bin").read_bytes()
    evidence = verifier.verify(
        bare_payload(raw, snp_dir / "gosevguest_milan_vcek.der"),
        context(bytes.fromhex("0102030405"), AT_2022_09_25),
    )

    claims = evidence.claims
    assert claims["report_version"] == 2
    assert claims["debug"] is True and claims["policy"]["debug"] is True
    assert claims["reported_tcb"] == {
        "bootloader": 2, "tee": 0, "snp": 5, "microcode": 68,
    }  # fmt: skip
    assert claims["vmpl"] == 0
    assert claims["evidence_format"] == "sev_snp"


TAMPERED = [
    pytest.param(
        "virtee_milan_report_tampered_byte21.bin", "virtee_milan_vcek.der",
        AT_2023_04_04, SignatureInvalid, "SNP_SIGNATURE_INVALID",
        id="virtee report with byte 21 flipped fails the signature",
    ),
    pytest.param(
        "trustee_test-report_tampered_byte42.bin", "trustee_test-vcek.der",
        AT_2023_01_25, SignatureInvalid, "SNP_SIGNATURE_INVALID",
        id="trustee report with byte 42 changed fails the signature",
    ),
    pytest.param(
        "trustee_test-report_tampered_byte384_tcb.bin", "trustee_test-vcek.der",
        AT_2023_01_25, ClaimMismatch, "SNP_TCB_MISMATCH",
        id="trustee report with a raised reported TCB mismatches the VCEK",
    ),
    pytest.param(
        "trustee_test-report.bin", "virtee_milan_vcek.der",
        AT_2023_04_04, ClaimMismatch, "SNP_CHIP_ID_MISMATCH",
        id="a report checked with another chip's VCEK mismatches the chip ID",
    ),
    pytest.param(
        "azure_genoa_from_hcl_report.bin", "azure_milan_from_hcl_v0_vcek.pem",
        AT_2025_01_29, ChainInvalid, "SNP_PRODUCT_MISMATCH",
        id="a Genoa report with a Milan VCEK is a product mismatch",
    ),
    pytest.param(
        "gosevguest_milan_attestation.bin", "gosevguest_milan_vcek.der",
        datetime(2022, 9, 23, tzinfo=UTC), CertificateExpired,
        "SNP_CERTIFICATE_EXPIRED", id="a VCEK is not valid before it was issued",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("report", "vcek", "at", "error", "reason"), TAMPERED)
def test_tampered_or_mismatched_report_rejected_with_its_reason(
    verifier: AzureSNPVerifier,
    snp_dir: Path,
    report: str,
    vcek: str,
    at: datetime,
    error: type[Exception],
    reason: str,
) -> None:
    raw = (snp_dir / report).read_bytes()
    with pytest.raises(error) as caught:
        verifier.verify(
            bare_payload(raw, snp_dir / vcek), context(recorded_nonce(raw), at)
        )
    assert caught.value.reason == reason  # type: ignore[attr-defined]


def test_genoa_report_rejected_by_a_verifier_pinning_only_milan(
    snp_dir: Path,
) -> None:
    milan_only = AzureSNPVerifier(frozenset({MILAN}))
    raw = (snp_dir / "azure_genoa_from_hcl_report.bin").read_bytes()

    with pytest.raises(ChainInvalid) as caught:
        milan_only.verify(
            bare_payload(raw, snp_dir / "azure_genoa_from_hcl_vcek.pem"),
            context(recorded_nonce(raw), AT_2025_01_25),
        )
    assert caught.value.reason == "SNP_ROOT_UNKNOWN"


def test_report_rejected_when_report_data_is_not_the_nonce(
    verifier: AzureSNPVerifier, snp_dir: Path
) -> None:
    raw = (snp_dir / "gosevguest_milan_attestation.bin").read_bytes()
    payload = bare_payload(raw, snp_dir / "gosevguest_milan_vcek.der")

    for nonce in (b"\x01\x02\x03\x04\x06", b"\x01\x02\x03\x04", b"\0" * 65):
        with pytest.raises(NonceMismatch):
            verifier.verify(payload, context(nonce, AT_2022_09_25))


def test_report_rejected_when_it_should_bind_a_key_it_does_not(
    verifier: AzureSNPVerifier, snp_dir: Path
) -> None:
    raw = (snp_dir / "gosevguest_milan_attestation.bin").read_bytes()
    payload = bare_payload(raw, snp_dir / "gosevguest_milan_vcek.der")
    der = (snp_dir / "gosevguest_milan_vcek.der").read_bytes()
    key = x509.load_der_x509_certificate(der).public_key()

    payload["bound_key_pem"] = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(NonceMismatch):
        verifier.verify(payload, context(bytes.fromhex("0102030405"), AT_2022_09_25))


def test_report_with_an_unsupported_version_is_malformed(
    verifier: AzureSNPVerifier, snp_dir: Path
) -> None:
    raw = bytearray((snp_dir / "trustee_test-report.bin").read_bytes())
    raw[0] = 4
    payload = bare_payload(bytes(raw), snp_dir / "trustee_test-vcek.der")

    with pytest.raises(EvidenceMalformed) as caught:
        verifier.verify(payload, context(recorded_nonce(bytes(raw)), AT_2023_01_25))
    assert caught.value.reason == "SNP_REPORT_VERSION"


@pytest.mark.parametrize("size", [0, 1183, 1185, 2000])
def test_report_of_the_wrong_size_is_malformed(
    verifier: AzureSNPVerifier, snp_dir: Path, size: int
) -> None:
    raw = (snp_dir / "trustee_test-report.bin").read_bytes()
    padded = (raw * 2)[:size]
    payload = bare_payload(padded, snp_dir / "trustee_test-vcek.der")

    with pytest.raises(EvidenceMalformed):
        verifier.verify(payload, context(b"x", AT_2023_01_25))


def test_turin_vcek_chains_to_the_pinned_turin_root(snp_dir: Path) -> None:
    cert = x509.load_der_x509_certificate(
        (snp_dir / "virtee_turin_vcek.der").read_bytes()
    )
    key = read_endorsement_key(cert)

    verify_chain(
        key, load_chains(frozenset({"Turin"})), datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert key.product == "Turin" and key.kind == "vcek"
    assert key.hwid is not None and len(key.hwid) == 8
    assert key.tcb == {"bootloader": 0, "tee": 0, "snp": 0, "microcode": 9, "fmc": 0}


@pytest.mark.parametrize(
    "name",
    ["trustee_test-vcek-invalid-legacy.der", "trustee_test-vcek-invalid-new.der"],
)
def test_oddly_encoded_real_vceks_still_parse(snp_dir: Path, name: str) -> None:
    cert = x509.load_der_x509_certificate((snp_dir / name).read_bytes())
    key = read_endorsement_key(cert)

    assert key.hwid == bytes(range(64))
    assert key.product == "Milan"
