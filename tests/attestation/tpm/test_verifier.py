"""TPMVerifier end to end: real GCE evidence, fresh quotes, each failure's reason."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aura_grpc.attestation.tpm import TPMVerifier, fake, wire
from aura_grpc.attestation.tpm.structures import DECRYPT, RESTRICTED, SIGN_ENCRYPT
from aura_grpc.errors import (
    AuraError,
    CertificateExpired,
    ChainInvalid,
    ClaimMismatch,
    EvidenceMalformed,
    NonceMismatch,
    ProfileForbids,
    SignatureInvalid,
)
from tests.attestation.tpm.helpers import (
    SAMPLE_TIME,
    FakeCA,
    b64,
    context,
)

Payload = Callable[..., dict[str, Any]]
PCRS = {i: hashlib.sha256(bytes([i])).digest() for i in range(10)}
EK_SYMMETRIC = struct.pack(">HHH", wire.ALG_AES, 128, wire.ALG_CFB)
EK_ATTRIBUTES = fake.AK_ATTRIBUTES & ~SIGN_ENCRYPT | RESTRICTED | DECRYPT
NONCE = b"n" * 32


def _spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _fresh_payload(tpm: fake.SoftTPM, **extra: Any) -> dict[str, Any]:
    attest, signature = tpm.quote(NONCE, PCRS)
    return {
        "ak_public": b64(fake.sized(tpm.ak_public)),
        "quote": b64(attest),
        "signature": b64(signature),
        "pcrs": {str(i): v.hex() for i, v in PCRS.items()},
        **extra,
    }


def _reason(verifier: TPMVerifier, payload: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(AuraError) as caught:
        verifier.verify(payload, context(**kwargs))
    return caught.value.reason


@pytest.mark.parametrize("bank", ["sha1", "sha256", "sha384"])
def test_gce_evidence_verifies_today_with_its_nonce(
    gce_payload: Payload, bank: str
) -> None:
    evidence = TPMVerifier().verify(gce_payload(bank), context())

    claims = evidence.claims
    assert claims["vouched_by"] == "ak_cert"
    assert claims["pcr_bank"] == bank and len(claims["pcrs"]) == 24
    assert claims["clock_info"]["reset_count"] == 10
    assert claims["firmware_version"] == "2016051100162800"
    assert claims["event_log"]["secure_boot"] is True
    assert claims["event_log"]["event_count"] == 44
    assert len(claims["event_log"]["boot_applications"]) == 3
    assert evidence.fingerprint == claims["ak_fingerprint"]
    assert evidence.bound_key_spki is None and len(evidence.evidence_digest) == 64


def test_gce_evidence_verifies_at_the_sample_time(gce_payload: Payload) -> None:
    evidence = TPMVerifier().verify(gce_payload(), context(now=SAMPLE_TIME))

    assert evidence.claims["vouched_by"] == "ak_cert"


def test_gce_fingerprint_is_the_ak_certificate_key_digest(gce_payload: Payload) -> None:
    first = TPMVerifier().verify(gce_payload("sha1"), context())
    second = TPMVerifier().verify(gce_payload("sha384"), context())

    assert first.fingerprint == second.fingerprint


def test_gce_evidence_rejected_with_another_nonce(gce_payload: Payload) -> None:
    with pytest.raises(NonceMismatch) as caught:
        TPMVerifier().verify(gce_payload(), context(nonce=b"\x90\x10"))
    assert caught.value.reason == "TPM_NONCE_MISMATCH"


def test_gce_evidence_rejected_when_a_pcr_is_tampered(gce_payload: Payload) -> None:
    payload = gce_payload()
    payload["pcrs"]["0"] = "00" * 32

    assert _reason(TPMVerifier(), payload) == "TPM_PCR_DIGEST_MISMATCH"


def test_gce_evidence_rejected_when_the_quote_is_tampered(gce_payload: Payload) -> None:
    payload = gce_payload()
    raw = bytearray(base64.b64decode(payload["quote"]))
    raw[40] ^= 0x01  # inside clockInfo
    payload["quote"] = b64(bytes(raw))

    assert _reason(TPMVerifier(), payload) == "TPM_QUOTE_SIGNATURE"


def test_gce_evidence_rejected_with_a_foreign_ak(gce_payload: Payload) -> None:
    payload = gce_payload()
    payload["ak_public"] = b64(fake.SoftTPM().ak_public)

    assert _reason(TPMVerifier(), payload) == "TPM_QUOTE_SIGNATURE"


def test_gce_evidence_rejected_when_secure_boot_data_is_tampered(
    gce_payload: Payload, gce: Path
) -> None:
    raw = (gce / "event_log.bin").read_bytes()
    variable = "SecureBoot".encode("utf-16-le") + b"\x01"
    assert raw.count(variable) == 1
    payload = gce_payload()
    payload["event_log"] = b64(raw.replace(variable, variable[:-1] + b"\x00"))

    assert _reason(TPMVerifier(), payload) == "TPM_EVENT_LOG_MISMATCH"


def test_gce_evidence_rejected_when_an_event_digest_is_tampered(
    gce_payload: Payload, gce: Path
) -> None:
    from aura_grpc.attestation.tpm.eventlog import parse_event_log

    raw = (gce / "event_log.bin").read_bytes()
    log = parse_event_log(raw)
    digest = log.events[5].digests[wire.ALG_SHA256]
    tampered = raw.replace(digest, bytes(len(digest)), 1)
    payload = gce_payload()
    payload["event_log"] = b64(tampered)

    assert _reason(TPMVerifier(), payload) == "TPM_EVENT_LOG_MISMATCH"


def test_gce_ak_cert_rejected_after_it_expires(gce_payload: Payload) -> None:
    with pytest.raises(CertificateExpired) as caught:
        TPMVerifier().verify(
            gce_payload(), context(now=datetime(2052, 1, 1, tzinfo=UTC))
        )
    assert caught.value.reason == "TPM_AK_CERT_EXPIRED"


def test_gce_ak_cert_rejected_for_a_fresh_ak(gce_payload: Payload) -> None:
    tpm = fake.SoftTPM()
    payload = _fresh_payload(tpm, ak_cert=gce_payload()["ak_cert"])

    assert _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_AK_CERT_KEY_MISMATCH"


def test_ak_cert_from_an_unpinned_ca_is_rejected(fake_ca: FakeCA) -> None:
    tpm = fake.SoftTPM()
    payload = _fresh_payload(tpm, ak_cert=b64(fake_ca.issue(tpm.ak.public_key())))

    with pytest.raises(ChainInvalid) as caught:
        TPMVerifier().verify(payload, context(nonce=NONCE))
    assert caught.value.reason == "TPM_AK_CERT_CHAIN"


def test_ak_cert_from_a_configured_ca_is_accepted(fake_ca: FakeCA) -> None:
    tpm = fake.SoftTPM()
    verifier = TPMVerifier.from_options({"ak_ca_pem": fake_ca.pem}, "prod")
    payload = _fresh_payload(tpm, ak_cert=b64(fake_ca.issue(tpm.ak.public_key())))

    evidence = verifier.verify(payload, context(nonce=NONCE))

    assert (
        evidence.fingerprint == hashlib.sha256(_spki(tpm.ak.public_key())).hexdigest()
    )


def test_ak_without_restricted_sign_attributes_is_rejected(fake_ca: FakeCA) -> None:
    tpm = fake.SoftTPM(attributes=fake.AK_ATTRIBUTES & ~RESTRICTED)
    payload = _fresh_payload(tpm, ak_cert=b64(fake_ca.issue(tpm.ak.public_key())))

    with pytest.raises(ClaimMismatch) as caught:
        TPMVerifier().verify(payload, context(nonce=NONCE))
    assert caught.value.reason == "TPM_AK_ATTRIBUTES"


def test_ak_vouched_by_nothing_is_malformed() -> None:
    with pytest.raises(EvidenceMalformed) as caught:
        TPMVerifier().verify(_fresh_payload(fake.SoftTPM()), context(nonce=NONCE))
    assert caught.value.reason == "TPM_AK_UNVOUCHED"


def _ek() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(65537, 2048)
    public = fake.marshal_public(
        key.public_key(), attributes=EK_ATTRIBUTES, symmetric=EK_SYMMETRIC
    )
    return key, public


def test_credential_path_fingerprints_the_ek_and_asks_the_service_to_confirm() -> None:
    tpm = fake.SoftTPM()
    ek_key, ek_public = _ek()
    payload = _fresh_payload(tpm, ek_public=b64(ek_public), activated_secret=b64(NONCE))

    evidence = TPMVerifier().verify(payload, context(nonce=NONCE))

    ek_fingerprint = hashlib.sha256(_spki(ek_key.public_key())).hexdigest()
    assert evidence.fingerprint == ek_fingerprint
    assert evidence.claims["vouched_by"] == "credential_activation"
    assert evidence.claims["ek_certified"] is False
    hint = evidence.appraisal_hints["requires_credential_activation"]
    assert hint == {
        "ek_fingerprint": ek_fingerprint,
        "ak_name": evidence.claims["ak_name"],
    }


def test_credential_path_rejects_a_wrong_activated_secret() -> None:
    payload = _fresh_payload(
        fake.SoftTPM(), ek_public=b64(_ek()[1]), activated_secret=b64(b"x" * 32)
    )

    assert (
        _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_CREDENTIAL_SECRET_MISMATCH"
    )


def test_ek_cert_from_a_configured_ca_marks_the_ek_certified(fake_ca: FakeCA) -> None:
    ek_key, ek_public = _ek()
    verifier = TPMVerifier.from_options({"ek_ca_pem": [fake_ca.pem]}, "prod")
    payload = _fresh_payload(
        fake.SoftTPM(),
        ek_public=b64(ek_public),
        ek_cert=b64(fake_ca.issue(ek_key.public_key())),
    )

    assert verifier.verify(payload, context(nonce=NONCE)).claims["ek_certified"] is True


def test_ek_cert_for_another_key_is_rejected(fake_ca: FakeCA) -> None:
    verifier = TPMVerifier.from_options({"ek_ca_pem": fake_ca.pem}, "prod")
    other = rsa.generate_private_key(65537, 2048).public_key()
    payload = _fresh_payload(
        fake.SoftTPM(), ek_public=b64(_ek()[1]), ek_cert=b64(fake_ca.issue(other))
    )

    assert _reason(verifier, payload, nonce=NONCE) == "TPM_EK_CERT_KEY_MISMATCH"


def test_ek_cert_from_an_unpinned_ca_is_rejected(fake_ca: FakeCA) -> None:
    ek_key, ek_public = _ek()
    payload = _fresh_payload(
        fake.SoftTPM(),
        ek_public=b64(ek_public),
        ek_cert=b64(fake_ca.issue(ek_key.public_key())),
    )

    assert _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_EK_CERT_CHAIN"


def _certified(
    tpm: fake.SoftTPM, nonce: bytes = NONCE
) -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = fake.marshal_public(
        key.public_key(), attributes=fake.AK_ATTRIBUTES & ~RESTRICTED
    )
    attest, signature = tpm.certify(public, nonce)
    fields = {
        "certify_info": b64(attest),
        "certify_signature": b64(signature),
        "certified_public": b64(public),
    }
    return key, fields


def test_certified_key_becomes_the_bound_key(fake_ca: FakeCA) -> None:
    tpm = fake.SoftTPM()
    key, fields = _certified(tpm)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = _fresh_payload(
        tpm, ek_public=b64(_ek()[1]), bound_key_pem=pem.decode(), **fields
    )

    evidence = TPMVerifier().verify(payload, context(nonce=NONCE))

    assert evidence.bound_key_spki == _spki(key.public_key())


def test_certification_with_another_nonce_is_rejected() -> None:
    tpm = fake.SoftTPM()
    payload = _fresh_payload(tpm, ek_public=b64(_ek()[1]), **_certified(tpm, b"old")[1])

    assert _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_NONCE_MISMATCH"


def test_certification_of_another_key_is_rejected() -> None:
    tpm = fake.SoftTPM()
    fields = _certified(tpm)[1]
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    fields["certified_public"] = b64(fake.marshal_public(other))
    payload = _fresh_payload(tpm, ek_public=b64(_ek()[1]), **fields)

    assert _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_CERTIFY_NAME_MISMATCH"


def test_certification_signed_by_another_ak_is_rejected() -> None:
    tpm = fake.SoftTPM()
    payload = _fresh_payload(
        tpm, ek_public=b64(_ek()[1]), **_certified(fake.SoftTPM())[1]
    )

    with pytest.raises(SignatureInvalid) as caught:
        TPMVerifier().verify(payload, context(nonce=NONCE))
    assert caught.value.reason == "TPM_CERTIFY_SIGNATURE"


def test_bound_key_pem_other_than_the_certified_key_is_rejected() -> None:
    tpm = fake.SoftTPM()
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = _fresh_payload(
        tpm, ek_public=b64(_ek()[1]), bound_key_pem=pem.decode(), **_certified(tpm)[1]
    )

    assert _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_BOUND_KEY_MISMATCH"


def test_bound_key_pem_without_certification_is_rejected() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    payload = _fresh_payload(
        fake.SoftTPM(), ek_public=b64(_ek()[1]), bound_key_pem=pem.decode()
    )

    assert _reason(TPMVerifier(), payload, nonce=NONCE) == "TPM_BOUND_KEY_UNPROVEN"


def test_pcr_bank_that_is_not_the_quoted_one_is_rejected(gce_payload: Payload) -> None:
    payload = gce_payload()
    payload["pcr_bank"] = "sha1"

    assert _reason(TPMVerifier(), payload) == "TPM_PCR_BANK_MISMATCH"


def test_appraisal_names_each_pcr_outside_the_reference(gce_payload: Payload) -> None:
    verifier = TPMVerifier()
    evidence = verifier.verify(gce_payload(), context())
    good = evidence.claims["pcrs"]["0"]
    reference = verifier.parse_reference_values(
        {"pcrs": {"0": [good], "7": ["00" * 32], "9": []}}
    )

    assert verifier.appraise(evidence, reference) == ["pcr7", "pcr9"]


def test_stub_payload_still_takes_the_dev_stub_path() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    payload = {"ek_pub": pem, "ak_pub": pem, "pcrs": {"0": "00" * 32}, "quote": "x"}

    dev = TPMVerifier().verify(
        payload, context(nonce=b"n").__class__(b"n", context().now)
    )
    assert dev.claims["dev_stub"] is True
    with pytest.raises(ProfileForbids):
        TPMVerifier().verify(payload, context())


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown tpm options"):
        TPMVerifier.from_options({"ak_ca": "x"}, "prod")
