"""Payloads for the TPM development stub, made fresh by the tests."""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PCR0 = "a" * 64
PCR7 = "b" * 64


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


class StubTPM:
    """A pretend device: a fixed EK, so re-attesting gives the same device id."""

    def __init__(self) -> None:
        self.ek = ec.generate_private_key(ec.SECP256R1())
        self.ak = ec.generate_private_key(ec.SECP256R1())
        self.pcrs = {"0": PCR0, "7": PCR7}

    def payload(self, nonce_b64: str) -> dict[str, Any]:
        return {
            "nonce": nonce_b64,
            "ek_pub": public_pem(self.ek),
            "ak_pub": public_pem(self.ak),
            "pcrs": dict(self.pcrs),
            "quote": base64.b64encode(os.urandom(64)).decode(),
        }
