"""CRL build time at 1k, 10k and 100k revoked certificates (goal: 100k under 2 s)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.crl import RevokedEntry, build_crl
from aura_grpc.ca.serials import new_serial

SIZES = tuple(
    int(n)
    for n in os.environ.get("AURA_BENCH_CRL_SIZES", "1000,10000,100000").split(",")
)


def main() -> None:
    key = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    issuer = make_ca_certificate("bench", "ca_bench", key, now)
    reasons = ["unspecified", "key_compromise", "superseded"]

    for size in SIZES:
        revoked = [
            RevokedEntry(new_serial(), now - timedelta(seconds=i), reasons[i % 3])
            for i in range(size)
        ]
        started = time.perf_counter()
        der = build_crl(issuer, key, 1, now, now + timedelta(days=1), revoked)
        built = time.perf_counter() - started

        started = time.perf_counter()
        crl = x509.load_der_x509_crl(der)
        serials = {entry.serial_number for entry in crl}
        loaded = time.perf_counter() - started
        assert len(serials) == size
        print(
            f"CRL with {size:>6} revoked: built and signed in {built * 1000:8.1f} ms, "
            f"{len(der) / 1024:7.0f} KiB; parsed into a serial set in "
            f"{loaded * 1000:7.1f} ms  (goal for 100k: 2000 ms)",
            flush=True,
        )


if __name__ == "__main__":
    main()
