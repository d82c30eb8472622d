"""Fuzzing the token path: mangled tokens and arbitrary signed claims raise
only AuraErrors."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from aura_grpc.errors import AuraError
from tests.attestation.gcp_cc.minting import (
    AUDIENCE,
    GCPTestPKI,
    b64url,
    mint_x5c_token,
    token_claims,
)

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
NONCE = b"n" * 32
PKI = GCPTestPKI(not_before=datetime(2026, 11, 20, tzinfo=UTC))
SEED = mint_x5c_token(PKI, token_claims(now=NOW, nonces=[b64url(NONCE)]))
VERIFIER = GCPConfidentialVerifier.from_options(
    {"extra_roots_pem": PKI.root_pem, "audience": AUDIENCE}, "dev"
)
FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "


def run(token: str) -> None:
    with contextlib.suppress(AuraError):
        VERIFIER.verify({"token": token}, VerificationContext(nonce=NONCE, now=NOW))


@st.composite
def mangled(draw: st.DrawFn) -> str:
    chars = list(SEED[: draw(st.integers(0, len(SEED)))])
    for _ in range(draw(st.integers(0, 4))):
        if chars:
            chars[draw(st.integers(0, len(chars) - 1))] = draw(
                st.sampled_from(ALPHABET)
            )
    return "".join(chars)


@FUZZ
@given(mangled())
def test_mangled_tokens_raise_only_aura_errors(token: str) -> None:
    run(token)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_raises_only_aura_errors(token: str) -> None:
    run(token)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_CLAIM_NAMES = st.sampled_from(
    [
        "exp",
        "nbf",
        "iat",
        "iss",
        "aud",
        "eat_nonce",
        "hwmodel",
        "secboot",
        "dbgstat",
        "swname",
        "swversion",
        "submods",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_CLAIM_NAMES, _JSON, max_size=4))
def test_signed_tokens_with_odd_claims_raise_only_aura_errors(
    overrides: dict[str, Any],
) -> None:
    claims = token_claims(now=NOW, nonces=[b64url(NONCE)]) | overrides
    try:
        token = mint_x5c_token(PKI, claims)
    except (ValueError, TypeError, OverflowError):
        return  # PyJWT cannot serialise this (NaN, huge ints); nothing to verify
    run(token)
