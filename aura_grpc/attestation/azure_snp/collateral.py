"""Fetching VCEKs from AMD's Key Distribution Service, with an on-disk cache.

This is the collateral side of SEV-SNP and never runs inside `verify()`: a
device that cannot send its VCEK can have one fetched here beforehand (by chip
ID and reported TCB) and the result passed to the verifier like any other. A
fetched certificate is trusted no more than a client-sent one; the verifier
still checks it against the pinned AMD roots. Fetching is off unless enabled.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import httpx
from cryptography import x509

from aura_grpc.attestation.azure_snp.report import TURIN
from aura_grpc.errors import Unavailable

log = logging.getLogger(__name__)

AMD_KDS_URL = "https://kdsintf.amd.com"
_SPL_PARAMS = {
    "bootloader": "blSPL",
    "tee": "teeSPL",
    "snp": "snpSPL",
    "microcode": "ucodeSPL",
    "fmc": "fmcSPL",
}


class VCEKFetcher:
    """GET {base_url}/vcek/v1/{product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..

    Responses are DER certificates, cached by URL under `cache_dir` forever: a
    VCEK for a given chip and TCB never changes.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        base_url: str = AMD_KDS_URL,
        enabled: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._cache_dir = cache_dir
        self._base_url = base_url.rstrip("/")
        self._enabled = enabled
        self._timeout = timeout

    def url_for(self, product: str, chip_id: bytes, tcb: Mapping[str, int]) -> str:
        # Turin's KDS names a chip by the first 8 bytes of its chip ID.
        hwid = chip_id[:8] if product == TURIN else chip_id
        query = "&".join(
            f"{param}={tcb[name]}" for name, param in _SPL_PARAMS.items() if name in tcb
        )
        return f"{self._base_url}/vcek/v1/{product}/{hwid.hex()}?{query}"

    def fetch_vcek(self, product: str, chip_id: bytes, tcb: Mapping[str, int]) -> bytes:
        """The VCEK's DER bytes, from the cache or else from the KDS."""
        url = self.url_for(product, chip_id, tcb)
        cached = self._cache_path(url)
        if cached.is_file():
            return cached.read_bytes()
        if not self._enabled:
            raise Unavailable("VCEK fetching from AMD KDS is disabled")

        der = self._download(url)
        self._store(cached, der)
        return der

    def _download(self, url: str) -> bytes:
        try:
            response = httpx.get(url, timeout=self._timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("VCEK fetch failed: %s", type(exc).__name__)
            raise Unavailable("AMD KDS did not return a VCEK") from exc

        try:
            x509.load_der_x509_certificate(response.content)
        except ValueError as exc:
            raise Unavailable("AMD KDS returned something other than a VCEK") from exc
        return response.content

    def _cache_path(self, url: str) -> Path:
        return self._cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()}.der"

    def _store(self, path: Path, der: bytes) -> None:
        # Write then rename, so a concurrent reader never sees half a file.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(der)
        Path(tmp).replace(path)
