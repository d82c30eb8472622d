"""Every parser of untrusted bytes under libFuzzer (atheris) for a few seconds
each in CI (`make fuzz` runs them far longer), and every crash fuzzing found
kept as a regression input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.campaign import run_target
from tests.fuzz.targets import TARGETS, one_input

CRASHES = Path(__file__).parent / "crashes"
SECONDS_EACH = 3


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_survives_coverage_guided_fuzzing(name: str, tmp_path: Path) -> None:
    result = run_target(name, SECONDS_EACH, tmp_path, seed=20261203)
    assert result.returncode == 0, result.output[-3000:]
    assert result.inputs > 100, result.output[-2000:]


@pytest.mark.parametrize("crash", sorted(CRASHES.iterdir()), ids=lambda path: path.name)
def test_input_that_once_crashed_a_parser_now_raises_only_aura_errors(
    crash: Path,
) -> None:
    # The harness passes AuraErrors and lets anything else through.
    one_input(TARGETS[crash.name.rsplit("-", 1)[0]])(crash.read_bytes())
