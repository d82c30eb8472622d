"""The agent's state folder: what it keeps between runs, readable by it only."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

CERT_FILE = "cert.pem"
CHAIN_FILE = "chain.pem"
KEY_FILE = "key.pem"
STATE_FILE = "agent.json"


@dataclass
class AgentState:
    """What the last successful run left: device, serial and the key's kind."""

    device_id: str = ""
    serial: str = ""
    not_after: str = ""
    # "tpm": key.pub/key.priv blobs wrapped by the TPM; "software": key.pem.
    key_kind: str = ""
    key_name: str = ""


def write_private(path: Path, data: bytes) -> None:
    """Write with 0600 from the first byte, then replace atomically."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        root.chmod(0o700)

    @property
    def tpm_dir(self) -> Path:
        return self.root / "tpm"

    def load(self) -> AgentState:
        path = self.root / STATE_FILE
        if not path.exists():
            return AgentState()
        return AgentState(**json.loads(path.read_text()))

    def save(self, state: AgentState) -> None:
        write_private(self.root / STATE_FILE, json.dumps(asdict(state)).encode())

    def save_certificate(self, cert_pem: str, chain_pem: str) -> None:
        write_private(self.root / CERT_FILE, cert_pem.encode())
        write_private(self.root / CHAIN_FILE, chain_pem.encode())

    def certificate(self) -> x509.Certificate | None:
        path = self.root / CERT_FILE
        if not path.exists():
            return None
        return x509.load_pem_x509_certificate(path.read_bytes())

    def path(self, name: str) -> Path:
        return self.root / name


def needs_renewal(
    cert: x509.Certificate | None, now: datetime, renew_fraction: float
) -> bool:
    """True without a certificate, or once `renew_fraction` of its life is gone."""
    if cert is None:
        return True
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    renew_at = start + (end - start) * renew_fraction
    return now.astimezone(UTC) >= renew_at
