"""The document decoder refuses anything outside the documented NSM shape."""

from __future__ import annotations

from datetime import UTC, datetime

import cbor2
import pytest

from aura_grpc.attestation.aws_nitro.document import decode_document
from aura_grpc.errors import EvidenceMalformed
from tests.attestation.aws_nitro.minting import (
    NitroTestPKI,
    default_pcrs,
    document_fields,
    sign_fields,
)

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def fields(pki: NitroTestPKI) -> dict[str, object]:
    return document_fields(pki, timestamp=NOW, nonce=b"n" * 32)


MUTATIONS = {
    "unknown field": lambda f: f.update(extra=b"x"),
    "missing module_id": lambda f: f.pop("module_id"),
    "empty module_id": lambda f: f.update(module_id=""),
    "digest not SHA384": lambda f: f.update(digest="SHA256"),
    "timestamp not an int": lambda f: f.update(timestamp="now"),
    "timestamp a bool": lambda f: f.update(timestamp=True),
    "no PCRs": lambda f: f.update(pcrs={}),
    "33 PCRs": lambda f: f.update(pcrs={i: b"\1" * 48 for i in range(33)}),
    "PCR of 20 bytes": lambda f: f.update(pcrs={0: b"\1" * 20}),
    "PCR index 40": lambda f: f.update(pcrs={40: b"\1" * 48}),
    "PCR index a string": lambda f: f.update(pcrs={"0": b"\1" * 48}),
    "certificate not bytes": lambda f: f.update(certificate="pem"),
    "empty cabundle": lambda f: f.update(cabundle=[]),
    "cabundle entry too big": lambda f: f.update(cabundle=[b"\1" * 1025]),
    "user_data of 513 bytes": lambda f: f.update(user_data=b"\1" * 513),
    "nonce of 513 bytes": lambda f: f.update(nonce=b"\1" * 513),
    "public_key of 1025 bytes": lambda f: f.update(public_key=b"\1" * 1025),
    "empty public_key": lambda f: f.update(public_key=b""),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_document_outside_its_bounds_is_malformed(
    pki: NitroTestPKI, mutate: object
) -> None:
    document_fields_ = fields(pki)
    mutate(document_fields_)  # type: ignore[operator]

    with pytest.raises(EvidenceMalformed):
        decode_document(sign_fields(pki, document_fields_))


def test_largest_allowed_fields_decode(pki: NitroTestPKI) -> None:
    big = fields(pki)
    big.update(
        user_data=b"\1" * 512,
        nonce=b"\1" * 512,
        pcrs={i: b"\1" * 64 for i in range(32)},
    )

    document = decode_document(sign_fields(pki, big))

    assert len(document.pcrs) == 32


def test_32_byte_pcrs_decode(pki: NitroTestPKI) -> None:
    small = fields(pki)
    small["pcrs"] = {i: v[:32] for i, v in default_pcrs().items()}

    assert decode_document(sign_fields(pki, small)).pcrs[0] == b"\1" * 32


ENVELOPES = {
    "not CBOR": b"\xff\x00",
    "a map": cbor2.dumps({1: 2}),
    "three parts": cbor2.dumps([b"", {}, b""]),
    "wrong tag": cbor2.dumps(cbor2.CBORTag(98, [b"", {}, b"", b""])),
    "ES256 header": cbor2.dumps(
        [cbor2.dumps({1: -7}), {}, cbor2.dumps({}), b"\0" * 96]
    ),
    "short signature": cbor2.dumps([cbor2.dumps({1: -35}), {}, cbor2.dumps({}), b"\0"]),
    "payload not a map": cbor2.dumps(
        [cbor2.dumps({1: -35}), {}, cbor2.dumps([1]), b"\0" * 96]
    ),
    "too large": b"\0" * 20000,
}


@pytest.mark.parametrize("raw", ENVELOPES.values(), ids=ENVELOPES.keys())
def test_broken_envelope_is_malformed(raw: bytes) -> None:
    with pytest.raises(EvidenceMalformed):
        decode_document(raw)
