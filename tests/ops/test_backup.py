"""`aura backup` while serving, `aura restore` into a fresh directory: the same
devices, certificates and CAs come back, and CRL numbers never go down."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aura_grpc.auth.scopes import Scope
from tests.e2e.test_mtls import whoami
from tests.harness import Stack, make_stack
from tests.mtls_devices import enroll

pytestmark = pytest.mark.e2e

SNAPSHOT = {
    "orgs": "SELECT id, name, disabled FROM orgs ORDER BY id",
    "devices": "SELECT id, org_id, posture_ok FROM devices ORDER BY id",
    "certificates": "SELECT serial, ca_id, revoked_at FROM certificates"
    " ORDER BY serial",
    "cas": "SELECT id, status, cert_pem FROM certificate_authorities ORDER BY id",
    "tokens": "SELECT id, revoked_at FROM tokens ORDER BY id",
}


def aura(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AURA_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "aura_grpc.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def snapshot(stack: Stack) -> dict[str, list[dict[str, object]]]:
    return {name: stack.sql(query) for name, query in SNAPSHOT.items()}


def crl_numbers(stack: Stack) -> dict[str, int]:
    rows = stack.sql("SELECT id, crl_number FROM certificate_authorities")
    return {str(row["id"]): int(str(row["crl_number"])) for row in rows}


def test_backup_while_serving_then_restore_into_a_fresh_directory(
    tmp_path: Path,
) -> None:
    first = make_stack(tmp_path / "first").start()
    if first.settings.database_url:
        first.stop()
        pytest.skip("backup and restore are for SQLite; PostgreSQL has pg_dump")
    try:
        first.create_org("acme")
        admin = first.create_token("acme", Scope.ADMIN)
        with first.client(admin) as client:
            kept = enroll(client)
            dropped = enroll(client)
            assert client.post(f"/v2/certs/{dropped.serial}/revoke", json={}).is_success
        before, numbers_before = snapshot(first), crl_numbers(first)
        made = aura(first.state_dir, "backup", str(tmp_path / "aura.backup"))
        assert made.returncode == 0, made.stderr
    finally:
        first.stop()

    fresh = tmp_path / "second"
    fresh.mkdir()
    # The master key seals the CA keys; it is backed up apart from the database.
    shutil.copy(first.state_dir / "master.key", fresh / "master.key")
    restored = aura(fresh, "restore", str(tmp_path / "aura.backup"))
    assert restored.returncode == 0, restored.stderr

    second = make_stack(fresh).start()
    try:
        after, numbers_after = snapshot(second), crl_numbers(second)
        with second.client(admin) as client:
            listed = client.get("/v2/certs").json()["certificates"]
            new = enroll(client)
        assert after == before
        assert all(numbers_after[ca] > n for ca, n in numbers_before.items())
        assert {c["serial"]: c["status"] for c in listed} == {
            kept.serial: "active",
            dropped.serial: "revoked",
        }
        assert whoami(second, kept).status_code == 200
        assert new.ca_id == kept.ca_id

        running = aura(fresh, "restore", str(tmp_path / "aura.backup"))
        assert running.returncode == 1 and "stop it first" in running.stderr
    finally:
        second.stop()


def test_restore_never_lowers_a_crl_number(tmp_path: Path) -> None:
    stack = make_stack(tmp_path / "state").start()
    if stack.settings.database_url:
        stack.stop()
        pytest.skip("backup and restore are for SQLite; PostgreSQL has pg_dump")
    try:
        stack.create_org("acme")
        with stack.client(stack.create_token("acme", Scope.ADMIN)) as client:
            device = enroll(client)
        made = aura(stack.state_dir, "backup", str(tmp_path / "old.backup"))
        assert made.returncode == 0, made.stderr
    finally:
        stack.stop()

    database = stack.state_dir / "aura.db"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE certificate_authorities SET crl_number = 1000")
    restored = aura(stack.state_dir, "restore", str(tmp_path / "old.backup"))
    assert restored.returncode == 0, restored.stderr

    with sqlite3.connect(database) as connection:
        number = connection.execute(
            "SELECT crl_number FROM certificate_authorities WHERE id = ?",
            (device.ca_id,),
        ).fetchone()[0]
    assert number == 1001  # kept the higher number, then re-signed above it


def test_backup_refuses_to_overwrite_and_restore_refuses_non_aura_files(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    (state).mkdir()
    stranger = tmp_path / "stranger.db"
    with sqlite3.connect(stranger) as connection:
        connection.execute("CREATE TABLE t (x)")
    existing = tmp_path / "exists"
    existing.write_text("keep me")

    not_ours = aura(state, "restore", str(stranger))
    not_sqlite = aura(state, "restore", str(existing))
    overwrite = aura(state, "backup", str(existing))

    assert not_ours.returncode == 1 and "not a sound AURA database" in not_ours.stderr
    assert not_sqlite.returncode == 1 and "not a" in not_sqlite.stderr
    assert overwrite.returncode == 1 and existing.read_text() == "keep me"
    assert not (state / "aura.db").exists()
