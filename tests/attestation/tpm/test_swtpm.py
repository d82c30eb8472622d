"""Against a real software TPM: make_credential activates, quotes verify.

Runs Debian's swtpm and tpm2-tools; skipped where they are not installed.
Without a resource manager, transient handles are flushed after each command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aura_grpc.attestation.tpm import TPMVerifier
from aura_grpc.attestation.tpm.credential import make_credential
from aura_grpc.attestation.tpm.parse import parse_public
from aura_grpc.attestation.tpm.quote import verify_quote
from tests.attestation.tpm.helpers import b64, context

pytestmark = [
    pytest.mark.swtpm,
    pytest.mark.skipif(
        not (shutil.which("swtpm") and shutil.which("tpm2_activatecredential")),
        reason="swtpm and tpm2-tools are not installed (Debian: swtpm tpm2-tools)",
    ),
]
CREDENTIAL_FILE_HEADER = struct.pack(">II", 0xBADCC0DE, 1)  # tpm2-tools' format


def _free_port_pair() -> int:
    """A port whose successor is free too: the swtpm TCTI puts control on port+1."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no free pair of ports")


class SWTPM:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        (workdir / "state").mkdir()
        for _ in range(5):  # a port taken between the probe and swtpm: try again
            port = _free_port_pair()
            self.process = self._start(port)
            if self._started(port):
                self.env = {
                    **os.environ,
                    "TPM2TOOLS_TCTI": f"swtpm:host=127.0.0.1,port={port}",
                }
                return
            self.stop()
        raise RuntimeError("swtpm did not start")

    def _start(self, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "swtpm",
                "socket",
                "--tpm2",
                "--tpmstate",
                f"dir={self.dir / 'state'}",
                "--server",
                f"type=tcp,port={port}",
                "--ctrl",
                f"type=tcp,port={port + 1}",
                "--flags",
                "not-need-init,startup-clear",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _started(self, port: int) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port + 1)) == 0:
                    return True
            time.sleep(0.05)
        return False

    def run(self, *args: str) -> bytes:
        result = subprocess.run(
            args,
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        subprocess.run(
            ["tpm2_flushcontext", "-t"], cwd=self.dir, env=self.env, check=True
        )
        return result.stdout

    def read(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(params=["rsa", "ecc"])
def tpm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SWTPM]:
    """A fresh swtpm with an EK and an AK of the given algorithm."""
    swtpm = SWTPM(tmp_path)
    try:
        alg = request.param
        scheme = "rsassa" if alg == "rsa" else "ecdsa"
        swtpm.run("tpm2_createek", "-c", "ek.ctx", "-G", alg, "-u", "ek.pub")
        swtpm.run(
            "tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", alg,
            "-g", "sha256", "-s", scheme, "-u", "ak.pub", "-n", "ak.name",
        )  # fmt: skip
        yield swtpm
    finally:
        swtpm.stop()


def test_make_credential_is_activated_by_a_real_tpm(tpm: SWTPM) -> None:
    ek, ak = parse_public(tpm.read("ek.pub")), parse_public(tpm.read("ak.pub"))
    assert ak.name() == tpm.read("ak.name")
    secret = os.urandom(32)

    blob, encrypted = make_credential(ek, ak.name(), secret)
    (tpm.dir / "cred.out").write_bytes(CREDENTIAL_FILE_HEADER + blob + encrypted)
    tpm.run("tpm2_startauthsession", "--policy-session", "-S", "session.ctx")
    tpm.run("tpm2_policysecret", "-S", "session.ctx", "-c", "e")
    tpm.run(
        "tpm2_activatecredential", "-c", "ak.ctx", "-C", "ek.ctx",
        "-i", "cred.out", "-o", "secret.out", "-P", "session:session.ctx",
    )  # fmt: skip

    assert tpm.read("secret.out") == secret


def test_real_tpm_quote_verifies_and_names_its_ek(tpm: SWTPM) -> None:
    measurement = hashlib.sha256(b"bootloader").digest()
    tpm.run("tpm2_pcrextend", f"0:sha256={measurement.hex()}")
    nonce = os.urandom(32)
    tpm.run(
        "tpm2_quote", "-c", "ak.ctx", "-l", "sha256:0,1,2", "-q", nonce.hex(),
        "-m", "quote.msg", "-s", "quote.sig", "-g", "sha256",
    )  # fmt: skip
    pcrs = {0: hashlib.sha256(bytes(32) + measurement).digest(), 1: bytes(32)}
    pcrs[2] = bytes(32)

    ak = parse_public(tpm.read("ak.pub"))
    verify_quote(
        ak.public_key, tpm.read("quote.msg"), tpm.read("quote.sig"), pcrs, nonce
    )
    payload = {
        "ak_public": b64(tpm.read("ak.pub")),
        "ek_public": b64(tpm.read("ek.pub")),
        "quote": b64(tpm.read("quote.msg")),
        "signature": b64(tpm.read("quote.sig")),
        "pcrs": {str(i): v.hex() for i, v in pcrs.items()},
    }
    evidence = TPMVerifier().verify(payload, context(nonce=nonce))

    ek_spki = parse_public(tpm.read("ek.pub")).spki()
    assert evidence.fingerprint == hashlib.sha256(ek_spki).hexdigest()
    assert evidence.claims["pcrs"]["0"] == pcrs[0].hex()
