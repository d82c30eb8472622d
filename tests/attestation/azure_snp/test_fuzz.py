"""Truncated and mutated reports, HCL reports and payloads only ever raise AuraError."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.attestation.azure_snp.hcl import VAR_DATA_OFFSET, parse_hcl_report
from aura_grpc.attestation.azure_snp.report import parse_report
from aura_grpc.attestation.azure_snp.vcek import load_certificate, read_endorsement_key
from aura_grpc.attestation.base import VerificationContext
from aura_grpc.errors import AuraError
from tests.attestation.azure_snp.conftest import quote_section

HERE = Path(__file__).resolve()
VECTORS = HERE.parents[3].parent / "shared" / "vectors"
REPORT = VECTORS / "sev-snp" / "trustee_test-report.bin"
HCL = VECTORS / "azure" / "hcl_snp" / "trustee_hcl-report.bin"
pytestmark = pytest.mark.filterwarnings("ignore:Parsed a serial number")
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
AT = VerificationContext(nonce=b"challenge", now=datetime(2023, 5, 3, tzinfo=UTC))


def _seed(path: Path, fallback: bytes) -> bytes:
    return path.read_bytes() if path.is_file() else fallback


def _minimal_hcl() -> bytes:
    claims = b'{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"AQAB"}]}'
    igvm = struct.pack("<5I", 20 + len(claims), 1, 2, 1, len(claims))
    return b"HCLA" + b"\1\0\0\0" + bytes(24) + bytes(1184) + igvm + claims


SEED_REPORT = _seed(REPORT, struct.pack("<I", 2) + bytes(1180))
SEED_HCL = _seed(HCL, _minimal_hcl())
VCEK_PEM = _seed(
    HCL.parent / "trustee_vcek.pem", b"-----BEGIN CERTIFICATE-----\n"
).decode()
QUOTE_JSON = HCL.parent / "trustee_tpm-quote-v1.json"
REAL_QUOTE: Any = (
    quote_section(json.loads(QUOTE_JSON.read_text())) if QUOTE_JSON.is_file() else {}
)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed cut at a random length, with a few bytes overwritten."""
    data = bytearray(seed[: draw(st.integers(0, len(seed)))])
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(mutated(SEED_REPORT))
def test_report_parser_raises_only_aura_errors(data: bytes) -> None:
    with contextlib.suppress(AuraError):
        parse_report(data)


@FUZZ
@given(
    st.one_of(
        mutated(SEED_HCL),
        st.binary(max_size=VAR_DATA_OFFSET + 64).map(lambda b: b"HCLA" + b),
    )
)
def test_hcl_parser_raises_only_aura_errors(data: bytes) -> None:
    with contextlib.suppress(AuraError):
        parse_hcl_report(data)


SEED_VCEK = _seed(VECTORS / "sev-snp" / "trustee_test-vcek.der", b"0")


@FUZZ
@given(mutated(SEED_VCEK))
def test_vcek_reader_raises_only_aura_errors(der: bytes) -> None:
    with contextlib.suppress(AuraError):
        read_endorsement_key(load_certificate(base64.b64encode(der).decode() or "A"))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def verifier() -> AzureSNPVerifier:
    return AzureSNPVerifier()


@FUZZ
@given(
    report=mutated(SEED_REPORT),
    hcl=mutated(SEED_HCL),
    vcek=st.one_of(JSONISH, st.just(VCEK_PEM)),
    quote=st.one_of(JSONISH, st.just(REAL_QUOTE)),
    azure=st.booleans(),
)
def test_verify_raises_only_aura_errors(
    verifier: AzureSNPVerifier,
    report: bytes,
    hcl: bytes,
    vcek: Any,
    quote: Any,
    azure: bool,
) -> None:
    payload: dict[str, Any] = {"vcek": vcek, "tpm_quote": quote}
    field, data = ("hcl_report", hcl) if azure else ("report", report)
    payload[field] = base64.b64encode(data).decode()
    with contextlib.suppress(AuraError):
        verifier.verify(json.loads(json.dumps(payload)), AT)
