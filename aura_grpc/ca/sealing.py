"""CA private keys sealed under a master key (AES-256-GCM).

Until keys live in an HSM or KMS, a CA key is stored only in this sealed form;
the master key comes from a file named in configuration (the dev profile makes
one in the state directory on first start).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aura_grpc.errors import Unavailable

KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKey:
    """Seals and unseals CA keys; the CA id is bound in as associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"

    @classmethod
    def load(cls, path: Path, *, create: bool) -> MasterKey:
        if not path.exists() and create:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
        try:
            return cls(path.read_bytes())
        except OSError as exc:
            raise Unavailable(
                f"cannot read the master key file: {exc.strerror}"
            ) from exc

    def seal(self, ca_id: str, key: Ed25519PrivateKey) -> bytes:
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, raw, ca_id.encode())

    def unseal(self, ca_id: str, sealed: bytes) -> Ed25519PrivateKey:
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        raw = self._aead.decrypt(nonce, ciphertext, ca_id.encode())
        return Ed25519PrivateKey.from_private_bytes(raw)
