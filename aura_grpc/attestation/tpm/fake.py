"""TPM structures made in software, for tests and benchmarks only.

`SoftTPM` holds an AK private key in memory and produces TPMT_PUBLIC, quotes
and certifications in the TPM's wire format, so verification code can be
exercised without a TPM. Nothing here is trusted by AURA: an AK it makes is
vouched for only by test CAs the caller configures.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.structures import (
    FIXED_PARENT,
    FIXED_TPM,
    RESTRICTED,
    SENSITIVE_DATA_ORIGIN,
    SIGN_ENCRYPT,
    TPM_GENERATED_VALUE,
    TPM_ST_ATTEST_CERTIFY,
    TPM_ST_ATTEST_CREATION,
    TPM_ST_ATTEST_QUOTE,
    USER_WITH_AUTH,
)

AK_ATTRIBUTES = (
    FIXED_TPM
    | FIXED_PARENT
    | SENSITIVE_DATA_ORIGIN
    | USER_WITH_AUTH
    | RESTRICTED
    | SIGN_ENCRYPT
)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_CURVE_IDS = {"secp256r1": 0x0003, "secp384r1": 0x0004}


def sized(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def marshal_public(
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    *,
    attributes: int = AK_ATTRIBUTES,
    scheme: int = wire.ALG_NULL,
    symmetric: bytes = struct.pack(">H", wire.ALG_NULL),
) -> bytes:
    """TPMT_PUBLIC for `key` with nameAlg SHA-256."""
    head = struct.pack(">HHI", _key_type(key), wire.ALG_SHA256, attributes) + sized(b"")
    scheme_bytes = struct.pack(">H", scheme)
    if scheme != wire.ALG_NULL:
        scheme_bytes += struct.pack(">H", wire.ALG_SHA256)

    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        params = struct.pack(
            ">HI", key.key_size, 0 if numbers.e == 65537 else numbers.e
        )
        unique = sized(numbers.n.to_bytes(key.key_size // 8, "big"))
        return head + symmetric + scheme_bytes + params + unique

    point = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    params = struct.pack(">HH", _CURVE_IDS[key.curve.name], wire.ALG_NULL)
    unique = sized(point.x.to_bytes(size, "big")) + sized(point.y.to_bytes(size, "big"))
    return head + symmetric + scheme_bytes + params + unique


def _key_type(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> int:
    return wire.ALG_RSA if isinstance(key, rsa.RSAPublicKey) else wire.ALG_ECC


def name_of(public_area: bytes) -> bytes:
    return struct.pack(">H", wire.ALG_SHA256) + hashlib.sha256(public_area).digest()


def marshal_attest(
    attest_type: int,
    extra_data: bytes,
    body: bytes,
    *,
    magic: int = TPM_GENERATED_VALUE,
    clock: tuple[int, int, int] = (1000, 1, 0),
    firmware_version: int = 0x2019102300163636,
) -> bytes:
    header = struct.pack(">IH", magic, attest_type) + sized(b"\x00\x0b" + bytes(32))
    clock_info = struct.pack(">QIIB", *clock, 1)
    return (
        header
        + sized(extra_data)
        + clock_info
        + struct.pack(">Q", firmware_version)
        + body
    )


def quote_body(bank: int, indices: list[int], digest: bytes) -> bytes:
    bitmap = bytearray(3)
    for index in indices:
        bitmap[index // 8] |= 1 << (index % 8)
    return struct.pack(">IHB", 1, bank, 3) + bytes(bitmap) + sized(digest)


def sign(
    key: PrivateKey, message: bytes, hash_alg: int = wire.ALG_SHA256, pss: bool = False
) -> bytes:
    """TPMT_SIGNATURE: RSASSA (or RSAPSS) for RSA keys, ECDSA for EC keys."""
    algorithm = wire.hash_for(hash_alg)
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            pad: padding.AsymmetricPadding = padding.PSS(
                padding.MGF1(algorithm), algorithm.digest_size
            )
        else:
            pad = padding.PKCS1v15()
        scheme = wire.ALG_RSAPSS if pss else wire.ALG_RSASSA
        return struct.pack(">HH", scheme, hash_alg) + sized(
            key.sign(message, pad, algorithm)
        )

    r, s = utils.decode_dss_signature(key.sign(message, ec.ECDSA(algorithm)))
    size = (key.curve.key_size + 7) // 8
    return struct.pack(">HH", wire.ALG_ECDSA, hash_alg) + (
        sized(r.to_bytes(size, "big")) + sized(s.to_bytes(size, "big"))
    )


@dataclass
class SoftTPM:
    """An AK in memory that quotes and certifies like a TPM would."""

    ak: PrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(65537, 2048)
    )
    attributes: int = AK_ATTRIBUTES

    @property
    def ak_public(self) -> bytes:
        return marshal_public(self.ak.public_key(), attributes=self.attributes)

    def quote(
        self,
        nonce: bytes,
        pcrs: Mapping[int, bytes],
        bank: int = wire.ALG_SHA256,
        *,
        hash_alg: int = wire.ALG_SHA256,
        pss: bool = False,
        magic: int = TPM_GENERATED_VALUE,
        attest_type: int = TPM_ST_ATTEST_QUOTE,
        clock: tuple[int, int, int] = (1000, 1, 0),
    ) -> tuple[bytes, bytes]:
        indices = sorted(pcrs)
        digest = hashlib.new(wire.HASH_NAMES[hash_alg])
        for index in indices:
            digest.update(pcrs[index])
        body = quote_body(bank, indices, digest.digest())
        attest = marshal_attest(attest_type, nonce, body, magic=magic, clock=clock)
        return attest, sign(self.ak, attest, hash_alg, pss)

    def certify(self, public_area: bytes, nonce: bytes) -> tuple[bytes, bytes]:
        name = name_of(public_area)
        attest = marshal_attest(TPM_ST_ATTEST_CERTIFY, nonce, sized(name) + sized(name))
        return attest, sign(self.ak, attest)

    def certify_creation(self, public_area: bytes, nonce: bytes) -> tuple[bytes, bytes]:
        """TPM2_CertifyCreation: object name and a creation hash, AK-signed."""
        body = sized(name_of(public_area)) + sized(hashlib.sha256(b"cd").digest())
        attest = marshal_attest(TPM_ST_ATTEST_CREATION, nonce, body)
        return attest, sign(self.ak, attest)
