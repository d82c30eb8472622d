"""`aura serve --workers 2`: two backend processes behind one Envoy, sharing only
the database (PostgreSQL under `make test-postgres`, else SQLite).

Issue and revoke are hammered from several threads through Envoy, which spreads
the calls over both workers; what must hold across workers is then checked
against the database, the CRL, Envoy's own trust data and real mTLS handshakes.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import text

from aura_grpc.store import db
from benchmarks.running import RunningAura, running_aura
from tests import pgdb
from tests.certs import public_pem
from tests.mtls_devices import DeviceCert, attest_stub, enroll, tls_context
from tests.stub_evidence import StubTPM

HAMMER_SECONDS = 5.0
THREADS = 6
ENROLLED = 6  # certificates with real keys, for mTLS handshakes afterwards
PROPAGATION_S = 5.0  # watch interval is 0.25 s; generous for a loaded machine


@pytest.fixture(scope="module")
def scratch_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database under `make test-postgres`, else None."""
    url = pgdb.create_database() if pgdb.server_url() else None
    try:
        yield url
    finally:
        if url is not None:
            pgdb.drop_database(url)


@pytest.fixture(scope="module")
def aura(scratch_database: str | None) -> Iterator[RunningAura]:
    extra = {"database_url": scratch_database} if scratch_database else {}
    with running_aura(workers="2", **extra) as running:
        yield running


@pytest.fixture(scope="module")
def database_url(aura: RunningAura, scratch_database: str | None) -> str:
    return scratch_database or f"sqlite+aiosqlite:///{aura.state_dir / 'aura.db'}"


def api(aura: RunningAura) -> httpx.Client:
    return httpx.Client(
        base_url=aura.base_url,
        verify=ssl.create_default_context(cafile=str(aura.ca_cert)),
        headers={"authorization": f"Bearer {aura.token}"},
        timeout=30,
    )


def sql_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    async def fetch() -> list[tuple[Any, ...]]:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(text(query))]
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


def crl_numbers(pem: str) -> dict[str, int]:
    """CRL number by issuer, for every CRL in a PEM bundle."""
    numbers = {}
    for block in pem.split("-----END X509 CRL-----")[:-1]:
        crl = x509.load_pem_x509_crl(f"{block}-----END X509 CRL-----\n".encode())
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value
        numbers[crl.issuer.rfc4514_string()] = number.crl_number
    return numbers


def crl_serials(pem: str) -> set[str]:
    serials: set[str] = set()
    for block in pem.split("-----END X509 CRL-----")[:-1]:
        crl = x509.load_pem_x509_crl(f"{block}-----END X509 CRL-----\n".encode())
        serials |= {format(entry.serial_number, "x") for entry in crl}
    return serials


def envoy_crl_pem(aura: RunningAura) -> str:
    """The CRL Envoy holds right now, from its admin config dump."""
    dump = httpx.get(
        f"http://127.0.0.1:{aura.admin_port}/config_dump",
        params={"resource": "dynamic_active_secrets"},
        timeout=5,
    ).json()
    for config in dump["configs"]:
        context = config["secret"].get("validation_context", {})
        if "crl" in context:
            return base64.b64decode(context["crl"]["inline_bytes"]).decode()
    raise AssertionError("Envoy holds no CRL")


def refused_at_edge(aura: RunningAura, device: DeviceCert) -> bool:
    """A new mTLS connection on the device listener is refused (TLS or 401/403)."""
    try:
        with httpx.Client(
            base_url=f"https://127.0.0.1:{aura.device_port}",
            verify=tls_context(aura.ca_cert, device),
            timeout=5,
        ) as client:
            return client.get("/v2/whoami").status_code in (401, 403)
    except (httpx.TransportError, ssl.SSLError):
        return True


@dataclass
class Hammer:
    """What the threads saw; every list is appended to under the GIL."""

    issued: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    api_crl_numbers: list[dict[str, int]] = field(default_factory=list)
    envoy_crl_numbers: list[dict[str, int]] = field(default_factory=list)


def issue_and_revoke(
    aura: RunningAura, device_id: str, key_pem: str, stop: float, seen: Hammer
) -> None:
    mine: list[str] = []
    rng = random.Random()
    body = {
        "device_id": device_id,
        "subject_cn": "worker-test",
        "days": 1,
        "public_key_pem": key_pem,
    }
    with api(aura) as client:
        while time.monotonic() < stop:
            if mine and rng.random() < 0.3:
                serial = mine.pop(rng.randrange(len(mine)))
                response = client.post(f"/v2/certs/{serial}/revoke", json={})
                (seen.revoked if response.is_success else seen.failures).append(
                    serial if response.is_success else response.text
                )
                continue
            response = client.post("/v2/certs/issue", json=body)
            if response.status_code != 200:
                seen.failures.append(response.text)
                continue
            mine.append(response.json()["serial"])
            seen.issued.append(mine[-1])


def sample_crl_numbers(aura: RunningAura, stop: float, seen: Hammer) -> None:
    with api(aura) as client:
        while time.monotonic() < stop:
            response = client.get("/v2/certs/crl.pem")
            if response.is_success:
                seen.api_crl_numbers.append(crl_numbers(response.text))
            seen.envoy_crl_numbers.append(crl_numbers(envoy_crl_pem(aura)))
            time.sleep(0.05)


def non_decreasing(samples: list[dict[str, int]]) -> bool:
    last: dict[str, int] = {}
    for sample in samples:
        for issuer, number in sample.items():
            if number < last.get(issuer, 0):
                return False
            last[issuer] = number
    return True


@pytest.fixture(scope="module")
def hammered(aura: RunningAura) -> tuple[Hammer, list[DeviceCert], list[DeviceCert]]:
    """Issue and revoke from several threads while sampling CRL numbers; along
    the way revoke half of a few real-key certificates, from different threads
    (so from whichever worker Envoy picks)."""
    with api(aura) as client:
        enrolled = [enroll(client, "ed25519") for _ in range(ENROLLED)]
        devices = [attest_stub(client, StubTPM()) for _ in range(THREADS)]
    keys = [public_pem(ed25519.Ed25519PrivateKey.generate()) for _ in range(THREADS)]
    to_revoke, to_keep = enrolled[::2], enrolled[1::2]

    seen = Hammer()
    stop = time.monotonic() + HAMMER_SECONDS
    with ThreadPoolExecutor(THREADS + 1 + len(to_revoke)) as pool:
        jobs = [
            pool.submit(issue_and_revoke, aura, d["device_id"], k, stop, seen)
            for d, k in zip(devices, keys, strict=True)
        ]
        jobs.append(pool.submit(sample_crl_numbers, aura, stop, seen))
        jobs += [pool.submit(revoke_one, aura, device, seen) for device in to_revoke]
        for job in jobs:
            job.result()
    return seen, to_revoke, to_keep


def revoke_one(aura: RunningAura, device: DeviceCert, seen: Hammer) -> None:
    time.sleep(random.uniform(0.5, HAMMER_SECONDS - 1))
    with api(aura) as client:
        response = client.post(f"/v2/certs/{device.serial}/revoke", json={})
    assert response.status_code == 200, response.text
    seen.revoked.append(device.serial)


def test_load_ran_on_both_workers_without_errors(
    aura: RunningAura, hammered: tuple[Hammer, list[DeviceCert], list[DeviceCert]]
) -> None:
    seen, _, _ = hammered
    assert seen.failures == []
    assert len(seen.issued) > 50 and len(seen.revoked) > 10

    # Envoy's own per-endpoint counters: both workers answered requests.
    stats = httpx.get(f"http://127.0.0.1:{aura.admin_port}/clusters", timeout=5).text
    served = {
        line.split("::")[1]: int(line.rsplit("::", 1)[1])
        for line in stats.splitlines()
        if line.startswith("backend::") and "::rq_success::" in line
    }
    assert len(served) == 2 and all(count > 20 for count in served.values()), served


def test_serials_never_collide_and_every_issued_certificate_is_recorded(
    database_url: str,
    hammered: tuple[Hammer, list[DeviceCert], list[DeviceCert]],
) -> None:
    seen, _, _ = hammered
    assert len(set(seen.issued)) == len(seen.issued)

    rows = sql_rows(database_url, "SELECT serial, revoked_at FROM certificates")
    assert set(seen.issued) <= {serial for serial, _ in rows}
    revoked_in_db = {serial for serial, revoked_at in rows if revoked_at is not None}
    assert set(seen.revoked) <= revoked_in_db


def test_every_revocation_is_in_the_next_crl_and_numbers_only_grow(
    aura: RunningAura, hammered: tuple[Hammer, list[DeviceCert], list[DeviceCert]]
) -> None:
    seen, _, _ = hammered
    with api(aura) as client:
        final = client.get("/v2/certs/crl.pem").text

    assert set(seen.revoked) <= crl_serials(final)
    assert non_decreasing([*seen.api_crl_numbers, crl_numbers(final)])
    # One re-sign per revocation, none lost to a race between workers.
    first = min(itertools.chain.from_iterable(s.values() for s in seen.api_crl_numbers))
    assert max(crl_numbers(final).values()) - first >= len(seen.revoked) - 2


def test_envoy_never_goes_back_to_an_older_crl_and_ends_on_the_newest(
    aura: RunningAura, hammered: tuple[Hammer, list[DeviceCert], list[DeviceCert]]
) -> None:
    seen, _, _ = hammered
    assert non_decreasing(seen.envoy_crl_numbers)

    with api(aura) as client:
        newest = crl_numbers(client.get("/v2/certs/crl.pem").text)
    deadline = time.monotonic() + PROPAGATION_S
    while crl_numbers(envoy_crl_pem(aura)) != newest and time.monotonic() < deadline:
        time.sleep(0.1)
    assert crl_numbers(envoy_crl_pem(aura)) == newest


def test_revoked_certificates_are_refused_at_envoy_whichever_worker_revoked_them(
    aura: RunningAura, hammered: tuple[Hammer, list[DeviceCert], list[DeviceCert]]
) -> None:
    _, revoked, kept = hammered
    deadline = time.monotonic() + PROPAGATION_S
    pending = list(revoked)
    while pending and time.monotonic() < deadline:
        pending = [device for device in pending if not refused_at_edge(aura, device)]
        time.sleep(0.1)

    assert pending == []
    assert not any(refused_at_edge(aura, device) for device in kept)


def test_a_nonce_is_single_use_across_workers(aura: RunningAura) -> None:
    with api(aura) as client:
        nonce = client.post("/v2/attest/challenge", json={}).json()["nonce"]
    body = json.dumps({"type": "tpm", "payload": StubTPM().payload(nonce)})
    barrier = threading.Barrier(8)

    def attest() -> int:
        with api(aura) as client:
            barrier.wait()
            return client.post("/v2/attest", content=body).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: attest(), range(8)))

    assert codes == [200] + [400] * 7
