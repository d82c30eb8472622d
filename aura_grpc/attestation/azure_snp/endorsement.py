"""Checking that a VCEK or VLEK endorses an SNP report.

The checks run cheapest and most telling first: the product and signing key the
report names must match the certificate, the chip ID and reported TCB must be
the ones the VCEK was derived for (a wrong VCEK is the common real-world
mistake, and says more than "signature invalid"), then the signature itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aura_grpc.attestation.azure_snp.report import (
    ECDSA_P384_SHA384,
    SIGNING_KEY_NONE,
    SIGNING_KEY_VCEK,
    SIGNING_KEY_VLEK,
    TURIN,
    SNPReport,
    decode_tcb,
    product_from_cpuid,
)
from aura_grpc.attestation.azure_snp.vcek import (
    AMDChain,
    EndorsementKey,
    verify_chain,
)
from aura_grpc.errors import ChainInvalid, ClaimMismatch, SignatureInvalid

_KEY_KINDS = {SIGNING_KEY_VCEK: "vcek", SIGNING_KEY_VLEK: "vlek"}
_TURIN_HWID_SIZE = 8


def verify_endorsed_report(
    report: SNPReport,
    key: EndorsementKey,
    chains: Mapping[tuple[str, str], AMDChain],
    now: datetime,
) -> str:
    """Run every check tying `report` to AMD; return the product it ran on."""
    product = _check_product(report, key)
    _check_signing_key(report, key)
    verify_chain(key, chains, now)

    if key.kind == "vcek":
        _check_chip_id(report, key)
        _check_tcb(report, key)
    _verify_signature(report, key.public_key)
    return product


def _check_product(report: SNPReport, key: EndorsementKey) -> str:
    named = product_from_cpuid(report)
    if named is not None and named != key.product:
        raise ChainInvalid(
            f"the report comes from {named} but its certificate is for {key.product}",
            reason="SNP_PRODUCT_MISMATCH",
        )
    return key.product


def _check_signing_key(report: SNPReport, key: EndorsementKey) -> None:
    if report.signing_key == SIGNING_KEY_NONE:
        raise SignatureInvalid(
            "the SNP report is unsigned", reason="SNP_REPORT_UNSIGNED"
        )
    if _KEY_KINDS.get(report.signing_key) != key.kind:
        raise ChainInvalid(
            f"the report was not signed by a {key.kind.upper()}",
            reason="SNP_SIGNING_KEY_MISMATCH",
        )


def _check_chip_id(report: SNPReport, key: EndorsementKey) -> None:
    # Turin VCEKs carry only the first 8 bytes of the chip ID as hwID.
    size = _TURIN_HWID_SIZE if key.product == TURIN else len(report.chip_id)
    hwid = key.hwid or b""
    if len(hwid) != size or not hmac.compare_digest(hwid, report.chip_id[:size]):
        raise ClaimMismatch(
            "the report's chip ID is not the VCEK's hwID",
            reason="SNP_CHIP_ID_MISMATCH",
        )


def _check_tcb(report: SNPReport, key: EndorsementKey) -> None:
    reported = decode_tcb(report.reported_tcb, key.product)
    differing = sorted(
        name for name, level in reported.items() if key.tcb.get(name) != level
    )
    if differing:
        raise ClaimMismatch(
            f"reported TCB differs from the VCEK's in: {', '.join(differing)}",
            reason="SNP_TCB_MISMATCH",
        )


def _verify_signature(report: SNPReport, public_key: ec.EllipticCurvePublicKey) -> None:
    if report.signature_algo != ECDSA_P384_SHA384:
        raise SignatureInvalid(
            f"unsupported SNP signature algorithm {report.signature_algo}",
            reason="SNP_SIGNATURE_ALGORITHM",
        )

    signature = encode_dss_signature(report.signature_r, report.signature_s)
    try:
        public_key.verify(signature, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise SignatureInvalid(
            "the SNP report signature does not verify with the VCEK",
            reason="SNP_SIGNATURE_INVALID",
        ) from None
