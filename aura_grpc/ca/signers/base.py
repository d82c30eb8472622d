"""What the CA needs from wherever its private key lives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

# Every CA key signs through cryptography's builders: Ed25519 in process or on a
# token, or P-256 where a token or KMS offers no Ed25519.
SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

ALGORITHMS = ("ed25519", "p256")


@dataclass(frozen=True)
class NewKey:
    """A freshly made CA key: how to find it again, and the key to sign with now.

    `sealed` holds the key's sealed bytes for the development backend only; a
    token-backed key is named by `key_ref` alone and no key bytes leave it.
    """

    key_ref: str | None
    sealed: bytes | None
    key: SigningKey

    def __repr__(self) -> str:
        return f"NewKey(key_ref={self.key_ref!r}, key=<redacted>)"


class KeyBackend(Protocol):
    """Makes and finds CA keys; `scheme` is the prefix of the key_refs it owns."""

    scheme: str

    def create_key(self, label: str, algorithm: str) -> NewKey: ...

    def load(self, ca_id: str, key_ref: str | None, sealed: bytes | None) -> SigningKey:
        """The key to sign with; raises Unavailable while its store is down."""
        ...

    def adopt(self, key_ref: str) -> NewKey:
        """An existing key, for `aura ca import`; its key_ref in canonical form."""
        ...

    def close(self) -> None: ...


def signature_hash(key: SigningKey) -> hashes.SHA256 | None:
    """The hash the X.509 builders need: none for Ed25519, SHA-256 for P-256."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()
