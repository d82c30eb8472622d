"""Real Nitro documents from ../shared/vectors/nitro, judged as SOURCE.md says.

Each is verified at its own timestamp with the nonce it carries; documents made
without a nonce pass every check but the nonce (shown through `authenticate`)
and so are refused by `verify`. All of them fail today: their leaves lived ~3 h.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest

from aura_grpc.attestation.aws_nitro import NitroVerifier
from aura_grpc.attestation.aws_nitro.document import NitroDocument, decode_document
from aura_grpc.attestation.base import VerificationContext
from aura_grpc.errors import (
    CertificateExpired,
    EvidenceExpired,
    EvidenceMalformed,
    NonceMismatch,
    SignatureInvalid,
)

pytestmark = pytest.mark.vectors

TODAY = datetime(2026, 12, 3, tzinfo=UTC)
WITH_NONCE = [
    "evervault_valid-attestation-doc-bytes",
    "evervault_valid-attestation-doc-base64",
    "evervault_debug-mode-cert-containing-attestation-doc-18-1-23.extracted_doc.cbor",
    "evervault_non-debug-cert-containing-attestation-document-18-1-23.extracted_doc.cbor",
]
WITHOUT_NONCE = [
    "evervault_debug-mode-attestation-doc-bytes",
    "base_nitrovalidator_2026-01-03_doc_repaired.cbor",
]
DEBUG = {
    "evervault_valid-attestation-doc-base64",
    "evervault_debug-mode-cert-containing-attestation-doc-18-1-23.extracted_doc.cbor",
    "evervault_debug-mode-attestation-doc-bytes",
}


def read_sample(vectors: Path, name: str) -> bytes:
    raw = (vectors / "nitro" / name).read_bytes()
    return base64.b64decode(raw) if name.endswith("base64") else raw


def made_at(document: NitroDocument) -> datetime:
    return datetime.fromtimestamp(document.timestamp_ms / 1000, tz=UTC)


def payload_of(raw: bytes) -> dict[str, str]:
    return {"document": base64.b64encode(raw).decode()}


@pytest.fixture(scope="module")
def verifier() -> NitroVerifier:
    return NitroVerifier.from_options({}, "prod")


@pytest.mark.parametrize("name", WITH_NONCE)
def test_real_document_verifies_at_its_own_time(
    vectors: Path, verifier: NitroVerifier, name: str
) -> None:
    raw = read_sample(vectors, name)
    document = decode_document(raw)
    assert document.nonce is not None

    evidence = verifier.verify(
        payload_of(raw),
        VerificationContext(nonce=document.nonce, now=made_at(document)),
    )

    assert evidence.claims["debug"] is (name in DEBUG)
    assert evidence.claims["module_id"] == document.module_id
    assert len(evidence.fingerprint) == 64


@pytest.mark.parametrize("name", WITHOUT_NONCE)
def test_real_document_without_nonce_passes_all_but_the_nonce(
    vectors: Path, verifier: NitroVerifier, name: str
) -> None:
    raw = read_sample(vectors, name)
    document = decode_document(raw)
    now = made_at(document)

    verifier.authenticate(document, now)
    with pytest.raises(NonceMismatch) as caught:
        verifier.verify(payload_of(raw), VerificationContext(nonce=b"n" * 32, now=now))
    assert caught.value.reason == "NITRO_NONCE_ABSENT"


@pytest.mark.parametrize("name", WITH_NONCE + WITHOUT_NONCE)
def test_every_real_document_fails_today_with_certificate_expired(
    vectors: Path, verifier: NitroVerifier, name: str
) -> None:
    raw = read_sample(vectors, name)
    document = decode_document(raw)

    with pytest.raises(CertificateExpired) as caught:
        verifier.verify(
            payload_of(raw),
            VerificationContext(nonce=document.nonce or b"", now=TODAY),
        )
    assert caught.value.reason == "NITRO_CERT_EXPIRED"


def test_base_document_fails_once_its_ca_expired(
    vectors: Path, verifier: NitroVerifier
) -> None:
    document = decode_document(
        read_sample(vectors, "base_nitrovalidator_2026-01-03_doc_repaired.cbor")
    )

    with pytest.raises(CertificateExpired):
        verifier.authenticate(document, datetime(2026, 1, 21, tzinfo=UTC))


def test_real_document_with_wrong_nonce_is_refused(
    vectors: Path, verifier: NitroVerifier
) -> None:
    raw = read_sample(vectors, WITH_NONCE[0])
    document = decode_document(raw)

    with pytest.raises(NonceMismatch):
        verifier.verify(
            payload_of(raw),
            VerificationContext(nonce=b"x" * 256, now=made_at(document)),
        )


def test_real_document_with_flipped_signature_byte_is_refused(
    vectors: Path, verifier: NitroVerifier
) -> None:
    raw = read_sample(vectors, WITH_NONCE[0])
    envelope = cbor2.loads(raw)
    envelope[3] = bytes([envelope[3][0] ^ 0x80]) + envelope[3][1:]
    document = decode_document(raw)

    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(
            payload_of(cbor2.dumps(envelope)),
            VerificationContext(nonce=document.nonce or b"", now=made_at(document)),
        )
    assert caught.value.reason == "NITRO_SIGNATURE_INVALID"


def test_real_document_is_stale_after_max_age(
    vectors: Path, verifier: NitroVerifier
) -> None:
    raw = read_sample(vectors, WITH_NONCE[0])
    document = decode_document(raw)
    later = made_at(document) + timedelta(minutes=10)

    with pytest.raises(EvidenceExpired) as caught:
        verifier.verify(
            payload_of(raw), VerificationContext(nonce=document.nonce or b"", now=later)
        )
    assert caught.value.reason == "NITRO_DOCUMENT_STALE"


def test_corrupt_committed_document_is_malformed(vectors: Path) -> None:
    raw = read_sample(
        vectors, "base_nitrovalidator_2026-01-03_doc_as_committed_corrupt.cbor"
    )

    with pytest.raises(EvidenceMalformed) as caught:
        decode_document(raw)
    assert caught.value.reason == "NITRO_CBOR_INVALID"


def test_non_debug_real_document_passes_its_own_pcrs_and_fails_others(
    vectors: Path, verifier: NitroVerifier
) -> None:
    name = WITH_NONCE[3]
    raw = read_sample(vectors, name)
    document = decode_document(raw)
    evidence = verifier.verify(
        payload_of(raw),
        VerificationContext(nonce=document.nonce or b"", now=made_at(document)),
    )
    pcrs = evidence.claims["pcrs"]
    # The values SOURCE.md quotes from evervault's test specs.
    assert pcrs["0"].startswith("d265a83f")
    assert pcrs["1"].startswith("bcdf05fe")
    assert pcrs["2"].startswith("e4f634d2")
    assert pcrs["8"].startswith("97c5395a")
    own = {f"pcr{i}": [pcrs[str(i)]] for i in (0, 1, 2, 8)}

    assert verifier.appraise(evidence, verifier.parse_reference_values(own)) == []
    other = dict(own, pcr1=["00" * 48])
    assert verifier.appraise(evidence, verifier.parse_reference_values(other)) == [
        "pcr1"
    ]
