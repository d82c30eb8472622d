"""Helpers turning the real SEV-SNP and Azure samples into azure_snp payloads."""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.attestation.base import VerificationContext

TODAY = datetime(2026, 12, 3, tzinfo=UTC)
LONG_AFTER_EXPIRY = datetime(2040, 1, 1, tzinfo=UTC)
# One day after each VCEK was issued (SOURCE.md gives the issue dates).
AT_2022_09_25 = datetime(2022, 9, 25, tzinfo=UTC)
AT_2023_01_25 = datetime(2023, 1, 25, tzinfo=UTC)
AT_2023_04_04 = datetime(2023, 4, 4, tzinfo=UTC)
AT_2023_05_03 = datetime(2023, 5, 3, tzinfo=UTC)
AT_2025_01_25 = datetime(2025, 1, 25, tzinfo=UTC)
AT_2025_01_29 = datetime(2025, 1, 29, tzinfo=UTC)

TPM_ALG_RSASSA = 0x0014
TPM_ALG_SHA256 = 0x000B


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def context(nonce: bytes, now: datetime) -> VerificationContext:
    return VerificationContext(nonce=nonce, now=now)


@pytest.fixture(scope="session")
def verifier() -> AzureSNPVerifier:
    return AzureSNPVerifier()


@pytest.fixture(scope="session")
def snp_dir(vectors: Path) -> Path:
    return vectors / "sev-snp"


@pytest.fixture(scope="session")
def hcl_dir(vectors: Path) -> Path:
    return vectors / "azure" / "hcl_snp"


def vcek_field(path: Path) -> str:
    """PEM files go in as PEM text, DER files as base64."""
    data = path.read_bytes()
    return data.decode() if path.suffix == ".pem" else b64(data)


def bare_payload(report: bytes, vcek: Path) -> dict[str, Any]:
    return {"report": b64(report), "vcek": vcek_field(vcek)}


def recorded_nonce(report: bytes) -> bytes:
    """The recorded REPORT_DATA without its zero padding: what the guest was given."""
    return report[0x50:0x90].rstrip(b"\0")


def tpmt_signature(raw_rsa_signature: bytes) -> bytes:
    """Trustee stores the bare RSA signature; the payload wants a TPMT_SIGNATURE."""
    header = struct.pack(">HHH", TPM_ALG_RSASSA, TPM_ALG_SHA256, len(raw_rsa_signature))
    return header + raw_rsa_signature


def _as_bytes(value: list[int] | str) -> bytes:
    return bytes(value) if isinstance(value, list) else bytes.fromhex(value)


def quote_section(quote: dict[str, Any]) -> dict[str, Any]:
    """Trustee's {message, signature, pcrs[24]} (byte arrays or hex) as our shape."""
    return {
        "quote": b64(_as_bytes(quote["message"])),
        "signature": b64(tpmt_signature(_as_bytes(quote["signature"]))),
        "pcrs": {str(i): _as_bytes(v).hex() for i, v in enumerate(quote["pcrs"])},
    }


def azure_payload_from_evidence(path: Path) -> dict[str, Any]:
    """Trustee's evidence-*.json (v0: byte arrays; v1/v2: base64url and hex)."""
    evidence = json.loads(path.read_text())
    if "report" in evidence:
        hcl = bytes(evidence["report"])
    else:
        text = evidence["hcl_report"]
        hcl = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    quote = evidence.get("tpm_quote") or evidence["quote"]
    return {
        "hcl_report": b64(hcl),
        "vcek": evidence["vcek"],
        "tpm_quote": quote_section(quote),
    }


def azure_unit_payload(hcl_dir: Path, hcl: bytes | None = None) -> dict[str, Any]:
    """trustee_hcl-report.bin + trustee_tpm-quote-v1.json + trustee_vcek.pem."""
    quote = json.loads((hcl_dir / "trustee_tpm-quote-v1.json").read_text())
    return {
        "hcl_report": b64(hcl or (hcl_dir / "trustee_hcl-report.bin").read_bytes()),
        "vcek": (hcl_dir / "trustee_vcek.pem").read_text(),
        "tpm_quote": quote_section(quote),
    }
