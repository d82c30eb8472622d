"""Private-key objects whose `sign` runs on a token.

cryptography's certificate and CRL builders accept any subclass of its private
key classes and call only `public_key()` and `sign()`; these forward `sign` to
the token, so the same builders serve in-process and HSM keys alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from cryptography.utils import Buffer

Sign = Callable[[bytes], bytes]


def _stays_on_token() -> NoReturn:
    raise TypeError("this CA key lives on a token and cannot be exported")


class TokenEd25519Key(ed25519.Ed25519PrivateKey):
    """An Ed25519 key on a token (CKM_EDDSA)."""

    def __init__(self, sign: Sign, public: ed25519.Ed25519PublicKey) -> None:
        self._sign = sign
        self._public = public

    def __repr__(self) -> str:
        return "TokenEd25519Key(<on token>)"

    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._public

    def sign(self, data: Buffer) -> bytes:
        return self._sign(bytes(data))

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _stays_on_token()

    def private_bytes_raw(self) -> bytes:
        _stays_on_token()

    def __copy__(self) -> TokenEd25519Key:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenEd25519Key:
        return self


class TokenP256Key(ec.EllipticCurvePrivateKey):
    """A P-256 key on a token: the digest is taken here, the token signs it
    (CKM_ECDSA, which every token offers) and answers r || s."""

    def __init__(self, sign_digest: Sign, public: ec.EllipticCurvePublicKey) -> None:
        self._sign_digest = sign_digest
        self._public = public

    def __repr__(self) -> str:
        return "TokenP256Key(<on token>)"

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def sign(
        self, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm
    ) -> bytes:
        chosen = getattr(signature_algorithm, "algorithm", None)
        if not isinstance(chosen, hashes.SHA256):
            raise TypeError("a P-256 CA key signs with ECDSA and SHA-256 only")
        digest = hashes.Hash(hashes.SHA256())
        digest.update(data)
        raw = self._sign_digest(digest.finalize())
        half = len(raw) // 2
        r, s = int.from_bytes(raw[:half]), int.from_bytes(raw[half:])
        return utils.encode_dss_signature(r, s)

    def exchange(
        self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey
    ) -> bytes:
        _stays_on_token()

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        _stays_on_token()

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _stays_on_token()

    def __copy__(self) -> TokenP256Key:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenP256Key:
        return self


def public_from_point(
    key_type: str, point: bytes
) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """CKA_EC_POINT as tokens give it: DER OCTET STRING (the standard) or raw."""
    size = 32 if key_type == "ed25519" else 65
    if len(point) == size + 2 and point[0] == 0x04 and point[1] == size:
        point = point[2:]
    if key_type == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(point)
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
