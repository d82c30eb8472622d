"""What Envoy trusts on the device listener: CA bundle, CRLs and revoked serials.

Pure functions and values, no database: `publisher.py` feeds them rows. Every
CRL is checked before it is published, against the clock Envoy itself uses (the
system clock): a CRL for the wrong CA, with a bad signature, not yet valid or
past `nextUpdate` would lock every client of the bundle out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.crl import build_crl
from aura_grpc.errors import AuraError

# Envoy must still accept a CRL published now a little later: refuse CRLs that
# lapse within this margin, and tolerate this much clock skew on thisUpdate.
LAPSE_MARGIN = timedelta(minutes=1)
SKEW = timedelta(seconds=5)
PLACEHOLDER_LIFETIME = timedelta(days=3650)


class CRLRejected(AuraError):
    """A CRL that must not reach Envoy; the previous good one stays published."""

    reason = "CRL_REJECTED"


@dataclass(frozen=True)
class TrustedCA:
    """A CA as published: its certificate with a CRL that passed the checks."""

    ca_id: str
    org_id: str
    org_name: str
    certificate: x509.Certificate
    crl: x509.CertificateRevocationList
    crl_number: int

    @property
    def issuer_der(self) -> bytes:
        return self.certificate.subject.public_bytes()


@dataclass(frozen=True)
class TrustSnapshot:
    """One published state; `version` changes whenever the bytes change."""

    cas: tuple[TrustedCA, ...]
    revoked: frozenset[str]
    bundle_pem: bytes
    crl_pem: bytes
    version: str
    by_issuer: dict[bytes, TrustedCA] = field(compare=False)


def check_crl(
    ca_cert: x509.Certificate, crl_der: bytes, now: datetime
) -> x509.CertificateRevocationList:
    """The parsed CRL if Envoy can safely use it for `ca_cert`, else CRLRejected."""
    try:
        crl = x509.load_der_x509_crl(crl_der)
    except ValueError as exc:
        raise CRLRejected("not a DER CRL") from exc

    if crl.issuer != ca_cert.subject:
        raise CRLRejected("the CRL names another issuer")
    if not crl.is_signature_valid(ca_cert.public_key()):  # type: ignore[arg-type]  # CA keys are Ed25519, EC or RSA
        raise CRLRejected("the CRL's signature does not verify with its CA")
    if crl.last_update_utc > now + SKEW:
        raise CRLRejected("the CRL is not valid yet (thisUpdate in the future)")
    if not is_current(crl, now):
        raise CRLRejected("the CRL has lapsed or is about to (nextUpdate)")
    return crl


def is_current(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    """False once the CRL is within LAPSE_MARGIN of its nextUpdate."""
    return crl.next_update_utc is not None and crl.next_update_utc > now + LAPSE_MARGIN


def placeholder_ca(now: datetime) -> TrustedCA:
    """A throwaway CA and its CRL so the listener can start before any org has a
    CA; its key is dropped at once, so it never signs a client certificate."""
    key = Ed25519PrivateKey.generate()
    cert = make_ca_certificate("placeholder", "ca_placeholder", key, now)
    der = build_crl(cert, key, 1, now - SKEW, now + PLACEHOLDER_LIFETIME, [])
    crl = x509.load_der_x509_crl(der)
    return TrustedCA("ca_placeholder", "", "", cert, crl, 1)


def snapshot_of(cas: Iterable[TrustedCA], revoked: Iterable[str]) -> TrustSnapshot:
    """The bundle and the CRLs, one CRL per CA, in the same order."""
    ordered = tuple(
        sorted(cas, key=lambda ca: (ca.ca_id, ca.certificate.serial_number))
    )
    pem = serialization.Encoding.PEM
    bundle = b"".join(ca.certificate.public_bytes(pem) for ca in ordered)
    crls = b"".join(ca.crl.public_bytes(pem) for ca in ordered)
    version = hashlib.sha256(bundle + b"\0" + crls).hexdigest()[:16]
    return TrustSnapshot(
        cas=ordered,
        revoked=frozenset(revoked),
        bundle_pem=bundle,
        crl_pem=crls,
        version=version,
        by_issuer={ca.issuer_der: ca for ca in ordered},
    )
