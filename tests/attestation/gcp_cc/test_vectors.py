"""Real GCP tokens from ../shared/vectors/gcp, judged as SOURCE.md says.

The oak token's eat_nonce is the literal text "a nonce between 10 and 74
characters". The server nonce N is matched as base64url(N), and that text
(it has spaces) is no base64url encoding of any N, so no server nonce can match
it. The tests therefore show the token passes every other check (through
`authenticate`, and because `verify` gets as far as the nonce, the last check)
rather than adding a nonce bypass to the verifier.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.gcp_cc import GCPConfidentialVerifier
from aura_grpc.attestation.gcp_cc.posture import claims_of
from aura_grpc.errors import (
    CertificateExpired,
    ClaimMismatch,
    EvidenceExpired,
    NonceMismatch,
    SignatureInvalid,
    Unavailable,
)
from tests.attestation.gcp_cc.conftest import KeySetServer

pytestmark = pytest.mark.vectors

TODAY = datetime(2026, 12, 3, tzinfo=UTC)
OAK_AUDIENCE = "https://echo.oak.dev"


def read_token(vectors: Path, name: str) -> str:
    return (vectors / "gcp" / name).read_text().strip()


def issued_at(token: str) -> datetime:
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(claims["iat"], tz=UTC)


@pytest.fixture(scope="module")
def oak() -> GCPConfidentialVerifier:
    return GCPConfidentialVerifier.from_options({"audience": OAK_AUDIENCE}, "prod")


def test_oak_token_passes_every_check_but_the_nonce_at_its_issue_time(
    vectors: Path, oak: GCPConfidentialVerifier
) -> None:
    token = read_token(vectors, "oak_valid.jwt")
    now = issued_at(token)

    claims = oak.authenticate(token, now)
    assert claims["eat_nonce"] == "a nonce between 10 and 74 characters"
    posture = claims_of(claims)
    assert posture["hwmodel"] == "GCP_AMD_SEV"
    assert posture["debug"] is True
    assert posture["project_id"] == "oak-ci"

    with pytest.raises(NonceMismatch) as caught:
        oak.verify({"token": token}, VerificationContext(nonce=b"\0" * 32, now=now))
    assert caught.value.reason == "GCP_NONCE_MISMATCH"


def test_oak_token_expires_an_hour_after_issue(
    vectors: Path, oak: GCPConfidentialVerifier
) -> None:
    token = read_token(vectors, "oak_valid.jwt")

    with pytest.raises(EvidenceExpired) as caught:
        oak.authenticate(token, issued_at(token) + timedelta(hours=2))
    assert caught.value.reason == "GCP_TOKEN_EXPIRED"


def test_oak_token_fails_today_with_certificate_expired(
    vectors: Path, oak: GCPConfidentialVerifier
) -> None:
    token = read_token(vectors, "oak_valid.jwt")

    with pytest.raises(CertificateExpired) as caught:
        oak.verify({"token": token}, VerificationContext(nonce=b"\0" * 32, now=TODAY))
    assert caught.value.reason == "GCP_CERT_EXPIRED"


def test_oak_token_for_another_audience_is_refused(vectors: Path) -> None:
    token = read_token(vectors, "oak_valid.jwt")
    verifier = GCPConfidentialVerifier.from_options({}, "prod")

    with pytest.raises(ClaimMismatch) as caught:
        verifier.authenticate(token, issued_at(token))
    assert caught.value.reason == "GCP_AUDIENCE"


def test_oak_token_with_flipped_signature_is_refused(
    vectors: Path, oak: GCPConfidentialVerifier
) -> None:
    token = read_token(vectors, "oak_valid.jwt")
    head, _, signature = token.rpartition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]

    with pytest.raises(SignatureInvalid) as caught:
        oak.authenticate(f"{head}.{flipped}", issued_at(token))
    assert caught.value.reason == "GCP_SIGNATURE_INVALID"


def test_flare_token_claims_parse_into_a_posture(vectors: Path) -> None:
    token = read_token(vectors, "flare_teenode_oidc_token_2025-02-10.jwt")

    posture = claims_of(jwt.decode(token, options={"verify_signature": False}))

    assert posture["hwmodel"] == "GCP_INTEL_TDX"
    assert posture["instance_id"] == "2393820856121062678"


def test_flare_token_kid_is_unknown_to_a_loaded_key_set(
    vectors: Path, jwks_file: Path
) -> None:
    token = read_token(vectors, "flare_teenode_oidc_token_2025-02-10.jwt")
    verifier = GCPConfidentialVerifier.from_options(
        {"audience": "https://sts.google.com", "jwks_file": str(jwks_file)}, "prod"
    )

    with pytest.raises(SignatureInvalid) as caught:
        verifier.authenticate(token, issued_at(token))
    assert caught.value.reason == "GCP_UNKNOWN_KID"


def test_flare_token_is_unavailable_before_any_key_set_loaded(
    vectors: Path, keyset_server: KeySetServer
) -> None:
    token = read_token(vectors, "flare_teenode_oidc_token_2025-02-10.jwt")
    verifier = GCPConfidentialVerifier.from_options(
        {"jwks_url": keyset_server.url}, "prod"
    )

    with pytest.raises(Unavailable) as caught:
        verifier.authenticate(token, issued_at(token))
    assert caught.value.reason == "GCP_KEYSET_UNAVAILABLE"


def test_flare_token_is_refused_without_a_configured_key_set(vectors: Path) -> None:
    token = read_token(vectors, "flare_teenode_oidc_token_2025-02-10.jwt")

    with pytest.raises(SignatureInvalid) as caught:
        GCPConfidentialVerifier().authenticate(token, TODAY)
    assert caught.value.reason == "GCP_KEYSET_NOT_CONFIGURED"
