"""Fixtures for the TPM verifier: the GCE vTPM sample, payloads, a test CA."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.attestation.tpm.helpers import GCE_DIR, FakeCA, b64


@pytest.fixture(scope="session")
def gce(vectors: Path) -> Path:
    return vectors / GCE_DIR


@pytest.fixture(scope="session")
def gce_pcrs(gce: Path) -> dict[str, dict[str, str]]:
    pcrs: dict[str, dict[str, str]] = json.loads((gce / "pcrs.json").read_text())
    return pcrs


@pytest.fixture
def gce_payload(
    gce: Path, gce_pcrs: dict[str, dict[str, str]]
) -> Callable[..., dict[str, Any]]:
    """The GCE sample as a 'tpm' payload, for the bank asked for."""

    def build(bank: str = "sha256", event_log: bool = True) -> dict[str, Any]:
        payload = {
            "ak_public": b64((gce / "ak_pub.tpmt_public").read_bytes()),
            "ak_cert": b64((gce / "ak_cert.der").read_bytes()),
            "quote": b64((gce / f"quote_{bank}.tpms_attest").read_bytes()),
            "signature": b64((gce / f"quote_{bank}.tpmt_signature").read_bytes()),
            "pcrs": dict(gce_pcrs[bank]),
            "pcr_bank": bank,
        }
        if event_log:
            payload["event_log"] = b64((gce / "event_log.bin").read_bytes())
        return payload

    return build


@pytest.fixture(scope="session")
def fake_ca() -> FakeCA:
    return FakeCA()
