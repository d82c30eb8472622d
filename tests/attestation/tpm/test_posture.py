"""Clock comparison between two attestations of one device."""

from __future__ import annotations

from typing import Any

import pytest

from aura_grpc.attestation.tpm.posture import clock_went_backwards

BEFORE = {"clock": 5000, "reset_count": 10, "restart_count": 3, "safe": True}


@pytest.mark.parametrize(
    ("after", "failed"),
    [
        pytest.param({**BEFORE, "clock": 6000}, [], id="clock moved on"),
        pytest.param(
            {"clock": 9000, "reset_count": 11, "restart_count": 0, "safe": True},
            [],
            id="a reset may zero the restart count",
        ),
        pytest.param(
            {**BEFORE, "reset_count": 9, "clock": 9000},
            ["reset_count_decreased"],
            id="reset count fell",
        ),
        pytest.param(
            {**BEFORE, "restart_count": 2, "clock": 9000},
            ["restart_count_decreased"],
            id="restart count fell within one reset",
        ),
        pytest.param({**BEFORE, "clock": 10}, ["clock_decreased"], id="clock fell"),
        pytest.param(
            {**BEFORE, "clock": 10, "safe": False},
            [],
            id="clock fell on a TPM that says it was not safe",
        ),
        pytest.param({}, [], id="nothing known now"),
    ],
)
def test_clock_went_backwards_names_each_counter_that_fell(
    after: dict[str, Any], failed: list[str]
) -> None:
    assert clock_went_backwards(BEFORE, after) == failed


def test_clock_went_backwards_reads_whole_postures() -> None:
    previous = {"clock_info": BEFORE, "pcrs": {}}
    current = {"clock_info": {**BEFORE, "reset_count": 1}}

    assert clock_went_backwards(previous, current) == ["reset_count_decreased"]
