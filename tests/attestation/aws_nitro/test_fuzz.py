"""Fuzzing the document decoder and the verifier: only AuraErrors come out."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_grpc.attestation.aws_nitro import NitroVerifier
from aura_grpc.attestation.aws_nitro.document import decode_document
from aura_grpc.attestation.base import VerificationContext
from aura_grpc.errors import AuraError
from tests.attestation.aws_nitro.minting import NitroTestPKI, mint_document

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
PKI = NitroTestPKI(not_before=datetime(2026, 11, 20, tzinfo=UTC))
SEED = mint_document(PKI, timestamp=NOW, nonce=b"n" * 32, user_data=b"u" * 20)
VERIFIER = NitroVerifier.from_options({"extra_roots_pem": PKI.root_pem}, "dev")
FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED[: draw(st.integers(0, len(SEED)))])
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def run_verifier(raw: bytes) -> None:
    payload = {"document": base64.b64encode(raw).decode()}
    with contextlib.suppress(AuraError):
        VERIFIER.verify(payload, VerificationContext(nonce=b"n" * 32, now=NOW))


@FUZZ
@given(mutated())
def test_mutated_documents_raise_only_aura_errors(raw: bytes) -> None:
    run_verifier(raw)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_aura_errors(raw: bytes) -> None:
    with contextlib.suppress(AuraError):
        decode_document(raw)


_CBOR = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.binary(max_size=64)
    | st.text(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.integers(0, 40) | st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)


@FUZZ
@given(_CBOR)
def test_arbitrary_cbor_payloads_raise_only_aura_errors(value: object) -> None:
    protected = cbor2.dumps({1: -35})
    run_verifier(cbor2.dumps([protected, {}, cbor2.dumps(value), b"\0" * 96]))
