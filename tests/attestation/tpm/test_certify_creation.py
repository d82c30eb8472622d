"""Key binding by TPM2_CertifyCreation, and the attributes a bound key needs."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.tpm import TPMVerifier, fake, wire
from aura_grpc.attestation.tpm.structures import (
    DECRYPT,
    FIXED_TPM,
    RESTRICTED,
    SIGN_ENCRYPT,
)
from aura_grpc.errors import AuraError
from tests.attestation.tpm.helpers import b64, context

NONCE = b"c" * 32
PCRS = {i: hashlib.sha256(bytes([i])).digest() for i in range(4)}
KEY_ATTRIBUTES = fake.AK_ATTRIBUTES & ~RESTRICTED
EK_SYMMETRIC = struct.pack(">HHH", wire.ALG_AES, 128, wire.ALG_CFB)
EK_ATTRIBUTES = fake.AK_ATTRIBUTES & ~SIGN_ENCRYPT | RESTRICTED | DECRYPT


def _payload(
    tpm: fake.SoftTPM, attributes: int = KEY_ATTRIBUTES, nonce: bytes = NONCE
) -> tuple[bytes, dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    public = fake.marshal_public(key, attributes=attributes)
    certify_info, certify_signature = tpm.certify_creation(public, nonce)
    attest, signature = tpm.quote(NONCE, PCRS)
    ek = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return spki, {
        "ak_public": b64(tpm.ak_public),
        "ek_public": b64(
            fake.marshal_public(ek, attributes=EK_ATTRIBUTES, symmetric=EK_SYMMETRIC)
        ),
        "quote": b64(attest),
        "signature": b64(signature),
        "pcrs": {str(i): v.hex() for i, v in PCRS.items()},
        "certify_info": b64(certify_info),
        "certify_signature": b64(certify_signature),
        "certified_public": b64(public),
    }


def _reason(payload: dict[str, Any]) -> str:
    with pytest.raises(AuraError) as caught:
        TPMVerifier().verify(payload, context(nonce=NONCE))
    return caught.value.reason


def test_creation_certified_key_becomes_the_bound_key() -> None:
    spki, payload = _payload(fake.SoftTPM())

    evidence = TPMVerifier().verify(payload, context(nonce=NONCE))

    assert evidence.bound_key_spki == spki


def test_creation_certification_with_another_nonce_is_rejected() -> None:
    _, payload = _payload(fake.SoftTPM(), nonce=b"old")

    assert _reason(payload) == "TPM_NONCE_MISMATCH"


def test_creation_certification_signed_by_another_ak_is_rejected() -> None:
    _, payload = _payload(fake.SoftTPM())
    payload["ak_public"], payload["quote"], payload["signature"] = (
        _payload(other := fake.SoftTPM())[1]["ak_public"],
        *(b64(part) for part in other.quote(NONCE, PCRS)),
    )

    assert _reason(payload) == "TPM_CERTIFY_SIGNATURE"


def test_certified_key_that_may_leave_the_tpm_does_not_bind() -> None:
    _, payload = _payload(fake.SoftTPM(), attributes=KEY_ATTRIBUTES & ~FIXED_TPM)

    assert _reason(payload) == "TPM_BOUND_KEY_NOT_FIXED"
