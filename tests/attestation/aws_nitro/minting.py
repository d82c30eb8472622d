"""Minting Nitro-shaped attestation documents under a test PKI.

The documents have the exact NSM shape (COSE_Sign1, protected header {1: -35},
the documented payload map, an r||s ES384 signature) but chain to a root made
here, which a verifier trusts only through the non-prod `extra_roots_pem`
option. Kept apart from the tests so an end-to-end test can mint too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

LIFETIME = timedelta(days=30)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    not_before: datetime,
    ca: bool,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA384())
    )


@dataclass
class NitroTestPKI:
    """root -> intermediate -> leaf, all P-384, valid from `not_before`."""

    not_before: datetime
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    leaf_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )

    def __post_init__(self) -> None:
        self.root = _certificate(
            "test nitro root", self.root_key, None, self.not_before, True
        )
        self.intermediate = _certificate(
            "test nitro intermediate",
            self.intermediate_key,
            ("test nitro root", self.root_key),
            self.not_before,
            True,
        )
        self.leaf = _certificate(
            "test nitro leaf",
            self.leaf_key,
            ("test nitro intermediate", self.intermediate_key),
            self.not_before,
            False,
        )

    @property
    def root_pem(self) -> str:
        return self.root.public_bytes(serialization.Encoding.PEM).decode()


def default_pcrs(debug: bool = False) -> dict[int, bytes]:
    """PCR0..15 of 48 bytes: distinct values, or zeros for PCR0..2 in debug."""
    pcrs = {index: bytes([index + 1]) * 48 for index in range(16)}
    if debug:
        pcrs.update({0: bytes(48), 1: bytes(48), 2: bytes(48)})
    return pcrs


def document_fields(
    pki: NitroTestPKI,
    *,
    timestamp: datetime,
    nonce: bytes | None,
    pcrs: dict[int, bytes] | None = None,
    public_key: bytes | None = None,
    user_data: bytes | None = None,
) -> dict[str, object]:
    der = serialization.Encoding.DER
    return {
        "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
        "digest": "SHA384",
        "timestamp": int(timestamp.timestamp() * 1000),
        "pcrs": pcrs if pcrs is not None else default_pcrs(),
        "certificate": pki.leaf.public_bytes(der),
        "cabundle": [pki.root.public_bytes(der), pki.intermediate.public_bytes(der)],
        "public_key": public_key,
        "user_data": user_data,
        "nonce": nonce,
    }


def sign_fields(
    pki: NitroTestPKI, fields: dict[str, object], *, tagged: bool = False
) -> bytes:
    """COSE_Sign1 over `fields`, signed by the leaf key (r||s)."""
    protected = cbor2.dumps({1: -35})
    payload = cbor2.dumps(fields)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])

    r, s = decode_dss_signature(pki.leaf_key.sign(to_sign, ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    envelope: object = [protected, {}, payload, signature]
    if tagged:
        envelope = cbor2.CBORTag(18, envelope)
    return bytes(cbor2.dumps(envelope))


def mint_document(
    pki: NitroTestPKI,
    *,
    timestamp: datetime,
    nonce: bytes | None,
    pcrs: dict[int, bytes] | None = None,
    public_key: bytes | None = None,
    user_data: bytes | None = None,
    tagged: bool = False,
) -> bytes:
    fields = document_fields(
        pki,
        timestamp=timestamp,
        nonce=nonce,
        pcrs=pcrs,
        public_key=public_key,
        user_data=user_data,
    )
    return sign_fields(pki, fields, tagged=tagged)
