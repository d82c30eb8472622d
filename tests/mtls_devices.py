"""Device identities for mTLS tests and benchmarks: enrol, write files, connect."""

from __future__ import annotations

import http.client
import json
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.certs import PrivateKey, csr_pem
from tests.stub_evidence import StubTPM


@dataclass(frozen=True)
class DeviceCert:
    serial: str
    cert_pem: str
    key_pem: str
    device_id: str
    ca_id: str
    cert_path: Path
    key_path: Path


def key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_key(kind: str) -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def write_identity(
    cert_pem: str, key_text: str, folder: Path | None = None
) -> tuple[Path, Path]:
    where = folder or Path(tempfile.mkdtemp(prefix="aura-device-"))
    cert_path, key_path = where / "cert.pem", where / "key.pem"
    cert_path.write_text(cert_pem)
    key_path.write_text(key_text)
    key_path.chmod(0o600)
    return cert_path, key_path


def attest_stub(client: httpx.Client, tpm: StubTPM) -> dict[str, Any]:
    nonce = client.post("/v2/attest/challenge", json={}).json()["nonce"]
    response = client.post(
        "/v2/attest", json={"type": "tpm", "payload": tpm.payload(nonce)}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def enroll(
    client: httpx.Client,
    kind: str = "ed25519",
    *,
    tpm: StubTPM | None = None,
    days: int = 30,
    subject_cn: str = "laptop-7",
) -> DeviceCert:
    """Attest a stub TPM and issue a certificate for a fresh key (API listener)."""
    key = new_key(kind)
    device = attest_stub(client, tpm or StubTPM())
    response = client.post(
        "/v2/certs/issue",
        json={
            "device_id": device["device_id"],
            "subject_cn": subject_cn,
            "days": days,
            "csr_pem": csr_pem(key),
            "issue_ticket": device["issue_ticket"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    cert_path, key_path = write_identity(body["cert_pem"], key_pem(key))
    return DeviceCert(
        body["serial"],
        body["cert_pem"],
        key_pem(key),
        device["device_id"],
        body["ca_id"],
        cert_path,
        key_path,
    )


def tls_context(ca_cert: Path, device: DeviceCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_cert))
    if device is not None:
        context.load_cert_chain(str(device.cert_path), str(device.key_path))
    return context


def device_client(ca_cert: Path, port: int, device: DeviceCert | None) -> httpx.Client:
    return httpx.Client(
        base_url=f"https://127.0.0.1:{port}",
        verify=tls_context(ca_cert, device),
        timeout=10,
    )


def open_connection(
    ca_cert: Path, port: int, device: DeviceCert
) -> http.client.HTTPSConnection:
    """One TLS connection, kept alive: every request goes over the same socket."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=tls_context(ca_cert, device), timeout=10
    )
    connection.connect()
    return connection


def get(
    connection: http.client.HTTPSConnection, path: str, **headers: str
) -> tuple[int, dict[str, Any]]:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"raw": raw.decode(errors="replace")}
    return response.status, body
