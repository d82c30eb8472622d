"""Freshly minted tokens: both trust routes and every claim check."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from aura_grpc.errors import (
    AuraError,
    ChainInvalid,
    ClaimMismatch,
    EvidenceExpired,
    EvidenceMalformed,
    NonceMismatch,
    SignatureInvalid,
)
from tests.attestation.gcp_cc.conftest import NOW
from tests.attestation.gcp_cc.minting import (
    GCPTestPKI,
    b64url,
    mint_kid_token,
    mint_x5c_token,
    rsa_key,
    token_claims,
)

NONCE = bytes(range(32))


def context(
    nonce: bytes = NONCE, shift: timedelta = timedelta()
) -> VerificationContext:
    return VerificationContext(nonce=nonce, now=NOW + shift)


def claims(**overrides: Any) -> dict[str, Any]:
    return token_claims(now=NOW, nonces=[b64url(NONCE)], **overrides)


def test_x5c_token_verifies(pki: GCPTestPKI, verifier: GCPConfidentialVerifier) -> None:
    token = mint_x5c_token(pki, claims())

    evidence = verifier.verify({"token": token}, context())

    assert evidence.claims == {
        "hwmodel": "GCP_AMD_SEV_SNP",
        "swname": "CONFIDENTIAL_SPACE",
        "swversion": ["250301"],
        "dbgstat": "disabled-since-boot",
        "debug": False,
        "secboot": True,
        "image_digest": "sha256:" + "ab" * 32,
        "project_id": "aura-test",
        "zone": "europe-west4-a",
        "instance_id": "1234567890",
    }
    assert evidence.evidence_digest == hashlib.sha256(token.encode()).hexdigest()
    assert evidence.bound_key_spki is None


def test_kid_token_verifies_against_the_loaded_key_set(
    signing_keys: dict[str, rsa.RSAPrivateKey], verifier: GCPConfidentialVerifier
) -> None:
    token = mint_kid_token(signing_keys["key-a"], "key-a", claims())

    assert (
        verifier.verify({"token": token}, context()).claims["hwmodel"]
        == "GCP_AMD_SEV_SNP"
    )


def test_unknown_kid_is_a_signature_failure_of_its_own(
    signing_keys: dict[str, rsa.RSAPrivateKey], verifier: GCPConfidentialVerifier
) -> None:
    token = mint_kid_token(signing_keys["key-b"], "key-b", claims())

    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify({"token": token}, context())
    assert caught.value.reason == "GCP_UNKNOWN_KID"


def test_known_kid_with_another_key_is_refused(
    verifier: GCPConfidentialVerifier,
) -> None:
    token = mint_kid_token(rsa_key(), "key-a", claims())

    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify({"token": token}, context())
    assert caught.value.reason == "GCP_SIGNATURE_INVALID"


def test_x5c_token_from_an_untrusted_root_is_refused(pki: GCPTestPKI) -> None:
    token = mint_x5c_token(pki, claims())
    strict = GCPConfidentialVerifier.from_options(
        {"audience": "https://aura.test"}, "prod"
    )

    with pytest.raises(ChainInvalid) as caught:
        strict.verify({"token": token}, context())
    assert caught.value.reason == "GCP_UNTRUSTED_ROOT"


def test_tampered_claims_are_refused(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    header, _, signature = mint_x5c_token(pki, claims()).split(".")
    forged = mint_x5c_token(pki, claims(dbgstat="enabled")).split(".")[1]

    with pytest.raises(SignatureInvalid):
        verifier.verify({"token": f"{header}.{forged}.{signature}"}, context())


def test_wrong_nonce_is_refused(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    token = mint_x5c_token(pki, claims())

    with pytest.raises(NonceMismatch) as caught:
        verifier.verify({"token": token}, context(nonce=b"\xff" * 32))
    assert caught.value.reason == "GCP_NONCE_MISMATCH"


def test_nonce_found_among_several_eat_nonces(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    token = mint_x5c_token(pki, claims(eat_nonce=["other", b64url(NONCE)]))

    verifier.verify({"token": token}, context())


@pytest.mark.parametrize(
    ("shift", "reason"),
    [
        (timedelta(hours=2), "GCP_TOKEN_EXPIRED"),
        (timedelta(minutes=-10), "GCP_TOKEN_NOT_YET_VALID"),
    ],
    ids=["expired", "not yet valid"],
)
def test_token_outside_its_lifetime_is_refused(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier, shift: timedelta, reason: str
) -> None:
    token = mint_x5c_token(pki, claims())

    with pytest.raises(EvidenceExpired) as caught:
        verifier.verify({"token": token}, context(shift=shift))
    assert caught.value.reason == reason


def test_expiry_within_the_leeway_is_accepted(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    token = mint_x5c_token(pki, claims())

    verifier.verify({"token": token}, context(shift=timedelta(hours=1, seconds=30)))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example"}, "GCP_ISSUER"),
        ({"aud": "https://sts.google.com"}, "GCP_AUDIENCE"),
        ({"hwmodel": "GCP_SHIELDED_VM"}, "GCP_HWMODEL_UNKNOWN"),
    ],
    ids=["foreign issuer", "other audience", "not confidential hardware"],
)
def test_claim_mismatch_is_refused(
    pki: GCPTestPKI,
    verifier: GCPConfidentialVerifier,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    token = mint_x5c_token(pki, claims(**overrides))

    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify({"token": token}, context())
    assert caught.value.reason == reason


def test_token_without_instance_identity_is_malformed(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    token = mint_x5c_token(pki, claims(submods={}))

    with pytest.raises(EvidenceMalformed) as caught:
        verifier.verify({"token": token}, context())
    assert caught.value.reason == "GCP_INSTANCE_IDENTITY"


def bound_key() -> tuple[bytes, str]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return (
        key.public_bytes(serialization.Encoding.DER, fmt),
        key.public_bytes(serialization.Encoding.PEM, fmt).decode(),
    )


def test_second_eat_nonce_binds_the_certificate_key(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    spki, pem = bound_key()
    binding = b64url(hashlib.sha256(spki).digest())
    token = mint_x5c_token(pki, claims(eat_nonce=[b64url(NONCE), binding]))

    evidence = verifier.verify({"token": token, "bound_key_pem": pem}, context())

    assert evidence.bound_key_spki == spki


def test_key_the_token_does_not_bind_is_refused(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    _, pem = bound_key()
    token = mint_x5c_token(pki, claims())

    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify({"token": token, "bound_key_pem": pem}, context())
    assert caught.value.reason == "GCP_BOUND_KEY_MISMATCH"


def test_fingerprint_is_the_instance_and_survives_an_image_update(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier
) -> None:
    first = mint_x5c_token(pki, claims())
    updated = claims()
    updated["submods"]["container"]["image_digest"] = "sha256:" + "cd" * 32
    moved = claims()
    moved["submods"]["gce"]["instance_id"] = "999"

    a, b, c = (
        verifier.verify({"token": t}, context()).fingerprint
        for t in (first, mint_x5c_token(pki, updated), mint_x5c_token(pki, moved))
    )

    assert a == b != c


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "not.a.jwt",
        "eyJhbGciOiJub25lIn0.e30.",
        "x" * 70000,
        b64url(b"[" * 30000) + ".e30.AA",
    ],
    ids=["empty", "two parts", "garbage", "alg none", "too long", "deep header"],
)
def test_broken_tokens_are_malformed(
    verifier: GCPConfidentialVerifier, token: str
) -> None:
    with pytest.raises(EvidenceMalformed):
        verifier.verify({"token": token}, context())


def test_hs256_token_is_refused(verifier: GCPConfidentialVerifier) -> None:
    import jwt

    token = jwt.encode(
        claims(), "secret-secret-secret-secret-secret", algorithm="HS256"
    )

    with pytest.raises(AuraError) as caught:
        verifier.verify({"token": token}, context())
    assert caught.value.reason == "GCP_ALGORITHM"


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), 10**400, -1, "tomorrow", True]
)
def test_expiry_that_is_not_a_finite_number_is_malformed(
    pki: GCPTestPKI, verifier: GCPConfidentialVerifier, value: object
) -> None:
    token = mint_x5c_token(pki, claims(exp=value))

    with pytest.raises(EvidenceMalformed) as caught:
        verifier.verify({"token": token}, context())
    assert caught.value.reason == "GCP_TOKEN_MALFORMED"
