"""VCEK fetching against a local stand-in for AMD KDS serving a recorded VCEK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aura_grpc.attestation.azure_snp.collateral import VCEKFetcher
from aura_grpc.errors import Unavailable

pytestmark = pytest.mark.filterwarnings("ignore:Parsed a serial number")

CHIP_ID = bytes.fromhex(
    "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e5378618"
    "4ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d"
)
TCB = {"bootloader": 2, "tee": 0, "snp": 5, "microcode": 68}
PATH = f"/vcek/v1/Milan/{CHIP_ID.hex()}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68"


class FakeKDS(ThreadingHTTPServer):
    vcek: bytes
    requests: list[str]


class Handler(BaseHTTPRequestHandler):
    server: FakeKDS

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        found = self.path == PATH
        body = self.server.vcek if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the stdlib names it so
        pass


@pytest.fixture
def kds(vectors: Path) -> Iterator[FakeKDS]:
    server = FakeKDS(("127.0.0.1", 0), Handler)
    server.vcek = (vectors / "sev-snp" / "gosevguest_milan_vcek.der").read_bytes()
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _fetcher(kds: FakeKDS, cache: Path, *, enabled: bool = True) -> VCEKFetcher:
    base = f"http://127.0.0.1:{kds.server_address[1]}"
    return VCEKFetcher(cache, base_url=base, enabled=enabled)


def test_vcek_is_fetched_once_then_served_from_the_cache(
    kds: FakeKDS, tmp_path: Path
) -> None:
    fetcher = _fetcher(kds, tmp_path)

    first = fetcher.fetch_vcek("Milan", CHIP_ID, TCB)
    second = fetcher.fetch_vcek("Milan", CHIP_ID, TCB)
    assert first == second == kds.vcek
    assert kds.requests == [PATH]


def test_cached_vcek_is_served_even_when_fetching_is_disabled(
    kds: FakeKDS, tmp_path: Path
) -> None:
    _fetcher(kds, tmp_path).fetch_vcek("Milan", CHIP_ID, TCB)
    disabled = _fetcher(kds, tmp_path, enabled=False)

    assert disabled.fetch_vcek("Milan", CHIP_ID, TCB) == kds.vcek


def test_disabled_fetcher_never_calls_the_network(kds: FakeKDS, tmp_path: Path) -> None:
    with pytest.raises(Unavailable):
        _fetcher(kds, tmp_path, enabled=False).fetch_vcek("Milan", CHIP_ID, TCB)
    assert kds.requests == []


def test_unknown_chip_is_unavailable_and_not_cached(
    kds: FakeKDS, tmp_path: Path
) -> None:
    with pytest.raises(Unavailable):
        _fetcher(kds, tmp_path).fetch_vcek("Milan", b"\1" * 64, TCB)
    assert list(tmp_path.iterdir()) == []


def test_turin_url_uses_eight_bytes_of_chip_id_and_fmc(tmp_path: Path) -> None:
    fetcher = VCEKFetcher(tmp_path, base_url="https://kds.example/")
    url = fetcher.url_for("Turin", bytes(range(64)), {"fmc": 1, "snp": 3})
    assert url == "https://kds.example/vcek/v1/Turin/0001020304050607?snpSPL=3&fmcSPL=1"
