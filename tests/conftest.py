"""Fixtures shared by every test."""

from __future__ import annotations

from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The real evidence in ../shared/vectors; tests that need it skip without it."""
    if not VECTORS.is_dir():
        pytest.skip(
            f"real evidence not found at {VECTORS} (../shared/vectors is absent)"
        )
    return VECTORS
