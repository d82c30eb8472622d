"""Creating an org's Ed25519 CA certificate."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

CA_LIFETIME = timedelta(days=3650)


def make_ca_certificate(
    org_name: str, ca_id: str, key: Ed25519PrivateKey, now: datetime
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
        .sign(key, None)
    )
