"""A SoftHSM2 token for tests, initialised in a temporary directory.

A PKCS#11 module is loaded once per process and reads SOFTHSM2_CONF when it is
first initialised, so one token directory serves the whole test session; tests
keep apart by using their own key labels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
)
TOKEN = "aura-test"
PIN = "123456"


@dataclass
class SoftHSM:
    module: Path
    token_dir: Path
    pin_file: Path
    token_label: str = TOKEN

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings overrides that put CA keys on this token."""
        return {
            "ca_key_backend": "pkcs11",
            "pkcs11_module": self.module,
            "pkcs11_token_label": self.token_label,
            "pkcs11_pin_file": self.pin_file,
            **extra,
        }

    def take_away(self) -> None:
        """The token fails: its store disappears from under the module."""
        self.token_dir.rename(self.token_dir.with_name("tokens.away"))

    def bring_back(self) -> None:
        self.token_dir.with_name("tokens.away").rename(self.token_dir)


def _module() -> Path:
    found = next((path for path in MODULES if path.exists()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        pytest.skip(
            "SoftHSM2 is not installed: apt-get install -y softhsm2 "
            "(needed for the PKCS#11 CA key tests)"
        )
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
    return found


# Test folders that import the fixture each register it, and pytest would make
# one per folder; the module, though, only ever sees the first token directory.
_MADE: list[SoftHSM] = []


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    if _MADE:
        yield _MADE[0]
        return
    module = _module()
    root = tmp_path_factory.mktemp("softhsm")
    token_dir = root / "tokens"
    token_dir.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    pin_file = root / "pin"
    pin_file.write_text(PIN + "\n")

    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", TOKEN),
            *("--pin", PIN, "--so-pin", "654321"),
        ],
        check=True,
        capture_output=True,
    )
    _MADE.append(SoftHSM(module, token_dir, pin_file))
    try:
        yield _MADE[0]
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
