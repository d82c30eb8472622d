"""Hypothesis throws truncated and mutated bytes at the TDX parsers and verifier:
only AuraError subclasses may come out."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_grpc.attestation.intel_tdx import TDXVerifier
from aura_grpc.attestation.intel_tdx.azure import parse_tdx_hcl_report
from aura_grpc.attestation.intel_tdx.collateral import parse_collateral
from aura_grpc.attestation.intel_tdx.quote import parse_quote
from aura_grpc.errors import AuraError
from tests.attestation.intel_tdx.conftest import context
from tests.attestation.intel_tdx.factory import (
    NOW,
    FakeIntelPKI,
    make_evidence,
    raw_signature,
)

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PKI = FakeIntelPKI()
QUOTE, COLLATERAL = make_evidence(PKI)
VERIFIER = TDXVerifier(root=PKI.root)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The quote cut short, or with a few bytes overwritten."""
    data = bytearray(original[: draw(st.integers(0, len(original)))])
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _only_aura_errors(call: Any, *args: Any) -> None:
    with contextlib.suppress(AuraError):
        call(*args)


@FUZZ
@given(mutated(QUOTE))
def test_quote_parser_raises_only_aura_errors(data: bytes) -> None:
    _only_aura_errors(parse_quote, data)


@FUZZ
@given(st.binary(max_size=6000))
def test_quote_parser_survives_random_bytes(data: bytes) -> None:
    _only_aura_errors(parse_quote, data)


@FUZZ
@given(mutated(QUOTE))
def test_verifier_raises_only_aura_errors_for_mutated_quotes(data: bytes) -> None:
    payload = {"quote": base64.b64encode(data).decode(), "collateral": COLLATERAL}
    _only_aura_errors(VERIFIER.verify, payload, context(b"\x11" * 32, NOW))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


@FUZZ
@given(st.sampled_from(sorted(COLLATERAL)), JSONISH)
def test_collateral_parser_raises_only_aura_errors(field: str, value: Any) -> None:
    collateral = copy.deepcopy(COLLATERAL)
    collateral[field] = value
    _only_aura_errors(parse_collateral, collateral)
    payload = {"quote": base64.b64encode(QUOTE).decode(), "collateral": collateral}
    _only_aura_errors(VERIFIER.verify, payload, context(b"\x11" * 32, NOW))


@FUZZ
@given(st.sampled_from(["tcb_info", "qe_identity"]), st.data())
def test_mutated_signed_documents_raise_only_aura_errors(
    field: str, data: st.DataObject
) -> None:
    collateral = copy.deepcopy(COLLATERAL)
    text = collateral[field]
    cut = data.draw(st.integers(0, len(text)))
    collateral[field] = text[:cut] + data.draw(st.text(max_size=8)) + text[cut + 1 :]
    payload = {"quote": base64.b64encode(QUOTE).decode(), "collateral": collateral}
    _only_aura_errors(VERIFIER.verify, payload, context(b"\x11" * 32, NOW))


@pytest.mark.parametrize(
    "payload", [{}, {"quote": 5}, {"quote": "!!"}, {"quote": "AAAA", "collateral": []}]
)
def test_payload_shape_errors_are_aura_errors(payload: dict[str, Any]) -> None:
    with pytest.raises(AuraError):
        VERIFIER.verify(payload, context(b"n", NOW))


def _resigned(collateral: dict[str, Any], field: str, document: Any) -> dict[str, Any]:
    """The collateral with `field` replaced by `document`, signed by the test PKI."""
    text = json.dumps(document)
    signature = raw_signature(PKI.tcb_key, text.encode()).hex()
    return collateral | {field: text, f"{field}_signature": signature}


@FUZZ
@given(st.sampled_from(["tcb_info", "qe_identity"]), st.data())
def test_signed_but_odd_documents_raise_only_aura_errors(
    field: str, data: st.DataObject
) -> None:
    # Signed by the (test) TCB key, so the TCB level parsing itself is exercised.
    document = json.loads(COLLATERAL[field])
    target = document
    if data.draw(st.booleans()) and document["tcbLevels"]:
        target = document["tcbLevels"][0]
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(JSONISH)

    payload = {
        "quote": base64.b64encode(QUOTE).decode(),
        "collateral": _resigned(COLLATERAL, field, document),
    }
    _only_aura_errors(VERIFIER.verify, payload, context(b"\x11" * 32, NOW))


HCL_PREFIX = b"HCLA" + bytes(28 + 1184) + struct.pack("<5I", 0, 1, 4, 1, 40)


@FUZZ
@given(st.binary(max_size=80), st.binary(max_size=1400))
def test_azure_hcl_parser_raises_only_aura_errors(tail: bytes, noise: bytes) -> None:
    _only_aura_errors(parse_tdx_hcl_report, HCL_PREFIX + tail)
    _only_aura_errors(parse_tdx_hcl_report, noise)
