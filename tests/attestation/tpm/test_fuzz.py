"""Truncated and mutated TPM structures give AuraError subclasses, nothing else."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_grpc.attestation.tpm import TPMVerifier, fake
from aura_grpc.attestation.tpm.eventlog import parse_event_log
from aura_grpc.attestation.tpm.parse import parse_attest, parse_public, parse_signature
from aura_grpc.errors import AuraError
from tests.attestation.tpm.helpers import b64, context

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_EC_TPM = fake.SoftTPM(ak=ec.generate_private_key(ec.SECP256R1()))
_EC_QUOTE = _EC_TPM.quote(b"nonce", {0: bytes(32)})
FRESH = {
    "public": [fake.SoftTPM().ak_public, _EC_TPM.ak_public],
    "attest": [_EC_QUOTE[0], _EC_TPM.certify(_EC_TPM.ak_public, b"n")[0]],
    "signature": [_EC_QUOTE[1], fake.SoftTPM().quote(b"n", {0: bytes(32)})[1]],
}


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data[: draw(st.integers(0, len(data)))])


def _only_aura_errors(parse: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(AuraError):
        parse(data)


@FUZZ
@given(data=st.data())
def test_public_parser_raises_only_aura_errors(gce: Path, data: st.DataObject) -> None:
    seeds = [*FRESH["public"], (gce / "ak_pub.tpmt_public").read_bytes()]
    _only_aura_errors(parse_public, data.draw(mutated(seeds)))


@FUZZ
@given(data=st.data())
def test_attest_parser_raises_only_aura_errors(gce: Path, data: st.DataObject) -> None:
    seeds = [*FRESH["attest"], (gce / "quote_sha256.tpms_attest").read_bytes()]
    _only_aura_errors(parse_attest, data.draw(mutated(seeds)))


@FUZZ
@given(data=st.data())
def test_signature_parser_raises_only_aura_errors(
    gce: Path, data: st.DataObject
) -> None:
    seeds = [*FRESH["signature"], (gce / "quote_sha1.tpmt_signature").read_bytes()]
    _only_aura_errors(parse_signature, data.draw(mutated(seeds)))


@FUZZ
@given(data=st.data())
def test_event_log_parser_raises_only_aura_errors(
    gce: Path, data: st.DataObject
) -> None:
    seeds = [(gce / "event_log.bin").read_bytes()]
    _only_aura_errors(parse_event_log, data.draw(mutated(seeds)))


@FUZZ
@given(data=st.data(), field=st.sampled_from(["ak_public", "quote", "signature"]))
def test_verifier_raises_only_aura_errors_on_mutated_evidence(
    gce_payload: Callable[..., dict[str, Any]], data: st.DataObject, field: str
) -> None:
    payload = gce_payload(event_log=False)
    seed = base64.b64decode(payload[field])
    payload[field] = b64(data.draw(mutated([seed])))

    with contextlib.suppress(AuraError):  # an unchanged sample verifies
        TPMVerifier().verify(payload, context())


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_raise_only_aura_errors(raw: bytes) -> None:
    for parse in (parse_public, parse_attest, parse_signature, parse_event_log):
        _only_aura_errors(parse, raw)
