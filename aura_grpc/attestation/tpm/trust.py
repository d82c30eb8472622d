"""TPM vendor and cloud CAs, and the check that an AK or EK certificate chains to one.

Every configured certificate is pinned (trusted as an anchor), roots and
intermediates alike, so a chain is the device certificate plus pinned CAs up to
a self-signed one. Google's EK/AK CAs ship in `attestation/roots/gce_*.pem`.
Results are cached per certificate with the chain's validity window, so a
device that attests often costs one chain walk, not one per quote.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

from aura_grpc.errors import CertificateExpired, ChainInvalid, EvidenceMalformed

log = logging.getLogger(__name__)

ROOTS_DIR = Path(__file__).resolve().parents[1] / "roots"
DEFAULT_CA_FILES = (
    "gce_tpm_ek_root_1.pem",
    "gce_tpm_ek_intermediate_2.pem",
    "gce_tpm_ek_intermediate_3.pem",
    "gce_gcp_ek_ak_ca_root.pem",
    "gce_gcp_ek_ak_ca_intermediate_v3.pem",
)
_SPKI_FORMAT = (
    serialization.Encoding.DER,
    serialization.PublicFormat.SubjectPublicKeyInfo,
)
_MAX_DEPTH = 5
_CACHE_SIZE = 4096


def load_pem_bundle(text: str, what: str) -> list[x509.Certificate]:
    """Certificates from PEM text; a path to a PEM file is read first."""
    if "-----BEGIN" not in text:
        text = Path(text).read_text()
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise ValueError(f"{what} holds no valid PEM certificate") from exc
    return certificates


def load_default_cas() -> list[x509.Certificate]:
    bundle = "".join((ROOTS_DIR / name).read_text() for name in DEFAULT_CA_FILES)
    return load_pem_bundle(bundle, "pinned GCE TPM CAs")


def load_der_certificate(data: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise EvidenceMalformed(f"{what} is not a DER X.509 certificate") from exc


@dataclass
class CASet:
    """Pinned CAs for one purpose (AK or EK certificates) and a chain cache."""

    cas: tuple[x509.Certificate, ...]
    reason: str
    _cache: dict[bytes, tuple[datetime, datetime, bytes]] = field(default_factory=dict)

    @classmethod
    def of(cls, cas: Iterable[x509.Certificate], reason: str) -> CASet:
        unique = {cert.fingerprint(hashes.SHA256()): cert for cert in cas}
        return cls(tuple(unique.values()), reason)

    def verify(self, der: bytes, now: datetime) -> bytes:
        """The DER SPKI of the certificate `der`, once it is shown to chain to a
        pinned CA with every certificate valid at `now`.

        Raises ChainInvalid, or CertificateExpired when only the time is wrong.
        """
        entry = self._cache.get(der)
        if entry is None:
            cert = load_der_certificate(der, "TPM certificate")
            spki = cert.public_key().public_bytes(*_SPKI_FORMAT)
            entry = (*self._walk(cert), spki)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # a crude bound; the chains are few and cheap
            self._cache[der] = entry

        not_before, not_after, spki = entry
        if not not_before <= now <= not_after:
            raise CertificateExpired(
                "TPM certificate chain is not valid at this time",
                reason=self.reason.replace("_CERT_CHAIN", "_CERT_EXPIRED"),
            )
        return spki

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        # Names are compared by verify_directly_issued_by on their DER: building
        # x509.Name objects warns about Google's over-long common names.
        for candidate in self.cas:
            try:
                cert.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
        return None

    def _walk(self, cert: x509.Certificate) -> tuple[datetime, datetime]:
        path = [cert]
        while len(path) < _MAX_DEPTH:
            issuer = self._issuer_of(path[-1])
            if issuer is None or any(issuer is seen for seen in path):
                break  # the end of the pinned CAs, or a self-signed root
            _require_ca(issuer, self.reason)
            path.append(issuer)

        if len(path) == 1:
            raise ChainInvalid(
                "TPM certificate is not issued by a pinned CA", reason=self.reason
            )
        return (
            max(c.not_valid_before_utc for c in path),
            min(c.not_valid_after_utc for c in path),
        )


def _require_ca(cert: x509.Certificate, reason: str) -> None:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise ChainInvalid("a pinned TPM CA is not a CA", reason=reason) from None
    if not constraints.value.ca:
        raise ChainInvalid("a pinned TPM CA is not a CA", reason=reason)


@dataclass(frozen=True)
class TPMTrust:
    """The CAs AK certificates and EK certificates must chain to."""

    ak_cas: CASet
    ek_cas: CASet

    @classmethod
    def default(
        cls,
        extra_ak: Iterable[x509.Certificate] = (),
        extra_ek: Iterable[x509.Certificate] = (),
    ) -> TPMTrust:
        pinned = load_default_cas()
        return cls(
            CASet.of([*pinned, *extra_ak], "TPM_AK_CERT_CHAIN"),
            CASet.of([*pinned, *extra_ek], "TPM_EK_CERT_CHAIN"),
        )
