"""Client certificates built and signed per second: a CA key on a PKCS#11 token
(SoftHSM2, through the held session pool) beside the same key type in process.

The token is initialised in a temporary directory; each figure runs for about
two seconds. Goal: the HSM path at least 25 % of in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.profile import ClientIdentity, build_client_certificate
from aura_grpc.ca.signers.base import SigningKey

BUDGET_SECONDS = 2.0
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "123456"
NOW = datetime.now(UTC)
IDENTITY = ClientIdentity("org_bench", "dev_bench", "bench", "aura.local")
DEVICE_KEY = ed25519.Ed25519PrivateKey.generate().public_key()


def rate(work: Callable[[], object]) -> float:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < BUDGET_SECONDS:
        for _ in range(50):
            work()
        calls += 50
    return calls / elapsed


def issuance(key: SigningKey) -> Callable[[], object]:
    ca = make_ca_certificate("bench", "ca_bench", key, NOW)

    def issue() -> object:
        return build_client_certificate(
            IDENTITY,
            DEVICE_KEY,
            0x1234567890ABCDEF1234,
            ca,
            key,
            NOW,
            NOW + timedelta(days=30),
            "https://aura.local/v2/crl/ca_bench",
        )

    return issue


def token(folder: Path) -> None:
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", "bench"),
            *("--pin", PIN, "--so-pin", "654321"),
        ],
        check=True,
        capture_output=True,
    )


def main() -> None:
    if not MODULE.exists() or shutil.which("softhsm2-util") is None:
        print("hsm: SoftHSM2 is missing (apt-get install -y softhsm2); skipped")
        return
    from aura_grpc.ca.signers.pkcs11 import Pkcs11Backend
    from aura_grpc.ca.signers.pool import SessionPool

    with tempfile.TemporaryDirectory() as folder:
        token(Path(folder))
        keys = Pkcs11Backend(SessionPool(str(MODULE), "bench", PIN, 2), "bench")
        in_process: dict[str, SigningKey] = {
            "ed25519": ed25519.Ed25519PrivateKey.generate(),
            "p256": ec.generate_private_key(ec.SECP256R1()),
        }
        for algorithm, local in in_process.items():
            on_token = keys.create_key(f"bench-{algorithm}", algorithm).key
            hsm, ceiling = rate(issuance(on_token)), rate(issuance(local))
            print(
                f"issue cert ({algorithm} CA on SoftHSM2): {hsm:.0f}/s  "
                f"in-process: {ceiling:.0f}/s  ratio {hsm / ceiling:.2f}"
            )
        keys.close()


if __name__ == "__main__":
    main()
