"""Minting Confidential Space shaped tokens under test keys.

Two flavours, as Google issues them: a PKI token whose x5c header carries
leaf <- intermediate <- root made here, and an OIDC token signed by a key
published in a test JWKS. Kept apart from the tests so an end-to-end test can
mint too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://confidentialcomputing.googleapis.com"
AUDIENCE = "https://aura.test"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[str, rsa.RSAPrivateKey] | None,
    not_before: datetime,
    ca: bool,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass
class GCPTestPKI:
    """root -> intermediate -> leaf (RSA), mimicking the Confidential Space CA."""

    not_before: datetime
    keys: list[rsa.RSAPrivateKey] = field(
        default_factory=lambda: [rsa_key() for _ in range(3)]
    )

    def __post_init__(self) -> None:
        root_key, intermediate_key, leaf_key = self.keys
        self.root = _certificate("test cs root", root_key, None, self.not_before, True)
        self.intermediate = _certificate(
            "test cs intermediate",
            intermediate_key,
            ("test cs root", root_key),
            self.not_before,
            True,
        )
        self.leaf = _certificate(
            "test cs leaf",
            leaf_key,
            ("test cs intermediate", intermediate_key),
            self.not_before,
            False,
        )
        self.leaf_key = leaf_key

    @property
    def root_pem(self) -> str:
        return self.root.public_bytes(serialization.Encoding.PEM).decode()

    def x5c(self) -> list[str]:
        der = serialization.Encoding.DER
        return [
            base64.b64encode(cert.public_bytes(der)).decode()
            for cert in (self.leaf, self.intermediate, self.root)
        ]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_claims(
    *,
    now: datetime,
    nonces: list[str],
    audience: str = AUDIENCE,
    lifetime: timedelta = timedelta(hours=1),
    **overrides: Any,
) -> dict[str, Any]:
    """Claims shaped like a Confidential Space token."""
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "sub": "https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/i",
        "eat_nonce": nonces[0] if len(nonces) == 1 else nonces,
        "secboot": True,
        "hwmodel": "GCP_AMD_SEV_SNP",
        "swname": "CONFIDENTIAL_SPACE",
        "swversion": ["250301"],
        "dbgstat": "disabled-since-boot",
        "submods": {
            "container": {"image_digest": "sha256:" + "ab" * 32},
            "gce": {
                "zone": "europe-west4-a",
                "project_id": "aura-test",
                "instance_id": "1234567890",
            },
        },
    }
    claims.update(overrides)
    return claims


def mint_x5c_token(pki: GCPTestPKI, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims, pki.leaf_key, algorithm="RS256", headers={"x5c": pki.x5c()}
    )


def mint_kid_token(key: rsa.RSAPrivateKey, kid: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def jwks(keys: dict[str, rsa.RSAPrivateKey]) -> bytes:
    """A JWKS publishing the public halves of `keys` under their kids."""
    entries = []
    for kid, key in keys.items():
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        entries.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
    return json.dumps({"keys": entries}).encode()
