"""kill -9 of a real `aura serve` in the middle of issuing and revoking, five
times: after each restart every certificate a client received is stored whole,
every acknowledged revocation is in the CRL, and CRL numbers never go back."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from google.protobuf import json_format, struct_pb2

from aura_grpc.gen.aura.v2 import (
    attest_pb2,
    attest_pb2_grpc,
    certs_pb2,
    certs_pb2_grpc,
    meta_pb2,
    meta_pb2_grpc,
)
from tests.stub_evidence import StubTPM

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KILLS = 5
WORKERS = 4


@dataclass
class Ledger:
    """What clients were told: certificates received, revocations acknowledged."""

    issued: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_server(state: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AURA_STATE_DIR": str(state),
        "AURA_METRICS_PORT": "0",
        "AURA_WORKERS": "1",
    }
    log = (state / "server.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "aura_grpc.cli", "serve", "--no-envoy"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so one SIGKILL reaches every process of it
    )


def wait_ready(state: Path, process: subprocess.Popen[bytes]) -> grpc.Channel:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (state / "server.log").read_text()[-3000:]
        channel = grpc.insecure_channel(f"unix:{state / 'backend.sock'}")
        try:
            meta_pb2_grpc.MetaServiceStub(channel).GetVersion(
                meta_pb2.GetVersionRequest(), timeout=1
            )
            return channel
        except grpc.RpcError:
            channel.close()
            time.sleep(0.2)
    raise AssertionError("aura serve did not come up")


def one_round(channel: grpc.Channel, token: str, ledger: Ledger, n: int) -> None:
    auth = (("authorization", f"Bearer {token}"),)
    attest = attest_pb2_grpc.AttestServiceStub(channel)
    certs = certs_pb2_grpc.CertServiceStub(channel)
    nonce = attest.CreateChallenge(attest_pb2.CreateChallengeRequest(), metadata=auth)
    payload = struct_pb2.Struct()
    json_format.ParseDict(StubTPM().payload(_b64(nonce.nonce)), payload)
    device = attest.Attest(
        attest_pb2.AttestRequest(type="tpm", payload=payload), metadata=auth
    )
    issued = certs.IssueCert(
        certs_pb2.IssueCertRequest(
            device_id=device.device_id, subject_cn=f"crash-{n}", days=1
        ),
        metadata=auth,
    )
    with ledger.lock:
        ledger.issued[issued.serial] = issued.cert_pem
    if n % 2:
        certs.RevokeCert(
            certs_pb2.RevokeCertRequest(serial=issued.serial), metadata=auth
        )
        with ledger.lock:
            ledger.revoked.add(issued.serial)


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def burst(
    channel: grpc.Channel, token: str, ledger: Ledger, stop: threading.Event
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        try:
            one_round(channel, token, ledger, n)
        except grpc.RpcError:
            return  # the server is gone: what was acknowledged is in the ledger


@contextmanager
def serving(state: Path) -> Iterator[tuple[subprocess.Popen[bytes], grpc.Channel]]:
    process = start_server(state)
    channel = wait_ready(state, process)
    try:
        yield process, channel
    finally:
        channel.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def check_database(db: Path, ledger: Ledger, last_numbers: dict[str, int]) -> None:
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = dict(connection.execute("SELECT serial, cert_pem FROM certificates"))
        revoked = {
            s
            for (s,) in connection.execute(
                "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL"
            )
        }
        cas = connection.execute(
            "SELECT id, crl_number, crl_der FROM certificate_authorities"
        )
        crls = {ca: (number, der) for ca, number, der in cas}

    # Every certificate a client holds is stored, whole and the same.
    for serial, pem in ledger.issued.items():
        assert rows.get(serial) == pem, serial
    # No row half-written: each stored certificate parses and matches its serial.
    for serial, pem in rows.items():
        assert x509.load_pem_x509_certificate(pem.encode()).serial_number == int(
            serial, 16
        )

    in_crls: set[int] = set()
    for ca_id, (number, der) in crls.items():
        assert number >= last_numbers.get(ca_id, 0), ca_id
        last_numbers[ca_id] = number
        if der:
            crl = x509.load_der_x509_crl(der)
            crl_number = crl.extensions.get_extension_for_class(x509.CRLNumber).value
            assert crl_number.crl_number == number
            in_crls |= {entry.serial_number for entry in crl}
    assert ledger.revoked <= revoked
    assert {int(s, 16) for s in ledger.revoked} <= in_crls


def test_kill_nine_during_issuance_and_revocation_loses_nothing(tmp_path: Path) -> None:
    ledger = Ledger()
    last_numbers: dict[str, int] = {}
    rng = random.Random(5)
    for _ in range(KILLS):
        with serving(tmp_path) as (process, channel):
            token = (tmp_path / "dev-token").read_text().strip()
            stop = threading.Event()
            workers = [
                threading.Thread(target=burst, args=(channel, token, ledger, stop))
                for _ in range(WORKERS)
            ]
            for worker in workers:
                worker.start()
            time.sleep(rng.uniform(0.5, 2.0))
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        with serving(tmp_path):
            check_database(tmp_path / "aura.db", ledger, last_numbers)
    print(
        f"crash safety: {KILLS} kills survived, {len(ledger.issued)} certificates"
        f" received, {len(ledger.revoked)} revocations acknowledged"
    )
    assert len(ledger.issued) > KILLS and ledger.revoked
