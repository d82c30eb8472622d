"""make_credential: the software half of TPM2_MakeCredential / ActivateCredential.

The TPM side is done here in software with the EK private key (the real TPM
side runs in test_swtpm.py), following TPM 2.0 Part 1, 24 in reverse.
"""

from __future__ import annotations

import hmac
import struct

import pytest
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from aura_grpc.attestation.tpm import fake, wire
from aura_grpc.attestation.tpm.credential import (
    check_activated_secret,
    kdfa,
    kdfe,
    make_credential,
)
from aura_grpc.attestation.tpm.parse import parse_public
from aura_grpc.errors import ClaimMismatch

EK_SYMMETRIC = struct.pack(">HHH", wire.ALG_AES, 128, wire.ALG_CFB)
AK_NAME = b"\x00\x0b" + bytes(range(32))


def _seed(
    ek: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, encrypted: bytes
) -> bytes:
    body = encrypted[2:]
    if isinstance(ek, rsa.RSAPrivateKey):
        oaep = padding.OAEP(
            padding.MGF1(hashes.SHA256()), hashes.SHA256(), b"IDENTITY\0"
        )
        return ek.decrypt(body, oaep)

    x = body[2 : 2 + body[1]]
    y = body[4 + len(x) :]
    point = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ek.curve
    ).public_key()
    z = ek.exchange(ec.ECDH(), point)
    ek_x = ek.public_key().public_numbers().x.to_bytes(32, "big")
    return kdfe(wire.ALG_SHA256, z, b"IDENTITY", x, ek_x, 256)


def _activate(
    ek: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, blob: bytes, encrypted: bytes
) -> bytes:
    seed = _seed(ek, encrypted)
    integrity = blob[4:36]
    enc_identity = blob[36:]
    hmac_key = kdfa(wire.ALG_SHA256, seed, b"INTEGRITY", b"", b"", 256)
    expected = hmac.new(hmac_key, enc_identity + AK_NAME, "sha256").digest()
    assert hmac.compare_digest(integrity, expected)

    sym_key = kdfa(wire.ALG_SHA256, seed, b"STORAGE", AK_NAME, b"", 128)
    decryptor = Cipher(algorithms.AES(sym_key), CFB(bytes(16))).decryptor()
    plain = decryptor.update(enc_identity) + decryptor.finalize()
    return plain[2 : 2 + int.from_bytes(plain[:2], "big")]


@pytest.mark.parametrize(
    "ek",
    [
        pytest.param(rsa.generate_private_key(65537, 2048), id="RSA-2048 EK"),
        pytest.param(ec.generate_private_key(ec.SECP256R1()), id="P-256 EK"),
    ],
)
def test_credential_unwraps_to_the_secret_with_the_ek_private_key(
    ek: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
) -> None:
    ek_public = parse_public(
        fake.marshal_public(ek.public_key(), symmetric=EK_SYMMETRIC)
    )

    blob, encrypted = make_credential(
        ek_public, AK_NAME, b"a secret of 32 bytes, exactly!!!"
    )

    assert int.from_bytes(blob[:2], "big") == len(blob) - 2
    assert _activate(ek, blob, encrypted) == b"a secret of 32 bytes, exactly!!!"


def test_kdfa_truncates_to_the_bits_asked_for() -> None:
    out = kdfa(wire.ALG_SHA256, b"k", b"STORAGE", b"u", b"", 384)

    assert len(out) == 48
    assert out[:32] != out[32:]


def test_credential_refuses_an_ek_without_aes_cfb() -> None:
    ek = parse_public(
        fake.marshal_public(rsa.generate_private_key(65537, 2048).public_key())
    )

    with pytest.raises(ValueError, match="AES-CFB"):
        make_credential(ek, AK_NAME, b"secret")


def test_activated_secret_must_be_the_issued_one() -> None:
    check_activated_secret(b"same", b"same")
    with pytest.raises(ClaimMismatch) as caught:
        check_activated_secret(b"same", b"other")
    assert caught.value.reason == "TPM_CREDENTIAL_SECRET_MISMATCH"
