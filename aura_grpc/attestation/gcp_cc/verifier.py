"""The 'gcp_cc' verifier: Confidential Space / Confidential VM tokens.

Payload: `{"token": "<the attestation JWT>"}` plus the common `nonce` and
optional `bound_key_pem` fields. Two trust routes, neither touching the network
during verification: an `x5c` header chain to the pinned Confidential Space
root, or a `kid` looked up in the key set a background task keeps fresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from aura_grpc.attestation.aws_nitro.chain import (
    TrustAnchors,
    load_extra_roots,
    load_pinned_root,
    verify_path,
)
from aura_grpc.attestation.base import (
    BackgroundTask,
    JSONObject,
    VerificationContext,
    VerifiedEvidence,
    Verifier,
    digest_payload,
)
from aura_grpc.attestation.gcp_cc import token as jwt_token
from aura_grpc.attestation.gcp_cc.keyset import (
    DEFAULT_REFRESH_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    KeySetCache,
    KeySetSource,
)
from aura_grpc.attestation.gcp_cc.posture import claims_of, fingerprint_of
from aura_grpc.attestation.gcp_cc.reference import appraise_claims, parse_reference
from aura_grpc.attestation.payload import bound_key_spki, require_str
from aura_grpc.errors import EvidenceMalformed, SignatureInvalid

PAYLOAD_FIELD = "token"
ROOT_FILE = "gcp_confidential_space_root_ca.pem"
ROOT_SHA256 = "148b293821bb0c6a317f413c8ba475814091cb22d49b9e3c94198db8e8f86c39"
DEFAULT_ISSUER = "https://confidentialcomputing.googleapis.com"
# Google's audience for tokens requested without a custom one.
DEFAULT_AUDIENCE = "https://sts.google.com"
DEFAULT_LEEWAY_SECONDS = 60
_OPTIONS = frozenset(
    {
        "issuer",
        "audience",
        "leeway_seconds",
        "jwks_url",
        "jwks_file",
        "refresh_seconds",
        "fetch_timeout_seconds",
        "extra_roots_pem",
    }
)


class GCPConfidentialVerifier(Verifier):
    type_name = "gcp_cc"

    def __init__(
        self,
        *,
        anchors: TrustAnchors | None = None,
        keys: KeySetCache | None = None,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        self._anchors = anchors or TrustAnchors.of(
            [load_pinned_root(ROOT_FILE, ROOT_SHA256)]
        )
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = timedelta(seconds=leeway_seconds)

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], profile: str
    ) -> GCPConfidentialVerifier:
        """Options: `issuer`, `audience`, `leeway_seconds`; the key set from
        `jwks_url` or `jwks_file` (not both), `refresh_seconds`,
        `fetch_timeout_seconds`; `extra_roots_pem` (refused in prod)."""
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown gcp_cc options: {', '.join(sorted(unknown))}")

        anchors = TrustAnchors.of([load_pinned_root(ROOT_FILE, ROOT_SHA256)])
        if options.get("extra_roots_pem"):
            if profile == "prod":
                raise ValueError("gcp_cc extra_roots_pem is refused in prod")
            anchors = anchors.plus(load_extra_roots(str(options["extra_roots_pem"])))

        return cls(
            anchors=anchors,
            keys=_keyset_from(options),
            issuer=str(options.get("issuer", DEFAULT_ISSUER)),
            audience=str(options.get("audience", DEFAULT_AUDIENCE)),
            leeway_seconds=_positive(options, "leeway_seconds", DEFAULT_LEEWAY_SECONDS),
        )

    def background_tasks(self) -> Sequence[BackgroundTask]:
        """The key set refresh, when a key set is configured."""
        return () if self._keys is None else (self._keys.run,)

    def verify(
        self, payload: Mapping[str, Any], context: VerificationContext
    ) -> VerifiedEvidence:
        token = require_str(payload, PAYLOAD_FIELD, max_len=jwt_token.MAX_TOKEN_CHARS)
        claims = self.authenticate(token, context.now)
        posture = claims_of(claims)
        fingerprint = fingerprint_of(posture)

        jwt_token.check_nonce(claims, context.nonce)
        spki = bound_key_spki(payload)
        if spki is not None:
            jwt_token.check_bound_key(claims, spki)

        return VerifiedEvidence(
            fingerprint=fingerprint,
            claims=posture,
            bound_key_spki=spki,
            evidence_digest=digest_payload(token.encode()),
        )

    def authenticate(self, token: str, now: datetime) -> dict[str, Any]:
        """Signature, chain, time, issuer and audience: everything but the
        nonce. Returns the token's claims."""
        header = jwt_token.read_header(token)
        claims = jwt_token.decode_signed(token, self._signing_key(header, now))

        jwt_token.check_times(claims, now, self._leeway)
        jwt_token.check_issuer(claims, self._issuer)
        jwt_token.check_audience(claims, self._audience)
        return claims

    def _signing_key(
        self, header: Mapping[str, Any], now: datetime
    ) -> rsa.RSAPublicKey:
        chain = jwt_token.header_chain(header)
        if chain is not None:
            verify_path(chain[::-1], self._anchors, now, jwt_token.PREFIX)
            key = chain[0].public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise SignatureInvalid(
                    "x5c leaf key is not RSA", reason="GCP_LEAF_KEY_TYPE"
                )
            return key

        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise EvidenceMalformed("token header has no kid or x5c", reason="GCP_KID")
        if self._keys is None:
            raise SignatureInvalid(
                "no key set is configured for kid-signed tokens",
                reason="GCP_KEYSET_NOT_CONFIGURED",
            )
        return self._keys.key_for(kid)

    def parse_reference_values(self, document: Mapping[str, Any]) -> JSONObject:
        return parse_reference(document)

    def appraise(
        self, evidence: VerifiedEvidence, reference: Mapping[str, Any]
    ) -> list[str]:
        return appraise_claims(evidence.claims, reference)


def _positive(options: Mapping[str, Any], name: str, default: float) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"gcp_cc {name} must be a positive number")
    return float(value)


def _keyset_from(options: Mapping[str, Any]) -> KeySetCache | None:
    url, file = options.get("jwks_url"), options.get("jwks_file")
    if url and file:
        raise ValueError("gcp_cc takes jwks_url or jwks_file, not both")
    if not url and not file:
        return None

    source = KeySetSource(
        url=str(url) if url else None,
        file=Path(str(file)) if file else None,
        timeout_seconds=_positive(
            options, "fetch_timeout_seconds", DEFAULT_TIMEOUT_SECONDS
        ),
    )
    cache = KeySetCache(
        source, _positive(options, "refresh_seconds", DEFAULT_REFRESH_SECONDS)
    )
    cache.load_file_now()
    return cache
