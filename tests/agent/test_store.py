"""The agent's state folder: private files and when to renew."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.agent.store import AgentState, StateDir, needs_renewal, write_private

START = datetime(2026, 12, 1, tzinfo=UTC)


def _cert(days: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def test_private_files_are_0600_even_when_replaced(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)

    write_private(path, b"new")

    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_state_round_trips_and_the_folder_is_private(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "agent")
    state.save(AgentState(device_id="dev_x", serial="ab", key_kind="tpm"))

    assert state.load().serial == "ab"
    assert stat.S_IMODE(state.root.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("elapsed_days", "due"),
    [
        pytest.param(10, False, id="a third of its life: keep"),
        pytest.param(21, True, id="past two thirds: renew"),
        pytest.param(40, True, id="expired: renew"),
    ],
)
def test_renewal_is_due_after_two_thirds_of_the_life(
    elapsed_days: int, due: bool
) -> None:
    now = START + timedelta(days=elapsed_days)
    assert needs_renewal(_cert(30), now, 2 / 3) is due


def test_renewal_is_due_without_a_certificate() -> None:
    assert needs_renewal(None, START, 2 / 3)
