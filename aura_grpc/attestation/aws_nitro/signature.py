"""The COSE_Sign1 ES384 signature and the certificate chain behind it."""

from __future__ import annotations

from datetime import datetime

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aura_grpc.attestation.aws_nitro.chain import (
    TrustAnchors,
    parse_der_certificate,
    verify_path,
)
from aura_grpc.attestation.aws_nitro.document import NitroDocument
from aura_grpc.errors import SignatureInvalid

PREFIX = "NITRO"
ROOT_FILE = "aws_nitro_enclaves_root_g1.pem"
ROOT_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"


def verify_chain(
    document: NitroDocument, anchors: TrustAnchors, now: datetime
) -> x509.Certificate:
    """cabundle is root-first; the leaf (`certificate`) signs the document."""
    path = [
        parse_der_certificate(der, "cabundle entry", PREFIX)
        for der in document.cabundle
    ]
    leaf = parse_der_certificate(document.certificate, "leaf certificate", PREFIX)

    verify_path([*path, leaf], anchors, now, PREFIX)
    return leaf


def sig_structure(document: NitroDocument) -> bytes:
    """RFC 9052 Sig_structure for COSE_Sign1 with no external AAD."""
    return bytes(cbor2.dumps(["Signature1", document.protected, b"", document.payload]))


def verify_signature(document: NitroDocument, leaf: x509.Certificate) -> None:
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise SignatureInvalid(
            "leaf certificate key is not P-384", reason="NITRO_LEAF_KEY_TYPE"
        )

    # COSE carries r||s; cryptography wants DER.
    r = int.from_bytes(document.signature[:48], "big")
    s = int.from_bytes(document.signature[48:], "big")
    try:
        key.verify(
            encode_dss_signature(r, s),
            sig_structure(document),
            ec.ECDSA(hashes.SHA384()),
        )
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "document signature does not verify", reason="NITRO_SIGNATURE_INVALID"
        ) from exc
