"""Google's token signing keys, held in memory and refreshed in the background.

Verification never waits on the network: it reads whatever key set the last
successful refresh installed. A failed refresh keeps the last good set (Google
publishes keys well before using them and retires them well after), so a short
outage of the key endpoint does not stop attestation. Only a server that has
never loaded a key set refuses, with Unavailable.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from aura_grpc.errors import SignatureInvalid, Unavailable

log = logging.getLogger(__name__)

MAX_KEYSET_BYTES = 1 << 20
DEFAULT_REFRESH_SECONDS = 3600
DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class KeySetSource:
    """Where the key set comes from: exactly one of an HTTPS URL or a file."""

    url: str | None = None
    file: Path | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


def parse_keyset(data: bytes) -> dict[str, rsa.RSAPublicKey]:
    """kid -> RSA key; keys of other types or without a kid are skipped.
    Raises ValueError when nothing usable is left."""
    if len(data) > MAX_KEYSET_BYTES:
        raise ValueError("key set is too large")
    document: Any = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("key set is not a JSON object")
    try:
        keyset = jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise ValueError(f"not a usable JWKS: {exc}") from exc

    keys = {
        jwk.key_id: jwk.key
        for jwk in keyset.keys
        if jwk.key_id and isinstance(jwk.key, rsa.RSAPublicKey)
    }
    if not keys:
        raise ValueError("key set holds no RSA keys with a kid")
    return keys


class KeySetCache:
    """The last good key set, and the periodic task that renews it."""

    def __init__(
        self,
        source: KeySetSource,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._source = source
        self._refresh_seconds = refresh_seconds
        self._keys: dict[str, rsa.RSAPublicKey] | None = None
        self.loaded_at: datetime | None = None

    def __repr__(self) -> str:
        count = "none" if self._keys is None else len(self._keys)
        return f"KeySetCache(keys={count}, loaded_at={self.loaded_at})"

    def key_for(self, kid: str) -> rsa.RSAPublicKey:
        keys = self._keys
        if keys is None:
            raise Unavailable(
                "Google's token key set has not been loaded yet",
                reason="GCP_KEYSET_UNAVAILABLE",
            )
        key = keys.get(kid)
        if key is None:
            raise SignatureInvalid(
                "token is signed with a key not in the key set",
                reason="GCP_UNKNOWN_KID",
            )
        return key

    def install(self, keys: dict[str, rsa.RSAPublicKey]) -> None:
        # One assignment: verifications running meanwhile see the old or the new
        # set, never a mix.
        self._keys = dict(keys)
        self.loaded_at = datetime.now(UTC)
        log.info("token key set installed", extra={"kids": sorted(keys)})

    def load_file_now(self) -> None:
        """Synchronous first load at start-up, so a file source works at once."""
        if self._source.file is not None:
            self.install(parse_keyset(self._source.file.read_bytes()))

    async def refresh_once(self) -> bool:
        """Fetch and install; on any failure keep the last good set."""
        try:
            keys = parse_keyset(await self._fetch())
        except (OSError, ValueError, httpx.HTTPError) as exc:
            log.warning("token key set refresh failed: %s", type(exc).__name__)
            return False
        self.install(keys)
        return True

    async def run(self) -> None:
        """The background task: refresh now, then every refresh_seconds."""
        while True:
            await self.refresh_once()
            await asyncio.sleep(self._refresh_seconds)

    async def _fetch(self) -> bytes:
        if self._source.file is not None:
            return await asyncio.to_thread(self._source.file.read_bytes)
        if self._source.url is None:
            raise ValueError("no key set source configured")

        # TODO: stream with a byte cap instead of reading the whole body before
        # parse_keyset bounds it; can go when the fetch moves to a shared client.
        timeout = httpx.Timeout(self._source.timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(self._source.url)
            response.raise_for_status()
            return response.content
