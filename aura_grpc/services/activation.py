"""TPM credential activation: the server half of the two-step exchange.

Step one (`wrap_secret`): the device sends its EK and AK public areas; the
server wraps a fresh secret with TPM2_MakeCredential for exactly that EK and AK
name and stores the secret as a nonce bound to both. Step two happens in
`AttestationService.attest`: a quote on the EK path (the verifier's
`requires_credential_activation` hint) is accepted only with a nonce whose
binding matches the EK and AK the quote names, so a plain challenge nonce, or
one wrapped for another TPM, cannot vouch for an AK.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from aura_grpc.attestation.tpm.credential import make_credential
from aura_grpc.attestation.tpm.evidence import AK_ATTRIBUTES
from aura_grpc.attestation.tpm.posture import fingerprint_of
from aura_grpc.attestation.tpm.quote import parse_public
from aura_grpc.attestation.tpm.structures import DECRYPT, RESTRICTED
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed, EvidenceRejected

HINT = "requires_credential_activation"
SECRET_BYTES = 32
_EK_ATTRIBUTES = RESTRICTED | DECRYPT


class CredentialNotActivated(EvidenceRejected):
    """An EK-path quote whose nonce was not wrapped for its EK and AK."""

    reason = "TPM_CREDENTIAL_NOT_ACTIVATED"


@dataclass(frozen=True)
class WrappedSecret:
    """What the device gets (blob, encrypted secret) and what the server keeps."""

    credential_blob: bytes
    encrypted_secret: bytes
    secret: bytes
    binding: bytes

    def __repr__(self) -> str:  # the secret is a nonce: keep it out of logs
        return f"WrappedSecret(binding={self.binding.hex()})"


def binding_for(ek_fingerprint: str, ak_name: str) -> bytes:
    """SHA-256(EK fingerprint || AK name), both given as hex as in the claims."""
    try:
        raw = bytes.fromhex(ek_fingerprint) + bytes.fromhex(ak_name)
    except ValueError:
        raise EvidenceMalformed("EK fingerprint and AK name must be hex") from None
    return hashlib.sha256(raw).digest()


def _check_ek_cert(ek_cert: bytes, ek_spki: bytes) -> None:
    # The chain is checked by the verifier when the quote arrives (with the
    # payload's ek_cert); here we only refuse a certificate for another key.
    try:
        cert = x509.load_der_x509_certificate(ek_cert)
    except ValueError:
        raise EvidenceMalformed("'ek_cert' is not a DER certificate") from None

    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not hmac.compare_digest(spki, ek_spki):
        raise ClaimMismatch(
            "EK certificate is for another key", reason="TPM_EK_CERT_KEY_MISMATCH"
        )


def wrap_secret(
    ek_public: bytes, ak_public: bytes, ek_cert: bytes | None = None
) -> WrappedSecret:
    """Parse and check the EK and AK, then MakeCredential a fresh secret."""
    ek, ak = parse_public(ek_public), parse_public(ak_public)
    if not ak.has_attributes(AK_ATTRIBUTES):
        raise ClaimMismatch(
            "AK is not a restricted signing key generated in and bound to its TPM",
            reason="TPM_AK_ATTRIBUTES",
        )
    if not ek.has_attributes(_EK_ATTRIBUTES):
        raise EvidenceMalformed(
            "EK is not a restricted decryption key", reason="TPM_EK_ATTRIBUTES"
        )
    if ek_cert is not None:
        _check_ek_cert(ek_cert, ek.spki())

    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        blob, encrypted = make_credential(ek, ak.name(), secret)
    except ValueError as exc:
        raise EvidenceMalformed(str(exc), reason="TPM_EK_ATTRIBUTES") from None
    binding = binding_for(fingerprint_of(ek.spki()), ak.name().hex())
    return WrappedSecret(blob, encrypted, secret, binding)


def check_activation(hints: Mapping[str, Any], binding: bytes | None) -> None:
    """Refuse EK-path evidence unless its nonce was wrapped for its EK and AK."""
    hint = hints.get(HINT)
    if hint is None:
        return
    if not isinstance(hint, Mapping):
        raise CredentialNotActivated("credential activation hint is malformed")

    expected = binding_for(str(hint.get("ek_fingerprint")), str(hint.get("ak_name")))
    if binding is None or not hmac.compare_digest(binding, expected):
        raise CredentialNotActivated(
            "the nonce was not issued by credential activation for this EK and AK: "
            "call CreateCredentialChallenge and quote with the activated secret"
        )
