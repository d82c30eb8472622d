"""Reading and checking a Confidential Space / Confidential VM attestation token.

The token is a JWT signed RS256 by Google, either with a key from Google's
published key set (the OIDC flavour, header `kid`) or with a leaf certificate
carried in the header (`x5c`, the PKI flavour). Signature checking lives here;
where the key comes from is the verifier's business. Time claims are checked
against the verification clock, never the wall clock, so PyJWT's own time
checks are switched off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.types import Options

from aura_grpc.attestation.aws_nitro.chain import parse_der_certificate
from aura_grpc.errors import (
    ClaimMismatch,
    EvidenceExpired,
    EvidenceMalformed,
    NonceMismatch,
    SignatureInvalid,
)

PREFIX = "GCP"
MAX_TOKEN_CHARS = 65536
MAX_X5C = 8
ALGORITHM = "RS256"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


def read_header(token: str) -> dict[str, Any]:
    """The JOSE header, read before the signature to pick the key.

    Read here rather than with jwt.get_unverified_header: PyJWT checks the
    base64url alphabet one character at a time in Python, and an x5c header is
    ~9 KB, so reading it twice (here and in jwt.decode) cost more than every
    signature check together. jwt.decode still validates the whole token.
    """
    segment = token.partition(".")[0]
    if not _BASE64URL.fullmatch(segment):
        raise EvidenceMalformed("token is not a JWT", reason="GCP_TOKEN_MALFORMED")
    try:
        header = json.loads(
            base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        )
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise EvidenceMalformed(
            "token header is not base64url JSON", reason="GCP_TOKEN_MALFORMED"
        ) from exc

    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise EvidenceMalformed("token is not RS256", reason="GCP_ALGORITHM")
    return header


def header_chain(header: Mapping[str, Any]) -> list[x509.Certificate] | None:
    """The x5c certificates leaf first, or None when the header has none."""
    x5c = header.get("x5c")
    if x5c is None:
        return None
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= MAX_X5C:
        raise EvidenceMalformed("x5c must list 1 to 8 certificates", reason="GCP_X5C")
    return [_x5c_certificate(entry) for entry in x5c]


def _x5c_certificate(entry: Any) -> x509.Certificate:
    if not isinstance(entry, str):
        raise EvidenceMalformed("x5c entries must be strings", reason="GCP_X5C")
    try:
        der = base64.b64decode(entry, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EvidenceMalformed("x5c entry is not base64", reason="GCP_X5C") from exc
    return parse_der_certificate(der, "x5c certificate", PREFIX)


def decode_signed(token: str, key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The token's claims, once its RS256 signature verifies under `key`."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError as exc:
        raise SignatureInvalid(
            "token signature does not verify", reason="GCP_SIGNATURE_INVALID"
        ) from exc
    except (jwt.PyJWTError, RecursionError) as exc:
        # RecursionError: a signed but absurdly nested claims object.
        raise EvidenceMalformed(
            "token cannot be decoded", reason="GCP_TOKEN_MALFORMED"
        ) from exc
    return dict(claims)


def check_times(claims: Mapping[str, Any], now: datetime, leeway: timedelta) -> None:
    """exp is required; nbf and iat, when present, must not be in the future."""
    epoch = now.timestamp()
    slack = leeway.total_seconds()
    expires = _time_claim(claims, "exp", required=True)
    if expires is None or epoch > expires + slack:
        raise EvidenceExpired("token has expired", reason="GCP_TOKEN_EXPIRED")

    for name in ("nbf", "iat"):
        value = _time_claim(claims, name, required=False)
        if value is not None and value > epoch + slack:
            raise EvidenceExpired(
                f"token {name} is in the future", reason="GCP_TOKEN_NOT_YET_VALID"
            )


def _time_claim(
    claims: Mapping[str, Any], name: str, *, required: bool
) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None

    # The range test also refuses NaN (it compares false with everything, so a
    # NaN exp would never expire), infinities and ints too big for a float.
    number = value if isinstance(value, int | float) else None
    if isinstance(value, bool) or number is None or not 0 <= number < 2**63:
        raise EvidenceMalformed(
            f"token claim '{name}' must be a time in seconds",
            reason="GCP_TOKEN_MALFORMED",
        )
    return float(number)


def check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    if claims.get("iss") != issuer:
        raise ClaimMismatch("token issuer is not trusted", reason="GCP_ISSUER")


def check_audience(claims: Mapping[str, Any], audience: str) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise ClaimMismatch("token audience is not ours", reason="GCP_AUDIENCE")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def eat_nonces(claims: Mapping[str, Any]) -> list[str]:
    value = claims.get("eat_nonce")
    entries = value if isinstance(value, list) else [value]
    if value is None or not all(isinstance(entry, str) for entry in entries):
        raise NonceMismatch(
            "token carries no eat_nonce strings", reason="GCP_NONCE_ABSENT"
        )
    return [str(entry) for entry in entries]


def carries(entries: list[str], expected: str) -> bool:
    """Constant-time membership; entries may hold any UTF-8, so compare bytes."""
    wanted = expected.encode()
    found = False
    for entry in entries:
        found |= hmac.compare_digest(entry.encode(), wanted)
    return found


def check_nonce(claims: Mapping[str, Any], nonce: bytes) -> None:
    """The server nonce N appears in eat_nonce as base64url(N), unpadded."""
    if not carries(eat_nonces(claims), b64url(nonce)):
        raise NonceMismatch(
            "token eat_nonce does not carry the server nonce",
            reason="GCP_NONCE_MISMATCH",
        )


def check_bound_key(claims: Mapping[str, Any], spki: bytes) -> None:
    """A key is bound by a second eat_nonce entry: base64url(SHA-256(SPKI))."""
    if not carries(eat_nonces(claims), b64url(hashlib.sha256(spki).digest())):
        raise ClaimMismatch(
            "token does not bind the key the payload names",
            reason="GCP_BOUND_KEY_MISMATCH",
        )
