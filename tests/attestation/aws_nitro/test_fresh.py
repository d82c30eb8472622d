"""Freshly minted documents under a test root: the whole verification path."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.aws_nitro import NitroVerifier
from aura_grpc.attestation.base import VerificationContext
from aura_grpc.errors import (
    ChainInvalid,
    ClaimMismatch,
    EvidenceExpired,
    NonceMismatch,
    SignatureInvalid,
)
from tests.attestation.aws_nitro.conftest import NOW
from tests.attestation.aws_nitro.minting import (
    NitroTestPKI,
    default_pcrs,
    document_fields,
    mint_document,
    sign_fields,
)

NONCE = bytes(range(32))


def payload_of(document: bytes, **extra: str) -> dict[str, str]:
    return {"document": base64.b64encode(document).decode(), **extra}


def context(
    nonce: bytes = NONCE, shift: timedelta = timedelta()
) -> VerificationContext:
    return VerificationContext(nonce=nonce, now=NOW + shift)


def spki_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("tagged", [False, True], ids=["untagged", "tag 18"])
def test_fresh_document_verifies(
    pki: NitroTestPKI, verifier: NitroVerifier, tagged: bool
) -> None:
    document = mint_document(pki, timestamp=NOW, nonce=NONCE, tagged=tagged)

    evidence = verifier.verify(payload_of(document), context())

    assert evidence.claims["debug"] is False
    assert evidence.claims["pcrs"]["0"] == (b"\x01" * 48).hex()
    assert sorted(evidence.claims["pcrs"]) == [str(i) for i in range(9)]
    assert evidence.evidence_digest == hashlib.sha256(document).hexdigest()
    assert evidence.bound_key_spki is None


def test_document_from_untrusted_root_is_refused(pki: NitroTestPKI) -> None:
    document = mint_document(pki, timestamp=NOW, nonce=NONCE)

    with pytest.raises(ChainInvalid) as caught:
        NitroVerifier().verify(payload_of(document), context())
    assert caught.value.reason == "NITRO_UNTRUSTED_ROOT"


def test_tampered_signature_is_refused(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    envelope = cbor2.loads(mint_document(pki, timestamp=NOW, nonce=NONCE))
    envelope[3] = envelope[3][:-1] + bytes([envelope[3][-1] ^ 1])

    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(payload_of(cbor2.dumps(envelope)), context())
    assert caught.value.reason == "NITRO_SIGNATURE_INVALID"


def test_tampered_payload_is_refused(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    envelope = cbor2.loads(mint_document(pki, timestamp=NOW, nonce=NONCE))
    fields = cbor2.loads(envelope[2])
    fields["pcrs"][0] = b"\xee" * 48
    envelope[2] = cbor2.dumps(fields)

    with pytest.raises(SignatureInvalid):
        verifier.verify(payload_of(cbor2.dumps(envelope)), context())


def test_wrong_nonce_is_refused(pki: NitroTestPKI, verifier: NitroVerifier) -> None:
    document = mint_document(pki, timestamp=NOW, nonce=NONCE)

    with pytest.raises(NonceMismatch):
        verifier.verify(payload_of(document), context(nonce=b"\xff" * 32))


def test_document_without_nonce_is_refused(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    document = mint_document(pki, timestamp=NOW, nonce=None)

    with pytest.raises(NonceMismatch) as caught:
        verifier.verify(payload_of(document), context())
    assert caught.value.reason == "NITRO_NONCE_ABSENT"


def test_validly_signed_but_stale_document_is_refused(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    document = mint_document(pki, timestamp=NOW, nonce=NONCE)

    with pytest.raises(EvidenceExpired) as caught:
        verifier.verify(payload_of(document), context(shift=timedelta(seconds=301)))
    assert caught.value.reason == "NITRO_DOCUMENT_STALE"


def test_max_age_option_widens_the_window(pki: NitroTestPKI) -> None:
    lenient = NitroVerifier.from_options(
        {"extra_roots_pem": pki.root_pem, "max_age_seconds": 3600}, "dev"
    )
    document = mint_document(pki, timestamp=NOW, nonce=NONCE)

    lenient.verify(payload_of(document), context(shift=timedelta(minutes=30)))


def test_document_from_the_future_is_refused(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    document = mint_document(pki, timestamp=NOW + timedelta(minutes=5), nonce=NONCE)

    with pytest.raises(EvidenceExpired) as caught:
        verifier.verify(payload_of(document), context())
    assert caught.value.reason == "NITRO_DOCUMENT_FROM_FUTURE"


def test_public_key_as_der_spki_is_bound(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    spki = spki_of(ec.generate_private_key(ec.SECP256R1()))
    document = mint_document(pki, timestamp=NOW, nonce=NONCE, public_key=spki)

    evidence = verifier.verify(payload_of(document), context())

    assert evidence.bound_key_spki == spki
    assert evidence.claims["public_key_sha256"] == hashlib.sha256(spki).hexdigest()


def test_public_key_as_pem_is_bound_as_der(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    document = mint_document(pki, timestamp=NOW, nonce=NONCE, public_key=pem)

    evidence = verifier.verify(
        payload_of(document, bound_key_pem=pem.decode()), context()
    )

    assert evidence.bound_key_spki == key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_public_key_that_is_not_a_key_binds_nothing(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    document = mint_document(pki, timestamp=NOW, nonce=NONCE, public_key=b"not a key")

    evidence = verifier.verify(payload_of(document), context())

    assert evidence.bound_key_spki is None
    assert (
        evidence.claims["public_key_sha256"] == hashlib.sha256(b"not a key").hexdigest()
    )


def test_payload_naming_another_key_is_refused(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    spki = spki_of(ec.generate_private_key(ec.SECP256R1()))
    document = mint_document(pki, timestamp=NOW, nonce=NONCE, public_key=spki)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()

    with pytest.raises(ClaimMismatch) as caught:
        verifier.verify(payload_of(document, bound_key_pem=other_pem), context())
    assert caught.value.reason == "NITRO_BOUND_KEY_MISMATCH"


def test_debug_enclave_is_verified_and_marked_debug(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    document = mint_document(
        pki, timestamp=NOW, nonce=NONCE, pcrs=default_pcrs(debug=True)
    )

    evidence = verifier.verify(payload_of(document), context())

    assert evidence.claims["debug"] is True


def test_fingerprint_survives_an_image_update_by_the_same_signer(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    updated = default_pcrs()
    updated[0] = b"\xaa" * 48
    first = mint_document(pki, timestamp=NOW, nonce=NONCE)
    second = mint_document(pki, timestamp=NOW, nonce=NONCE, pcrs=updated)

    a = verifier.verify(payload_of(first), context())
    b = verifier.verify(payload_of(second), context())

    assert a.fingerprint == b.fingerprint


def test_fingerprint_changes_with_the_parent_instance_or_signer(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    base = verifier.verify(
        payload_of(mint_document(pki, timestamp=NOW, nonce=NONCE)), context()
    )
    fingerprints = {base.fingerprint}
    for index in (4, 8):
        pcrs = default_pcrs()
        pcrs[index] = b"\xbb" * 48
        document = mint_document(pki, timestamp=NOW, nonce=NONCE, pcrs=pcrs)
        fingerprints.add(verifier.verify(payload_of(document), context()).fingerprint)

    assert len(fingerprints) == 3


def test_unsigned_image_fingerprint_follows_pcr0(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    unsigned = default_pcrs()
    unsigned[8] = bytes(48)
    rebuilt = dict(unsigned)
    rebuilt[0] = b"\xcc" * 48

    a = verifier.verify(
        payload_of(mint_document(pki, timestamp=NOW, nonce=NONCE, pcrs=unsigned)),
        context(),
    )
    b = verifier.verify(
        payload_of(mint_document(pki, timestamp=NOW, nonce=NONCE, pcrs=rebuilt)),
        context(),
    )

    assert a.fingerprint != b.fingerprint


def test_test_root_expiry_gives_certificate_expired(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    document = mint_document(pki, timestamp=NOW + timedelta(days=60), nonce=NONCE)

    with pytest.raises(ChainInvalid) as caught:
        verifier.verify(payload_of(document), context(shift=timedelta(days=60)))
    assert caught.value.reason == "NITRO_CERT_EXPIRED"


def test_timestamp_far_past_the_calendar_is_refused_not_crashing(
    pki: NitroTestPKI, verifier: NitroVerifier
) -> None:
    fields = document_fields(pki, timestamp=NOW, nonce=NONCE)
    fields["timestamp"] = 2**64 - 1

    with pytest.raises(EvidenceExpired):
        verifier.verify(payload_of(sign_fields(pki, fields)), context())
