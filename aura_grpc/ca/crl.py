"""Building a CA's CRL in one pass over its revoked certificates."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from aura_grpc.ca.signers.base import SigningKey, signature_hash
from aura_grpc.errors import InvalidInput

# RFC 5280 reason names as the API accepts them (snake_case), to cryptography's flags.
# certificateHold is left out: AURA revocations are final, a hold never lifts.
REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aa_compromise": x509.ReasonFlags.aa_compromise,
}


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str


def parse_reason(text: str) -> str:
    """Snake_case or RFC 5280 camelCase; empty means unspecified."""
    if not text:
        return "unspecified"
    by_value = {flag.value.lower(): name for name, flag in REASONS.items()}
    name = text.strip()
    if name in REASONS:
        return name
    if name.lower() in by_value:
        return by_value[name.lower()]
    raise InvalidInput(
        f"unknown revocation reason '{text[:40]}'; one of {', '.join(REASONS)}",
        reason="REVOCATION_REASON_INVALID",
    )


# Revoked entries never change once made, and every re-sign lists them all again:
# building 100k of them took most of a 100k-entry CRL's time (~1.4 s), so each
# is built once per process. The price is memory, about 37 MiB per 100k entries
# in every worker, hence the bound.
# TODO: keep only one worker's entry cache (a CRL signer process) instead of one
# per worker; when memory per worker matters more than CRLs past 130k entries.
ENTRY_CACHE_SIZE = 1 << 17


@functools.lru_cache(maxsize=ENTRY_CACHE_SIZE)
def _entry(item: RevokedEntry) -> x509.RevokedCertificate:
    builder = x509.RevokedCertificateBuilder(
        serial_number=item.serial, revocation_date=item.revoked_at
    )
    if item.reason != "unspecified":
        builder = builder.add_extension(x509.CRLReason(REASONS[item.reason]), False)
    return builder.build()


def build_crl(
    issuer: x509.Certificate,
    key: SigningKey,
    number: int,
    this_update: datetime,
    next_update: datetime,
    revoked: Iterable[RevokedEntry],
) -> bytes:
    """DER CRL; the revoked list is handed over at once (adding entries one by
    one copies the list each time, which is quadratic)."""
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=issuer.subject,
        last_update=this_update,
        next_update=next_update,
        extensions=[],
        revoked_certificates=[_entry(item) for item in revoked],
    )
    builder = builder.add_extension(x509.CRLNumber(number), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False
    )
    crl = builder.sign(key, signature_hash(key))
    if not crl.is_signature_valid(key.public_key()):
        raise RuntimeError("a freshly signed CRL does not verify")
    return crl.public_bytes(serialization.Encoding.DER)


def der_to_pem(der: bytes) -> str:
    crl = x509.load_der_x509_crl(der)
    return crl.public_bytes(serialization.Encoding.PEM).decode()
