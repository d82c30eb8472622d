"""Bearer token format: `aura_<token id>.<secret>`.

Only SHA-256 of the secret is stored; the id finds the row, the digest is
compared in constant time. The id is safe to log and to store in audit rows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from aura_grpc.auth.scopes import Scope

_TOKEN = re.compile(r"^aura_(tok_[0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewToken:
    token_id: str
    secret_sha256: bytes
    bearer: str

    def __repr__(self) -> str:
        return f"NewToken(token_id={self.token_id!r}, bearer=<redacted>)"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the org and token a verified bearer token belongs to."""

    org_id: str
    token_id: str
    scopes: frozenset[Scope]


def mint_token() -> NewToken:
    token_id = f"tok_{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).digest()
    return NewToken(token_id, digest, f"aura_{token_id}.{secret}")


def split_bearer(bearer: str) -> tuple[str, bytes] | None:
    """(token id, SHA-256 of the secret), or None if it is not one of ours."""
    match = _TOKEN.match(bearer)
    if match is None:
        return None
    return match.group(1), hashlib.sha256(match.group(2).encode()).digest()


def digests_match(stored: bytes, presented: bytes) -> bool:
    return hmac.compare_digest(stored, presented)
