"""Intel DCAP collateral: TCB Info, QE Identity and CRLs, checked for origin and age.

Collateral is the JSON object dcap-qvl calls `QuoteCollateralV3`:
`tcb_info` and `qe_identity` are the exact strings Intel signed (the inner
`tcbInfo` / `enclaveIdentity` objects), `*_signature` their raw ECDSA r || s in
hex, `*_issuer_chain` PEM chains (TCB Signing cert, Root CA), `pck_crl` and
`root_ca_crl` DER CRLs in hex, `pck_crl_issuer_chain` PEM. Each signed document
must verify under a chain to the pinned root, and the caller's clock must sit in
its issueDate..nextUpdate window so that old collateral (with an older, kinder
TCB verdict) cannot be replayed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.intel_tdx.pck import (
    parse_pem_chain,
    verify_chain_to_root,
    verify_ecdsa,
)
from aura_grpc.errors import ChainInvalid, EvidenceExpired, EvidenceMalformed

MAX_COLLATERAL_FIELD = 1 << 20
_REQUIRED = (
    "tcb_info",
    "tcb_info_signature",
    "tcb_info_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
    "qe_identity_issuer_chain",
)


@dataclass(frozen=True)
class SignedDocument:
    """One Intel-signed JSON document and what signs it."""

    raw: str
    signature: bytes
    chain: list[x509.Certificate]


@dataclass(frozen=True)
class Collateral:
    tcb_info: SignedDocument
    qe_identity: SignedDocument
    pck_crl: x509.CertificateRevocationList | None
    root_ca_crl: x509.CertificateRevocationList | None


def parse_collateral(obj: object) -> Collateral:
    """Read the collateral object; every missing or mis-encoded field is malformed."""
    if not isinstance(obj, Mapping):
        raise EvidenceMalformed("TDX collateral must be a JSON object")
    missing = [name for name in _REQUIRED if not isinstance(obj.get(name), str)]
    if missing:
        raise EvidenceMalformed(f"TDX collateral lacks {', '.join(missing)}")

    return Collateral(
        tcb_info=_signed(obj, "tcb_info"),
        qe_identity=_signed(obj, "qe_identity"),
        pck_crl=_optional_crl(obj, "pck_crl"),
        root_ca_crl=_optional_crl(obj, "root_ca_crl"),
    )


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str) or len(value) > MAX_COLLATERAL_FIELD:
        raise EvidenceMalformed(f"TDX collateral field '{name}' is not a string")
    return value


def _hex(obj: Mapping[str, Any], name: str) -> bytes:
    try:
        return bytes.fromhex(_text(obj, name))
    except ValueError as exc:
        raise EvidenceMalformed(f"TDX collateral field '{name}' is not hex") from exc


def _signed(obj: Mapping[str, Any], name: str) -> SignedDocument:
    chain_pem = _text(obj, f"{name}_issuer_chain").encode()
    return SignedDocument(
        raw=_text(obj, name),
        signature=_hex(obj, f"{name}_signature"),
        chain=parse_pem_chain(chain_pem, f"collateral {name}_issuer_chain"),
    )


def _optional_crl(
    obj: Mapping[str, Any], name: str
) -> x509.CertificateRevocationList | None:
    if obj.get(name) in (None, ""):
        return None
    try:
        return x509.load_der_x509_crl(_hex(obj, name))
    # A bad version field raises InvalidVersion (fuzzing found it).
    except (ValueError, x509.InvalidVersion) as exc:
        raise EvidenceMalformed(
            f"TDX collateral field '{name}' is not a DER CRL"
        ) from exc


def verify_document(
    doc: SignedDocument, root: x509.Certificate, now: datetime, what: str
) -> dict[str, Any]:
    """Check chain, signature and validity window; return the parsed JSON object.

    `what` names the document in reasons: TDX_TCB_INFO_..., TDX_QE_IDENTITY_...
    """
    verify_chain_to_root(doc.chain, root, now, f"TDX_{what}_SIGNING")
    key = doc.chain[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ChainInvalid("TCB signing key is not ECDSA", reason=f"TDX_{what}_SIGNING")
    verify_ecdsa(key, doc.signature, doc.raw.encode(), f"TDX_{what}_SIGNATURE_INVALID")

    document = _load_json(doc.raw, what)
    check_window(document, now)
    return document


def _load_json(raw: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise EvidenceMalformed(f"TDX collateral {what} is not JSON") from exc
    if not isinstance(document, dict):
        raise EvidenceMalformed(f"TDX collateral {what} is not a JSON object")
    return document


def parse_time(value: object, what: str) -> datetime:
    """An Intel timestamp ("2025-06-19T10:16:03Z") as an aware datetime."""
    if not isinstance(value, str):
        raise EvidenceMalformed(f"TDX collateral {what} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EvidenceMalformed(f"TDX collateral {what} is not a timestamp") from exc
    if parsed.tzinfo is None:
        raise EvidenceMalformed(f"TDX collateral {what} has no time zone")
    return parsed


def check_window(document: Mapping[str, Any], now: datetime) -> None:
    issued = parse_time(document.get("issueDate"), "issueDate")
    next_update = parse_time(document.get("nextUpdate"), "nextUpdate")
    if not issued <= now <= next_update:
        raise EvidenceExpired(
            "TDX collateral is outside its issueDate..nextUpdate window",
            reason="TDX_COLLATERAL_EXPIRED",
        )


def check_revocation(
    crl: x509.CertificateRevocationList | None,
    issuer: x509.Certificate,
    cert: x509.Certificate,
    now: datetime,
) -> None:
    """Refuse `cert` when the CRL of its issuer lists it; skip when no CRL."""
    if crl is None:
        return
    key = issuer.public_key()
    if crl.issuer != issuer.subject or not isinstance(key, ec.EllipticCurvePublicKey):
        raise ChainInvalid(
            "a CRL is not from the CA it must cover", reason="TDX_CRL_ISSUER"
        )
    if not crl.is_signature_valid(key):
        raise ChainInvalid(
            "a CRL signature does not verify", reason="TDX_CRL_SIGNATURE"
        )

    next_update = crl.next_update_utc
    if now < crl.last_update_utc or next_update is None or now > next_update:
        raise EvidenceExpired(
            "a CRL is outside its validity window", reason="TDX_CRL_EXPIRED"
        )
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise ChainInvalid(
            "the PCK certificate chain is revoked", reason="TDX_PCK_REVOKED"
        )
