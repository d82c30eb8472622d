"""Fixtures for the intel_tdx tests: real vectors as payloads, a test Intel PKI."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.intel_tdx import TDXVerifier
from aura_grpc.attestation.intel_tdx.quote import parse_quote
from tests.attestation.intel_tdx.factory import FakeIntelPKI

TODAY = datetime(2026, 12, 3, tzinfo=UTC)
Payload = dict[str, Any]


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


@pytest.fixture(scope="session")
def tdx_vectors(vectors: Path) -> Path:
    return vectors / "tdx"


@pytest.fixture(scope="session")
def verifier() -> TDXVerifier:
    return TDXVerifier()


@pytest.fixture(scope="session")
def real_payload(tdx_vectors: Path) -> Callable[[str, str], Payload]:
    """Build {"quote", "collateral"} from a quote file and a collateral file."""

    def build(quote: str, collateral: str) -> Payload:
        raw = (tdx_vectors / quote).read_bytes()
        return {
            "quote": base64.b64encode(raw).decode(),
            "collateral": json.loads((tdx_vectors / collateral).read_text()),
        }

    return build


def recorded_nonce(payload: Payload) -> bytes:
    """The recorded REPORT_DATA with trailing zeros stripped, as a test nonce."""
    raw = base64.b64decode(payload["quote"])
    return parse_quote(raw).body.report_data.rstrip(b"\0")


def context(nonce: bytes, now: datetime) -> VerificationContext:
    return VerificationContext(nonce=nonce, now=now)


@pytest.fixture(scope="session")
def pki() -> FakeIntelPKI:
    return FakeIntelPKI()


@pytest.fixture(scope="session")
def test_verifier(pki: FakeIntelPKI) -> TDXVerifier:
    return TDXVerifier(root=pki.root)
