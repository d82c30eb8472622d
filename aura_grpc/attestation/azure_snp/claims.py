"""Posture claims and the device fingerprint of a verified SNP report."""

from __future__ import annotations

import hashlib
from typing import Any

from aura_grpc.attestation.azure_snp.report import (
    SNPReport,
    decode_platform_info,
    decode_policy,
    decode_tcb,
)
from aura_grpc.attestation.azure_snp.vcek import EndorsementKey

_GUEST_DOMAIN = b"aura/sev-snp/guest-without-chip-id\0"


def report_claims(
    report: SNPReport, key: EndorsementKey, product: str
) -> dict[str, Any]:
    """Everything a policy may appraise, as JSON-ready values."""
    return {
        "report_version": report.version,
        "product": product,
        "signing_key": key.kind,
        "measurement": report.measurement.hex(),
        "host_data": report.host_data.hex(),
        "report_data": report.report_data.hex(),
        "id_key_digest": report.id_key_digest.hex(),
        "author_key_digest": report.author_key_digest.hex(),
        "family_id": report.family_id.hex(),
        "image_id": report.image_id.hex(),
        "guest_svn": report.guest_svn,
        "policy": decode_policy(report.policy),
        "debug": report.debug,
        "vmpl": report.vmpl,
        "platform_info": decode_platform_info(report.platform_info),
        "current_tcb": decode_tcb(report.current_tcb, product),
        "reported_tcb": decode_tcb(report.reported_tcb, product),
        "committed_tcb": decode_tcb(report.committed_tcb, product),
        "launch_tcb": decode_tcb(report.launch_tcb, product),
        "chip_id": report.chip_id.hex(),
    }


def fingerprint(report: SNPReport) -> str:
    """A stable identifier for the hardware that produced `report`.

    A VCEK-signed report carries the chip ID, unique per AMD processor and
    fixed for its lifetime: the fingerprint is SHA-256 of it. A VLEK-signed
    report, or one whose guest set MASK_CHIP_ID, carries an all-zero chip ID,
    and nothing else in it names the hardware: the VLEK is shared by a cloud
    provider's fleet and REPORT_ID is drawn afresh at every launch. For those
    the fingerprint is SHA-256 over a domain label, the launch MEASUREMENT,
    HOST_DATA and ID_KEY_DIGEST: it identifies the guest image as launched for
    its owner, so it stays stable across reboots and migrations but is shared
    by every VM launched from the same image with the same host data.
    """
    if any(report.chip_id):
        return hashlib.sha256(report.chip_id).hexdigest()

    material = report.measurement + report.host_data + report.id_key_digest
    return hashlib.sha256(_GUEST_DOMAIN + material).hexdigest()
