"""The key set cache: loaded by a background task, last good kept, rotation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from aura_grpc.attestation.base import background_tasks_of
from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from aura_grpc.attestation.gcp_cc.keyset import KeySetCache, KeySetSource, parse_keyset
from aura_grpc.errors import SignatureInvalid, Unavailable
from tests.attestation.gcp_cc.conftest import KeySetServer
from tests.attestation.gcp_cc.minting import jwks


def cache_for(server: KeySetServer, refresh: float = 3600) -> KeySetCache:
    return KeySetCache(KeySetSource(url=server.url, timeout_seconds=2), refresh)


async def test_refresh_installs_the_served_key_set(
    keyset_server: KeySetServer, signing_keys: dict[str, rsa.RSAPrivateKey]
) -> None:
    keyset_server.body = jwks({"key-a": signing_keys["key-a"]})
    cache = cache_for(keyset_server)
    with pytest.raises(Unavailable):
        cache.key_for("key-a")

    assert await cache.refresh_once()

    assert cache.key_for("key-a").public_numbers() == (
        signing_keys["key-a"].public_key().public_numbers()
    )


async def test_rotation_retires_the_old_kid_and_adds_the_new(
    keyset_server: KeySetServer, signing_keys: dict[str, rsa.RSAPrivateKey]
) -> None:
    keyset_server.body = jwks({"key-a": signing_keys["key-a"]})
    cache = cache_for(keyset_server)
    await cache.refresh_once()

    keyset_server.body = jwks({"key-b": signing_keys["key-b"]})
    await cache.refresh_once()

    cache.key_for("key-b")
    with pytest.raises(SignatureInvalid) as caught:
        cache.key_for("key-a")
    assert caught.value.reason == "GCP_UNKNOWN_KID"


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"oops"), (200, b"not json"), (200, b'{"keys": []}'), (200, b"[]")],
    ids=["server error", "not json", "no keys", "not an object"],
)
async def test_failed_refresh_keeps_the_last_good_key_set(
    keyset_server: KeySetServer,
    signing_keys: dict[str, rsa.RSAPrivateKey],
    status: int,
    body: bytes,
) -> None:
    keyset_server.body = jwks({"key-a": signing_keys["key-a"]})
    cache = cache_for(keyset_server)
    await cache.refresh_once()

    keyset_server.status, keyset_server.body = status, body
    assert not await cache.refresh_once()

    cache.key_for("key-a")


async def test_unreachable_endpoint_leaves_the_cache_unavailable() -> None:
    cache = KeySetCache(KeySetSource(url="http://127.0.0.1:9/jwks", timeout_seconds=1))

    assert not await cache.refresh_once()
    with pytest.raises(Unavailable):
        cache.key_for("any")


async def test_background_task_picks_up_a_rotation(
    keyset_server: KeySetServer, signing_keys: dict[str, rsa.RSAPrivateKey]
) -> None:
    keyset_server.body = jwks({"key-a": signing_keys["key-a"]})
    verifier = GCPConfidentialVerifier.from_options(
        {"jwks_url": keyset_server.url, "refresh_seconds": 0.05}, "dev"
    )
    (task_factory,) = background_tasks_of(verifier)
    task = asyncio.create_task(task_factory())
    try:
        await wait_for_kid(verifier, "key-a")
        keyset_server.body = jwks({"key-b": signing_keys["key-b"]})
        await wait_for_kid(verifier, "key-b")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def wait_for_kid(verifier: GCPConfidentialVerifier, kid: str) -> None:
    cache = verifier._keys
    assert cache is not None
    for _ in range(100):
        try:
            cache.key_for(kid)
            return
        except (Unavailable, SignatureInvalid):
            await asyncio.sleep(0.02)
    raise AssertionError(f"kid {kid} never loaded")


def test_file_key_set_loads_at_start(jwks_file: Path) -> None:
    verifier = GCPConfidentialVerifier.from_options(
        {"jwks_file": str(jwks_file)}, "dev"
    )

    assert len(background_tasks_of(verifier)) == 1


def test_verifier_without_a_key_set_has_no_background_task() -> None:
    assert background_tasks_of(GCPConfidentialVerifier()) == ()


def test_oversized_key_set_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_keyset(b" " * (2 << 20))


@pytest.mark.parametrize(
    "options",
    [
        {"jwks_url": "http://x", "jwks_file": "/x"},
        {"jwks": "http://x"},
        {"refresh_seconds": 0, "jwks_url": "http://x"},
        {"extra_roots_pem": "-----BEGIN CERTIFICATE-----"},
    ],
    ids=["both sources", "unknown key", "zero refresh", "extra roots in prod"],
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GCPConfidentialVerifier.from_options(options, "prod")
