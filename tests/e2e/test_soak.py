"""A one-minute soak (benchmarks/soak.py; `make soak` runs ten): mixed load
through Envoy against a real `aura serve` with no unexpected error."""

from __future__ import annotations

import pytest

from benchmarks.soak import soak

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_one_minute_of_mixed_load_has_no_unexpected_errors() -> None:
    tally, samples = soak(60)
    total = sum(tally.requests.values())
    print(f"soak 60 s: {total} requests, errors {dict(tally.errors)}")
    assert not tally.errors, dict(tally.errors)
    assert total > 100 and {"attest", "issue", "revoke", "whoami"} <= set(
        tally.requests
    )
    assert all(rss > 0 for _, rss in samples)
