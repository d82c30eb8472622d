"""The client certificate profile AURA issues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aura_grpc.ca.requested_key import PublicKey
from aura_grpc.ca.signers.base import SigningKey, signature_hash

# Tolerates clients whose clocks run a little behind ours.
BACKDATE = timedelta(minutes=1)


@dataclass(frozen=True)
class ClientIdentity:
    org_id: str
    device_id: str
    subject_cn: str
    trust_domain: str

    @property
    def spiffe_id(self) -> str:
        return f"spiffe://{self.trust_domain}/org/{self.org_id}/device/{self.device_id}"


def build_client_certificate(
    identity: ClientIdentity,
    public_key: PublicKey,
    serial: int,
    issuer: x509.Certificate,
    issuer_key: SigningKey,
    not_before: datetime,
    not_after: datetime,
    crl_url: str,
) -> x509.Certificate:
    key_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    distribution = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(crl_url)],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.subject_cn)])
        )
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(identity.spiffe_id)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            False,
        )
        .add_extension(x509.CRLDistributionPoints([distribution]), False)
        .sign(issuer_key, signature_hash(issuer_key))
    )
