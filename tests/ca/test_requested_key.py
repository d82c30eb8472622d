"""Which keys a certificate may carry."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from aura_grpc.ca.crl import parse_reason
from aura_grpc.ca.requested_key import from_public_key
from aura_grpc.errors import InvalidInput
from tests.certs import public_pem


def test_rsa_with_a_small_public_exponent_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=3, key_size=2048)
    with pytest.raises(InvalidInput) as refused:
        from_public_key(public_pem(key))
    assert refused.value.reason == "KEY_TYPE_UNSUPPORTED"


def test_rsa_2048_with_the_usual_exponent_is_accepted() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert from_public_key(public_pem(key)).algorithm == "rsa-2048"


def test_certificate_hold_is_not_a_revocation_reason() -> None:
    with pytest.raises(InvalidInput):
        parse_reason("certificate_hold")
    assert parse_reason("keyCompromise") == "key_compromise"
