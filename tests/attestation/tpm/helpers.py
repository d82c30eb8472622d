"""Helpers shared by the TPM tests: constants, payload encoding, a test CA."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from aura_grpc.attestation.base import VerificationContext

GCE_NONCE = b"\x90\x09"
TODAY = datetime(2026, 12, 3, tzinfo=UTC)
SAMPLE_TIME = datetime(2021, 12, 22, tzinfo=UTC)
GCE_DIR = "tpm/gotpmtools_gce-cos-85-nonce9009_extracted"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def context(nonce: bytes = GCE_NONCE, now: datetime = TODAY) -> VerificationContext:
    return VerificationContext(nonce=nonce, now=now, profile="prod")


class FakeCA:
    """A throwaway CA that certifies AK or EK keys."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AURA test TPM CA")])
        self.cert = (
            self._builder(name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(self.key, hashes.SHA256())
        )
        self.name = name

    @staticmethod
    def _builder(
        name: x509.Name, key: Any, issuer: x509.Name | None = None
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(TODAY - timedelta(days=365))
            .not_valid_after(TODAY + timedelta(days=365))
        )

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
        cert = (
            self._builder(x509.Name([]), key, self.name)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)
