"""Fixtures for the Nitro tests: a test PKI and verifiers trusting it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aura_grpc.attestation.aws_nitro import NitroVerifier
from tests.attestation.aws_nitro.minting import NitroTestPKI

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pki() -> NitroTestPKI:
    return NitroTestPKI(not_before=datetime(2026, 11, 20, tzinfo=UTC))


@pytest.fixture(scope="session")
def verifier(pki: NitroTestPKI) -> NitroVerifier:
    return NitroVerifier.from_options({"extra_roots_pem": pki.root_pem}, "dev")
