"""The development backend: an in-process Ed25519 key sealed under the master key.

The sealed bytes are stored in the CA's row; the prod profile refuses this
backend, so there the database never holds key material in any form.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aura_grpc.ca.sealing import MasterKey
from aura_grpc.ca.signers.base import NewKey, SigningKey
from aura_grpc.errors import InvalidInput, PreconditionFailed


class SealedBackend:
    scheme = "sealed"

    def __init__(self, master_key: MasterKey) -> None:
        self._master_key = master_key

    def __repr__(self) -> str:
        return "SealedBackend(<redacted>)"

    def create_key(self, label: str, algorithm: str) -> NewKey:
        """`label` is the CA id, bound into the seal so rows cannot swap keys."""
        if algorithm != "ed25519":
            raise InvalidInput(
                "the development key backend makes Ed25519 keys only",
                reason="KEY_ALGORITHM_UNSUPPORTED",
            )
        key = Ed25519PrivateKey.generate()
        return NewKey(None, self._master_key.seal(label, key), key)

    def load(self, ca_id: str, key_ref: str | None, sealed: bytes | None) -> SigningKey:
        if sealed is None:
            raise PreconditionFailed(
                "this CA's key is not held here", reason="CA_KEY_MISSING"
            )
        return self._master_key.unseal(ca_id, sealed)

    def adopt(self, key_ref: str) -> NewKey:
        raise InvalidInput(
            "the development key backend cannot adopt keys: use ca_key_backend pkcs11",
            reason="KEY_REF_INVALID",
        )

    def close(self) -> None:
        return None
