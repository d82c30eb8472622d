"""CA keys on a PKCS#11 token (an HSM, or SoftHSM2 in tests), named by key_ref.

Keys are generated on the token as sensitive and non-extractable; certificates
and CRLs are signed by key objects that forward `sign` to it (CKM_EDDSA for
Ed25519, CKM_ECDSA over a SHA-256 digest for P-256).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters

from aura_grpc.ca.signers.base import ALGORITHMS, NewKey, SigningKey
from aura_grpc.ca.signers.keys import TokenEd25519Key, TokenP256Key, public_from_point
from aura_grpc.ca.signers.pool import KEY_ERRORS, SessionPool
from aura_grpc.ca.signers.uri import KeyURI, parse_key_uri
from aura_grpc.errors import AlreadyExists, InvalidInput, PreconditionFailed

log = logging.getLogger(__name__)

_CURVES = {"ed25519": "1.3.101.112", "p256": "secp256r1"}
_GENERATE = {
    "ed25519": (KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN),
    "p256": (KeyType.EC, Mechanism.EC_KEY_PAIR_GEN),
}
_SIGN = {"ed25519": Mechanism.EDDSA, "p256": Mechanism.ECDSA}
_PRIVATE_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
}


def read_pin(pin: str, pin_file: Path | None) -> str:
    if pin_file is None:
        return pin
    return pin_file.read_text().rstrip("\r\n")


class Pkcs11Backend:
    scheme = "pkcs11"

    def __init__(self, pool: SessionPool, token_label: str) -> None:
        self._pool = pool
        self._token_label = token_label

    def __repr__(self) -> str:
        return f"Pkcs11Backend(token={self._token_label!r})"

    def key_uri(self, label_or_ref: str) -> KeyURI:
        """A bare label names an object on this server's token."""
        if not label_or_ref.startswith("pkcs11:"):
            label_or_ref = str(KeyURI(self._token_label, label_or_ref))
        uri = parse_key_uri(label_or_ref)
        if uri.token != self._token_label:
            raise InvalidInput(
                f"key_ref names token '{uri.token[:40]}', but this server uses "
                f"'{self._token_label}'",
                reason="KEY_REF_INVALID",
            )
        return uri

    def create_key(self, label: str, algorithm: str) -> NewKey:
        """A key pair generated on the token; the private half never leaves it."""
        if algorithm not in ALGORITHMS:
            raise InvalidInput(f"key algorithm must be one of {', '.join(ALGORITHMS)}")
        uri = self.key_uri(label)
        key_type, mechanism = _GENERATE[algorithm]
        params = encode_named_curve_parameters(_CURVES[algorithm])
        with self._pool.lease() as lease:
            if _find(lease.session, ObjectClass.PRIVATE_KEY, uri.object) is not None:
                raise AlreadyExists(
                    f"the token already holds a key labelled '{uri.object[:60]}'; "
                    "adopt it with 'aura ca import'",
                    reason="KEY_EXISTS",
                )
            lease.session.generate_keypair(
                key_type,
                mechanism=mechanism,
                store=True,
                label=uri.object,
                id=uri.object.encode(),
                public_template={Attribute.EC_PARAMS: params, Attribute.TOKEN: True},
                private_template=_PRIVATE_TEMPLATE,
            )
        log.info("CA key generated on token %s (%s)", uri.token, algorithm)
        return NewKey(str(uri), None, self._load_uri(uri))

    def load(self, ca_id: str, key_ref: str | None, sealed: bytes | None) -> SigningKey:
        if key_ref is None:
            raise PreconditionFailed(
                "this CA's key is not on this server's HSM", reason="CA_KEY_MISSING"
            )
        return self._load_uri(self.key_uri(key_ref))

    def adopt(self, key_ref: str) -> NewKey:
        uri = self.key_uri(key_ref)
        return NewKey(str(uri), None, self._load_uri(uri))

    def close(self) -> None:
        self._pool.close()

    def key_attributes(self, key_ref: str) -> dict[str, bool]:
        """The private key's protection flags, for checks and `aura ca import`."""
        uri = self.key_uri(key_ref)
        with self._pool.lease() as lease:
            key = _private(lease.session, uri.object)
            return {
                "sensitive": bool(key[Attribute.SENSITIVE]),
                "extractable": bool(key[Attribute.EXTRACTABLE]),
            }

    def _load_uri(self, uri: KeyURI) -> SigningKey:
        with self._pool.lease() as lease:
            private = _private(lease.session, uri.object)
            algorithm = _algorithm_of(private)
            public = _find(lease.session, ObjectClass.PUBLIC_KEY, uri.object)
            if public is None:
                raise PreconditionFailed(
                    f"the token has no public key object labelled '{uri.object[:60]}'",
                    reason="CA_KEY_MISSING",
                )
            public_key = public_from_point(algorithm, public[Attribute.EC_POINT])

        def sign(data: bytes) -> bytes:
            return self._sign(uri.object, algorithm, data)

        if algorithm == "ed25519":
            return TokenEd25519Key(sign, public_key)  # type: ignore[arg-type]
        return TokenP256Key(sign, public_key)  # type: ignore[arg-type]

    def _sign(self, label: str, algorithm: str, data: bytes) -> bytes:
        with self._pool.lease() as lease:
            key = lease.keys.get((label, algorithm))
            if key is None:
                key = lease.keys[(label, algorithm)] = _private(lease.session, label)
            return bytes(key.sign(data, mechanism=_SIGN[algorithm]))


def _find(session: Any, object_class: ObjectClass, label: str) -> Any:
    try:
        return session.get_key(object_class=object_class, label=label)
    except p11.NoSuchKey:
        return None


def _private(session: Any, label: str) -> Any:
    try:
        return session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
    except KEY_ERRORS as exc:
        raise PreconditionFailed(
            f"the token holds no single private key labelled '{label[:60]}'",
            reason="CA_KEY_MISSING",
        ) from exc


def _algorithm_of(private: Any) -> str:
    key_type = private[Attribute.KEY_TYPE]
    if key_type == KeyType.EC_EDWARDS:
        return "ed25519"
    if key_type == KeyType.EC and private[Attribute.EC_PARAMS] == (
        encode_named_curve_parameters("secp256r1")
    ):
        return "p256"
    raise PreconditionFailed(
        "the token key is neither Ed25519 nor P-256", reason="KEY_TYPE_UNSUPPORTED"
    )
