"""Token buckets for the calls that cost the most: challenges, attestation and
issuance, per org and per source address (docs/hardening.md).

Buckets live in memory and use the monotonic clock, so a jump of the wall clock
neither refills nor drains them. An idle key's bucket is dropped once too many
keys are held; it comes back full, which only ever errs towards allowing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aura_grpc.config import Settings
from aura_grpc.errors import RETRY_AFTER, RateLimited

# TODO: buckets are per worker process, so N workers allow N times the rate; a
# shared store (the database or Envoy's global rate limit) can replace them then.
RATE_LIMITED_METHODS = frozenset(
    {
        "/aura.v2.AttestService/CreateChallenge",
        "/aura.v2.AttestService/CreateCredentialChallenge",
        "/aura.v2.AttestService/Attest",
        "/aura.v2.CertService/IssueCert",
        "/aura.v2.DeviceService/CreateDeviceChallenge",
        "/aura.v2.DeviceService/AttestDevice",
        "/aura.v2.DeviceService/RenewCert",
    }
)
MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """`rate` tokens a second up to `burst`, one bucket per key; rate 0 is off."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token; 0.0 if allowed, else the seconds until one is back."""
        if self._rate <= 0:
            return 0.0
        with self._lock:
            bucket = self._refilled(key, self._clock())
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self._rate

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.pop(key, None) or _Bucket(self._burst, now)
        bucket.tokens = min(
            self._burst, bucket.tokens + (now - bucket.stamp) * self._rate
        )
        bucket.stamp = now

        # Most recently used last: the oldest go first when the table is full.
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return bucket


class RateLimiter:
    """Refuses a call with `RateLimited` (and a retry hint) once a bucket is dry."""

    def __init__(self, per_org: TokenBuckets, per_source: TokenBuckets) -> None:
        self._per_org = per_org
        self._per_source = per_source

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            TokenBuckets(
                settings.rate_limit_org_per_second, settings.rate_limit_org_burst
            ),
            TokenBuckets(
                settings.rate_limit_source_per_second, settings.rate_limit_source_burst
            ),
        )

    def check_source(self, method: str, source: str) -> None:
        if method in RATE_LIMITED_METHODS:
            _refuse_if_waiting(self._per_source.take(source or "unknown"), "address")

    def check_org(self, method: str, org_id: str) -> None:
        if method in RATE_LIMITED_METHODS:
            _refuse_if_waiting(self._per_org.take(org_id), "org")


def _refuse_if_waiting(wait: float, what: str) -> None:
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(
            f"too many requests from this {what}; retry in {seconds} s",
            metadata={RETRY_AFTER: str(seconds)},
        )
