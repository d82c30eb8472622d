"""Verifying a real 'tpm' payload: AK, quote, who vouches for the AK, key binding,
event log; then the claims the device's posture is made of.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation import payload as fields
from aura_grpc.attestation.base import (
    VerificationContext,
    VerifiedEvidence,
    digest_payload,
)
from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.credential import check_activated_secret
from aura_grpc.attestation.tpm.eventlog import boot_facts, check_replay, parse_event_log
from aura_grpc.attestation.tpm.posture import fingerprint_of, quote_claims
from aura_grpc.attestation.tpm.quote import parse_public, verify_certify, verify_quote
from aura_grpc.attestation.tpm.structures import (
    FIXED_PARENT,
    FIXED_TPM,
    RESTRICTED,
    SENSITIVE_DATA_ORIGIN,
    SIGN_ENCRYPT,
    TPMSAttest,
    TPMTPublic,
)
from aura_grpc.attestation.tpm.trust import CASet, TPMTrust
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

AK_ATTRIBUTES = (
    FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN | RESTRICTED | SIGN_ENCRYPT
)
_SMALL = 16384
_PCR_COUNT = 24
_PCR_INDICES = frozenset(range(_PCR_COUNT))
_DIGEST_SIZES = frozenset(wire.DIGEST_SIZES.values())


def _read_ak(payload: Mapping[str, Any]) -> TPMTPublic:
    ak = parse_public(fields.require_bytes(payload, "ak_public", max_bytes=_SMALL))
    if not ak.has_attributes(AK_ATTRIBUTES):
        raise ClaimMismatch(
            "AK is not a restricted signing key generated in and bound to its TPM",
            reason="TPM_AK_ATTRIBUTES",
        )
    return ak


def _read_pcrs(payload: Mapping[str, Any]) -> dict[int, bytes]:
    """`pcrs`: {"<index>": "<hex>"} as index -> digest bytes, every entry checked."""
    pcrs = payload.get("pcrs")
    if not isinstance(pcrs, Mapping) or len(pcrs) > _PCR_COUNT:
        raise EvidenceMalformed("payload field 'pcrs' must be an object index -> hex")

    try:
        values = {int(index): bytes.fromhex(value) for index, value in pcrs.items()}
    except (TypeError, ValueError):
        raise EvidenceMalformed("payload 'pcrs' must map 0..23 to hex") from None
    if (
        len(values) != len(pcrs)
        or not set(values) <= _PCR_INDICES
        or not set(map(len, values.values())) <= _DIGEST_SIZES
    ):
        raise EvidenceMalformed("payload 'pcrs' must map 0..23 to hex digests")
    return values


def _quoted_bank(attest: TPMSAttest, payload: Mapping[str, Any]) -> int:
    assert attest.quote is not None  # verify_quote accepted only quotes
    banks = {s.hash_alg for s in attest.quote.pcr_selections if s.indices}
    if len(banks) != 1:
        raise EvidenceMalformed("quote must select PCRs of exactly one bank")

    bank = banks.pop()
    named = payload.get("pcr_bank")
    if named is not None and wire.HASH_IDS.get(str(named)) != bank:
        raise EvidenceMalformed(
            "payload 'pcr_bank' is not the quoted bank", reason="TPM_PCR_BANK_MISMATCH"
        )
    return bank


def _check_cert_key(
    cas: CASet, cert_der: bytes, spki: bytes, what: str, context: VerificationContext
) -> None:
    if not hmac.compare_digest(cas.verify(cert_der, context.now), spki):
        raise ClaimMismatch(
            f"{what} certificate is for another key",
            reason=f"TPM_{what}_CERT_KEY_MISMATCH",
        )


def _vouch(
    payload: Mapping[str, Any],
    ak: TPMTPublic,
    trust: TPMTrust,
    context: VerificationContext,
) -> dict[str, Any]:
    """Who vouches that the AK lives in a genuine TPM; returns claims."""
    ak_cert = fields.optional_bytes(payload, "ak_cert", max_bytes=_SMALL)
    if ak_cert is not None:
        _check_cert_key(trust.ak_cas, ak_cert, ak.spki(), "AK", context)
        return {"vouched_by": "ak_cert"}

    ek_public = fields.optional_bytes(payload, "ek_public", max_bytes=_SMALL)
    if ek_public is None:
        raise EvidenceMalformed(
            "payload needs 'ak_cert' or 'ek_public' to vouch for the AK",
            reason="TPM_AK_UNVOUCHED",
        )
    ek = parse_public(ek_public)
    ek_cert = fields.optional_bytes(payload, "ek_cert", max_bytes=_SMALL)
    if ek_cert is not None:
        _check_cert_key(trust.ek_cas, ek_cert, ek.spki(), "EK", context)

    secret = fields.optional_bytes(payload, "activated_secret", max_bytes=_SMALL)
    if secret is not None:
        check_activated_secret(context.nonce, secret)
    return {
        "vouched_by": "credential_activation",
        "ek_fingerprint": fingerprint_of(ek.spki()),
        "ek_certified": ek_cert is not None,
    }


def _bound_key(
    payload: Mapping[str, Any], ak: TPMTPublic, context: VerificationContext
) -> bytes | None:
    """The SPKI of a key the AK certified (TPM2_Certify) with the server nonce."""
    named = fields.bound_key_spki(payload)
    certify_info = fields.optional_bytes(payload, "certify_info", max_bytes=_SMALL)
    if certify_info is None:
        if named is not None:
            raise ClaimMismatch(
                "'bound_key_pem' needs a TPM2_Certify of that key",
                reason="TPM_BOUND_KEY_UNPROVEN",
            )
        return None

    certified = verify_certify(
        ak,
        certify_info,
        fields.require_bytes(payload, "certify_signature", max_bytes=_SMALL),
        fields.require_bytes(payload, "certified_public", max_bytes=_SMALL),
        context.nonce,
    )
    # A key made outside the TPM and imported, or one that may be duplicated
    # out, is certified just the same: only a fixed, TPM-generated key binds.
    if not certified.has_attributes(FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN):
        raise ClaimMismatch(
            "the certified key was not generated in and bound to the TPM",
            reason="TPM_BOUND_KEY_NOT_FIXED",
        )
    key = certified.public_key
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name != "secp256r1":
        raise EvidenceMalformed(
            "a certified EC key must be P-256", reason="TPM_BOUND_KEY_UNSUPPORTED"
        )
    spki = certified.spki()
    if named is not None and not hmac.compare_digest(named, spki):
        raise ClaimMismatch(
            "'bound_key_pem' is not the certified key", reason="TPM_BOUND_KEY_MISMATCH"
        )
    return spki


def _event_log_claims(
    payload: Mapping[str, Any], bank: int, pcrs: Mapping[int, bytes]
) -> dict[str, Any]:
    raw = fields.optional_bytes(payload, "event_log", max_bytes=fields.MAX_FIELD_BYTES)
    if raw is None:
        return {}
    log = parse_event_log(raw)
    check_replay(log, bank, pcrs)
    return {"event_log": boot_facts(log, bank)}


def verify_tpm_quote(
    payload: Mapping[str, Any], context: VerificationContext, trust: TPMTrust
) -> VerifiedEvidence:
    """AK attributes, quote (magic, type, nonce, signature, PCR digest), who
    vouches for the AK (AK certificate, or EK for credential activation), the
    TPM2_Certify key binding, and the event log replay, in that order."""
    ak = _read_ak(payload)
    given = _read_pcrs(payload)
    quote = fields.require_bytes(payload, "quote", max_bytes=_SMALL)
    signature = fields.require_bytes(payload, "signature", max_bytes=_SMALL)
    attest = verify_quote(ak, quote, signature, given, context.nonce)

    bank = _quoted_bank(attest, payload)
    assert attest.quote is not None  # verify_quote accepted only quotes
    quoted = {i: given[i] for s in attest.quote.pcr_selections for i in s.indices}
    vouch = _vouch(payload, ak, trust, context)
    bound_spki = _bound_key(payload, ak, context)

    claims: dict[str, Any] = {
        **quote_claims(attest, quoted, bank),
        **vouch,
        "ak_fingerprint": fingerprint_of(ak.spki()),
        "ak_name": ak.name().hex(),
        **_event_log_claims(payload, bank, quoted),
    }
    return VerifiedEvidence(
        fingerprint=claims.get("ek_fingerprint", claims["ak_fingerprint"]),
        claims=claims,
        bound_key_spki=bound_spki,
        evidence_digest=digest_payload(quote + signature),
        appraisal_hints=_hints(claims),
    )


def _hints(claims: Mapping[str, Any]) -> dict[str, Any]:
    # The verifier cannot know the nonce went out wrapped by make_credential for
    # this EK and AK name: the service must confirm it before trusting the EK.
    if claims["vouched_by"] != "credential_activation":
        return {}
    return {
        "requires_credential_activation": {
            "ek_fingerprint": claims["ek_fingerprint"],
            "ak_name": claims["ak_name"],
        }
    }
