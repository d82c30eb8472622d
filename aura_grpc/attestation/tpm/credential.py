"""TPM2_MakeCredential done in software (TPM 2.0 Part 1, 24 "Credential Protection").

The service wraps a secret so that only the TPM holding the EK, and only for
the AK with the given name, can unwrap it with TPM2_ActivateCredential. A device
that returns the secret (or quotes with it as extraData) has proven that its AK
lives in the same TPM as that EK. The exchange and its state are the service's;
this module is the pure crypto, plus the constant-time check of the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.structures import TPMTPublic
from aura_grpc.errors import ClaimMismatch

_IDENTITY_LABEL = b"IDENTITY\x00"


def _sized(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def kdfa(
    hash_alg: int,
    key: bytes,
    label: bytes,
    context_u: bytes,
    context_v: bytes,
    bits: int,
) -> bytes:
    """KDFa (SP 800-108 counter mode with HMAC), as TPM 2.0 Part 1, 11.4.10.2."""
    name = wire.HASH_NAMES[hash_alg]
    label = label if label.endswith(b"\x00") else label + b"\x00"
    out = b""
    counter = 1
    while len(out) * 8 < bits:
        block = struct.pack(">I", counter) + label + context_u + context_v
        out += hmac.new(key, block + struct.pack(">I", bits), name).digest()
        counter += 1
    return out[: (bits + 7) // 8]


def kdfe(
    hash_alg: int, z: bytes, label: bytes, party_u: bytes, party_v: bytes, bits: int
) -> bytes:
    """KDFe (SP 800-56A concatenation KDF), as TPM 2.0 Part 1, 11.4.10.3."""
    name = wire.HASH_NAMES[hash_alg]
    label = label if label.endswith(b"\x00") else label + b"\x00"
    out = b""
    counter = 1
    while len(out) * 8 < bits:
        block = struct.pack(">I", counter) + z + label + party_u + party_v
        out += hashlib.new(name, block).digest()
        counter += 1
    return out[: (bits + 7) // 8]


def _rsa_seed(ek: TPMTPublic, key: rsa.RSAPublicKey) -> tuple[bytes, bytes]:
    seed = os.urandom(wire.DIGEST_SIZES[ek.name_alg])
    algorithm = wire.hash_for(ek.name_alg)
    oaep = padding.OAEP(padding.MGF1(algorithm), algorithm, _IDENTITY_LABEL)
    return seed, key.encrypt(seed, oaep)


def _ecc_seed(ek: TPMTPublic, key: ec.EllipticCurvePublicKey) -> tuple[bytes, bytes]:
    # One-pass Diffie-Hellman with an ephemeral key; the TPM redoes it with the EK.
    ephemeral = ec.generate_private_key(key.curve)
    z = ephemeral.exchange(ec.ECDH(), key)
    size = (key.curve.key_size + 7) // 8
    ours = ephemeral.public_key().public_numbers()
    our_x, our_y = ours.x.to_bytes(size, "big"), ours.y.to_bytes(size, "big")
    their_x = key.public_numbers().x.to_bytes(size, "big")

    bits = wire.DIGEST_SIZES[ek.name_alg] * 8
    seed = kdfe(ek.name_alg, z, _IDENTITY_LABEL, our_x, their_x, bits)
    return seed, _sized(our_x) + _sized(our_y)


def make_credential(
    ek_public: TPMTPublic, ak_name: bytes, secret: bytes
) -> tuple[bytes, bytes]:
    """Wrap `secret` for (EK, AK name).

    Returns (TPM2B_ID_OBJECT credential blob, TPM2B_ENCRYPTED_SECRET), each with
    its 2-byte size prefix, as TPM2_ActivateCredential takes them.
    """
    digest_size = wire.DIGEST_SIZES.get(ek_public.name_alg, 0)
    if not 0 < len(secret) <= digest_size:
        raise ValueError(f"credential secret must be 1..{digest_size} bytes")
    if ek_public.symmetric.algorithm != wire.ALG_AES or (
        ek_public.symmetric.mode != wire.ALG_CFB
    ):
        raise ValueError("EK is not an AES-CFB storage key")

    key = ek_public.public_key
    if isinstance(key, rsa.RSAPublicKey):
        seed, encrypted_secret = _rsa_seed(ek_public, key)
    else:
        seed, encrypted_secret = _ecc_seed(ek_public, key)

    name_alg = ek_public.name_alg
    bits = ek_public.symmetric.key_bits
    sym_key = kdfa(name_alg, seed, b"STORAGE", ak_name, b"", bits)
    encryptor = Cipher(algorithms.AES(sym_key), CFB(b"\x00" * 16)).encryptor()
    enc_identity = encryptor.update(_sized(secret)) + encryptor.finalize()

    hmac_key = kdfa(name_alg, seed, b"INTEGRITY", b"", b"", digest_size * 8)
    name = wire.HASH_NAMES[name_alg]
    integrity = hmac.new(hmac_key, enc_identity + ak_name, name).digest()
    return _sized(_sized(integrity) + enc_identity), _sized(encrypted_secret)


def check_activated_secret(expected: bytes, presented: bytes) -> None:
    """Raise ClaimMismatch unless the device returned the secret it was sent."""
    if not hmac.compare_digest(expected, presented):
        raise ClaimMismatch(
            "activated credential secret is not the one issued",
            reason="TPM_CREDENTIAL_SECRET_MISMATCH",
        )


__all__ = ["check_activated_secret", "kdfa", "kdfe", "make_credential"]
