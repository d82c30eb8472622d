"""Pinned trust anchors and a plain X.509 path walk at an explicit time.

Attestation chains (Nitro's cabundle, a Confidential Space x5c header) arrive
complete and in order, so there is no path building to do: each certificate must
be signed by the one above it, every issuer must be a CA, and every certificate
must be valid at the verification time. The walk is written out rather than
delegated to a Web PKI verifier because these vendor chains do not follow the
Web PKI profile (no SANs, unusual key usages) and because an expired certificate
must surface as its own error, CertificateExpired.

The walk is generic; the GCP verifier reuses it with its own reason prefix.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from aura_grpc.errors import CertificateExpired, ChainInvalid, EvidenceMalformed

log = logging.getLogger(__name__)

MAX_CHAIN_LENGTH = 8


@dataclass(frozen=True)
class TrustAnchors:
    """Root certificates keyed by the SHA-256 of their DER encoding."""

    by_fingerprint: dict[str, x509.Certificate]

    @classmethod
    def of(cls, certificates: Iterable[x509.Certificate]) -> TrustAnchors:
        return cls({fingerprint(cert): cert for cert in certificates})

    def plus(self, extra: Iterable[x509.Certificate]) -> TrustAnchors:
        return TrustAnchors(
            {**self.by_fingerprint, **TrustAnchors.of(extra).by_fingerprint}
        )

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        for anchor in self.by_fingerprint.values():
            if anchor.subject == cert.issuer:
                return anchor
        return None


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def load_pinned_root(file_name: str, expected_sha256: str) -> x509.Certificate:
    """A root shipped in aura_grpc/attestation/roots, refused unless its
    fingerprint is the one pinned in code (a swapped file must not load)."""
    text = resources.files("aura_grpc.attestation").joinpath("roots", file_name)
    cert = x509.load_pem_x509_certificate(text.read_bytes())
    actual = fingerprint(cert)
    if actual != expected_sha256.lower():
        raise ValueError(f"pinned root {file_name} has fingerprint {actual}")
    return cert


def load_extra_roots(source: str) -> list[x509.Certificate]:
    """Extra roots from a PEM file path or PEM text (test profiles only)."""
    data = source.encode() if "-----BEGIN" in source else Path(source).read_bytes()
    certs = x509.load_pem_x509_certificates(data)
    log.warning("extra trust roots loaded", extra={"count": len(certs)})
    return certs


def parse_der_certificate(data: bytes, what: str, prefix: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise EvidenceMalformed(
            f"{what} is not a DER certificate", reason=f"{prefix}_CERT_MALFORMED"
        ) from exc


def verify_path(
    path: Sequence[x509.Certificate],
    anchors: TrustAnchors,
    now: datetime,
    prefix: str,
) -> None:
    """Check a chain given top-down (root or first intermediate first, leaf last).

    The top certificate must either be a trusted root itself or be issued by
    one; the root's own validity counts too.
    """
    if not path or len(path) > MAX_CHAIN_LENGTH:
        raise ChainInvalid(
            "chain length out of bounds", reason=f"{prefix}_CHAIN_LENGTH"
        )

    full = _anchored(path, anchors, prefix)
    for cert in full:
        check_validity(cert, now, prefix)

    for index in range(1, len(full)):
        _check_issued(full[index - 1], full[index], len(full) - index - 1, prefix)


def check_validity(cert: x509.Certificate, now: datetime, prefix: str) -> None:
    if now > cert.not_valid_after_utc:
        raise CertificateExpired(
            f"certificate '{_cn(cert)}' expired at {cert.not_valid_after_utc:%Y-%m-%d}",
            reason=f"{prefix}_CERT_EXPIRED",
        )
    if now < cert.not_valid_before_utc:
        raise ChainInvalid(
            f"certificate '{_cn(cert)}' is not valid yet",
            reason=f"{prefix}_CERT_NOT_YET_VALID",
        )


def _anchored(
    path: Sequence[x509.Certificate], anchors: TrustAnchors, prefix: str
) -> list[x509.Certificate]:
    if fingerprint(path[0]) in anchors.by_fingerprint:
        return list(path)

    anchor = anchors.issuer_of(path[0])
    if anchor is None:
        raise ChainInvalid(
            "chain does not lead to a pinned root", reason=f"{prefix}_UNTRUSTED_ROOT"
        )
    return [anchor, *path]


def _check_issued(
    issuer: x509.Certificate, subject: x509.Certificate, below: int, prefix: str
) -> None:
    """`below` counts the CA certificates under `issuer` (for pathLenConstraint)."""
    constraints = _basic_constraints(issuer)
    if constraints is None or not constraints.ca:
        raise ChainInvalid(
            f"'{_cn(issuer)}' is not a CA", reason=f"{prefix}_ISSUER_NOT_CA"
        )
    if constraints.path_length is not None and below > constraints.path_length:
        raise ChainInvalid(
            f"'{_cn(issuer)}' path length exceeded", reason=f"{prefix}_PATH_LENGTH"
        )

    try:
        subject.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise ChainInvalid(
            f"'{_cn(subject)}' is not signed by '{_cn(issuer)}'",
            reason=f"{prefix}_CHAIN_SIGNATURE",
        ) from exc


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _cn(cert: x509.Certificate) -> str:
    try:
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    except ValueError:
        return "?"
    return str(names[0].value) if names else "?"
