"""Azure TDX confidential VMs: the paravisor (HCL) report, the TD quote, the vTPM.

On Azure the guest cannot choose REPORT_DATA: the paravisor puts the hash of its
runtime claims there (in the TDREPORT it had quoted), the runtime claims carry
the vTPM attestation key "HCLAkPub", and that key signs a vTPM quote whose
extraData is the server nonce. So the chain is Intel root -> PCK -> TD quote ->
REPORT_DATA = hash(runtime claims) = TDREPORT.REPORT_DATA -> HCLAkPub -> vTPM
quote -> nonce. The HCL layout, runtime claims and vTPM checks are the ones the
azure_snp verifier uses; only the hardware report differs (a 1024-byte TDREPORT
in the 1184-byte report area, report type 4).
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Mapping
from typing import Any

from aura_grpc.attestation.azure_snp import hcl, paravisor
from aura_grpc.attestation.intel_tdx.quote import TDXQuote
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

REPORT_TYPE_TDX = 4
# TDREPORT = REPORTMACSTRUCT (256 bytes: type 8, reserved 8, CPUSVN 16,
# TEE_TCB_INFO_HASH 48, TEE_INFO_HASH 48, REPORTDATA 64, ...) | TEE_TCB_INFO | TDINFO.
TDREPORT_REPORT_DATA = slice(hcl.HEADER_SIZE + 128, hcl.HEADER_SIZE + 192)


def parse_tdx_hcl_report(data: bytes) -> tuple[hcl.HCLReport, bytes]:
    """The HCL report (runtime claims, AK) and its TDREPORT's REPORT_DATA."""
    if len(data) < hcl.VAR_DATA_OFFSET or data[:4] != hcl.HCL_MAGIC:
        raise EvidenceMalformed(
            "hcl_report is not an Azure HCL report", reason="AZURE_HCL_MALFORMED"
        )
    version = struct.unpack_from("<I", data, 4)[0]
    _, _, report_type, hash_type, var_size = struct.unpack_from(
        "<5I", data, hcl.IGVM_OFFSET
    )
    hasher = hcl._HASHES.get(hash_type)  # private helper: see the TODO below
    if report_type != REPORT_TYPE_TDX or hasher is None or var_size > hcl.MAX_VAR_DATA:
        raise EvidenceMalformed(
            "HCL report is not a TDX report with known claims hashing",
            reason="AZURE_HCL_MALFORMED",
        )

    var_data = data[hcl.VAR_DATA_OFFSET : hcl.VAR_DATA_OFFSET + var_size]
    if len(var_data) != var_size:
        raise EvidenceMalformed(
            "HCL report is shorter than its runtime claims",
            reason="AZURE_HCL_MALFORMED",
        )
    # TODO: use public helpers once azure_snp.hcl exposes runtime-claims and AK
    # parsing (or parse_hcl_report accepts report type 4); can go then.
    claims = hcl._parse_runtime_claims(var_data)
    report = hcl.HCLReport(
        version=version,
        snp_report=data[hcl.HEADER_SIZE : hcl.IGVM_OFFSET],
        var_data=var_data,
        var_data_digest=hasher(var_data).digest(),
        runtime_claims=claims,
        ak_public_key=hcl._read_ak(claims),
    )
    return report, data[TDREPORT_REPORT_DATA]


def check_azure_binding(
    report: hcl.HCLReport, tdreport_data: bytes, quote: TDXQuote
) -> None:
    """TDREPORT.REPORT_DATA == quote REPORT_DATA == hash(runtime claims) || zeros."""
    if not hmac.compare_digest(tdreport_data, quote.body.report_data):
        raise ClaimMismatch(
            "the HCL report's TDREPORT is not the one the TD quote signs",
            reason="AZURE_TDREPORT_MISMATCH",
        )
    paravisor.check_runtime_claims_bound(report, quote.body.report_data)


def verify_vtpm(
    payload: Mapping[str, Any], report: hcl.HCLReport, nonce: bytes, spki: bytes | None
) -> dict[str, str]:
    """The vTPM quote, signed by HCLAkPub, over the server nonce; its PCRs as hex."""
    vtpm_quote = paravisor.read_vtpm_quote(payload)
    return paravisor.verify_vtpm_quote(
        report, vtpm_quote, paravisor.quote_nonce(nonce, spki)
    )


def azure_claims(report: hcl.HCLReport, pcrs: dict[str, str]) -> dict[str, Any]:
    return {"azure": hcl.azure_claims(report), "pcrs": pcrs}
