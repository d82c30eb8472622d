"""Fixtures for the GCP tests: a test CA, signing keys and a served key set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from tests.attestation.gcp_cc.minting import AUDIENCE, GCPTestPKI, jwks, rsa_key

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pki() -> GCPTestPKI:
    return GCPTestPKI(not_before=datetime(2026, 11, 20, tzinfo=UTC))


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, rsa.RSAPrivateKey]:
    return {"key-a": rsa_key(), "key-b": rsa_key()}


@pytest.fixture(scope="session")
def jwks_file(
    tmp_path_factory: pytest.TempPathFactory, signing_keys: dict[str, rsa.RSAPrivateKey]
) -> Path:
    path = tmp_path_factory.mktemp("jwks") / "keys.json"
    path.write_bytes(jwks({"key-a": signing_keys["key-a"]}))
    return path


@pytest.fixture(scope="session")
def verifier(pki: GCPTestPKI, jwks_file: Path) -> GCPConfidentialVerifier:
    return GCPConfidentialVerifier.from_options(
        {
            "extra_roots_pem": pki.root_pem,
            "audience": AUDIENCE,
            "jwks_file": str(jwks_file),
        },
        "dev",
    )


class KeySetServer:
    """A JWKS endpoint on 127.0.0.1 whose body and status the test controls."""

    def __init__(self) -> None:
        self.body = b'{"keys": []}'
        self.status = 200
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(
                self, format: str, *args: object
            ) -> None:  # stdlib signature
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    def __enter__(self) -> KeySetServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def keyset_server() -> Iterator[KeySetServer]:
    with KeySetServer() as server:
        yield server
