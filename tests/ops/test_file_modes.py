"""What AURA writes is readable by its own user only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def test_database_and_state_folder_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "AURA_STATE_DIR": str(state), "AURA_METRICS_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "aura_grpc.cli", "org", "create", "private"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    database = state / "aura.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for path in state.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
