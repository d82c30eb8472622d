"""Creating an org's CA certificate (Ed25519, or P-256 on a token without it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from aura_grpc.ca.signers.base import SigningKey, signature_hash

CA_LIFETIME = timedelta(days=3650)


def make_ca_certificate(
    org_name: str, ca_id: str, key: SigningKey, now: datetime
) -> x509.Certificate:
    """A self-signed root that signs only client certificates and CRLs."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AURA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"AURA client CA {ca_id}"),
        ]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .sign(key, signature_hash(key))
    )
