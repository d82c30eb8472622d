"""Injectable clocks.

AURA reads time through two clocks: `evidence` for checking evidence and vendor
certificates (tests pin it to a recorded sample's time), and `issuing` for
everything AURA itself issues and stores (nonces, tickets, certificates, CRLs).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests set and move; it follows real time plus an offset unless pinned."""

    def __init__(self, pinned: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._pinned = pinned
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            base = self._pinned or datetime.now(UTC)
            return base + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def pin(self, when: datetime | None) -> None:
        with self._lock:
            self._pinned = when
            self._offset = timedelta(0)


@dataclass(frozen=True)
class Clocks:
    evidence: Clock = field(default_factory=SystemClock)
    issuing: Clock = field(default_factory=SystemClock)
