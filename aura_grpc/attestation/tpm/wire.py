"""Bounds-checked reading of TPM 2.0 wire structures (big-endian, sized buffers).

Every short read, oversized buffer or leftover byte becomes `EvidenceMalformed`,
so the parsers built on this never let `struct.error` or `IndexError` escape.
"""

from __future__ import annotations

import struct
from typing import Any

from cryptography.hazmat.primitives import hashes

from aura_grpc.errors import EvidenceMalformed

# TPM_ALG_ID values (TPM 2.0 Part 2, table 9) used by AURA.
ALG_RSA = 0x0001
ALG_SHA1 = 0x0004
ALG_HMAC = 0x0005
ALG_AES = 0x0006
ALG_KEYEDHASH = 0x0008
ALG_XOR = 0x000A
ALG_SHA256 = 0x000B
ALG_SHA384 = 0x000C
ALG_SHA512 = 0x000D
ALG_NULL = 0x0010
ALG_RSASSA = 0x0014
ALG_RSAES = 0x0015
ALG_RSAPSS = 0x0016
ALG_OAEP = 0x0017
ALG_ECDSA = 0x0018
ALG_ECDH = 0x0019
ALG_ECDAA = 0x001A
ALG_ECC = 0x0023
ALG_SYMCIPHER = 0x0025
ALG_CFB = 0x0043

HASH_NAMES: dict[int, str] = {
    ALG_SHA1: "sha1",
    ALG_SHA256: "sha256",
    ALG_SHA384: "sha384",
    ALG_SHA512: "sha512",
}
HASH_IDS: dict[str, int] = {name: alg for alg, name in HASH_NAMES.items()}
DIGEST_SIZES: dict[int, int] = {
    ALG_SHA1: 20,
    ALG_SHA256: 32,
    ALG_SHA384: 48,
    ALG_SHA512: 64,
}

# A TPM buffer is never larger than this (TPM2B_MAX_BUFFER and RSA-4096 keys fit).
MAX_BUFFER = 1024


def hash_for(alg: int) -> hashes.HashAlgorithm:
    """The cryptography hash object for a TPM hash algorithm id."""
    if alg == ALG_SHA1:
        return hashes.SHA1()  # noqa: S303  # TPM 1.2-era banks and quotes still use it
    if alg == ALG_SHA256:
        return hashes.SHA256()
    if alg == ALG_SHA384:
        return hashes.SHA384()
    if alg == ALG_SHA512:
        return hashes.SHA512()
    raise EvidenceMalformed(f"unsupported TPM hash algorithm 0x{alg:04x}")


class Reader:
    """A cursor over bytes that refuses to read past the end."""

    __slots__ = ("_data", "_order", "_pos", "_what")

    def __init__(self, data: bytes, what: str, *, little_endian: bool = False) -> None:
        self._data = data
        self._pos = 0
        self._what = what
        # TPM structures are big-endian; the TCG event log is little-endian.
        self._order = "<" if little_endian else ">"

    def take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise EvidenceMalformed(f"{self._what} is truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        """Several fixed-size fields at once (the hot path reads headers so)."""
        end = self._pos + layout.size
        if end > len(self._data):
            raise EvidenceMalformed(f"{self._what} is truncated")
        values = layout.unpack_from(self._data, self._pos)
        self._pos = end
        return values

    def u8(self) -> int:
        return int(self.take(1)[0])

    def u16(self) -> int:
        value: int = struct.unpack(self._order + "H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack(self._order + "I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(self._order + "Q", self.take(8))[0]
        return value

    def sized(self, limit: int = MAX_BUFFER) -> bytes:
        """A TPM2B: a 16-bit size, then that many bytes."""
        size = self.u16()
        if size > limit:
            raise EvidenceMalformed(f"{self._what} holds a buffer of {size} bytes")
        return self.take(size)

    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def finish(self) -> None:
        if self._pos != len(self._data):
            raise EvidenceMalformed(f"{self._what} has trailing bytes")
