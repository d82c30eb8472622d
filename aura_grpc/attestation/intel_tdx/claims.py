"""The posture a verified TDX quote yields, and what its REPORT_DATA must hold."""

from __future__ import annotations

from aura_grpc.attestation.base import JSONObject
from aura_grpc.attestation.intel_tdx.extensions import PCKInfo
from aura_grpc.attestation.intel_tdx.quote import TDXQuote
from aura_grpc.attestation.intel_tdx.tcb import TCBVerdict
from aura_grpc.attestation.payload import report_data_for

REPORT_DATA_LEN = 64
# TDATTRIBUTES bits (Intel TDX module ABI): TUD.DEBUG, SEPT_VE_DISABLE, PKS, KL,
# PERFMON.
_ATTRIBUTE_BITS = {
    "debug": 0,
    "sept_ve_disable": 28,
    "pks": 30,
    "key_locker": 31,
    "perfmon": 63,
}


def expected_report_data(nonce: bytes, spki: bytes | None) -> bytes:
    """The shared rule (payload.report_data_for), plus one case of our own.

    A nonce of exactly 64 bytes fills REPORT_DATA by itself: recorded quotes (and
    agents that already hashed their binding) carry it verbatim.
    """
    if spki is None and len(nonce) == REPORT_DATA_LEN:
        return nonce
    return report_data_for(nonce, spki)


def decode_td_attributes(raw: bytes) -> dict[str, bool]:
    value = int.from_bytes(raw, "little")
    return {name: bool(value >> bit & 1) for name, bit in _ATTRIBUTE_BITS.items()}


def claims_of(quote: TDXQuote, pck: PCKInfo, verdict: TCBVerdict) -> JSONObject:
    body = quote.body
    claims: JSONObject = {
        "quote_version": quote.header.version,
        "mrtd": body.mr_td.hex(),
        **{f"rtmr{i}": rtmr.hex() for i, rtmr in enumerate(body.rtmrs)},
        "mr_config_id": body.mr_config_id.hex(),
        "mr_owner": body.mr_owner.hex(),
        "mr_owner_config": body.mr_owner_config.hex(),
        "mr_seam": body.mr_seam.hex(),
        "mr_signer_seam": body.mr_signer_seam.hex(),
        "td_attributes": {"hex": body.td_attributes.hex()}
        | decode_td_attributes(body.td_attributes),
        "xfam": body.xfam.hex(),
        "tee_tcb_svn": body.tee_tcb_svn.hex(),
        "report_data": body.report_data.hex(),
        "tcb_status": verdict.status,
        "advisory_ids": list(verdict.advisory_ids),
        "fmspc": pck.fmspc.hex(),
        "pce_svn": pck.pce_svn,
        "qe_svn": quote.qe_report.isv_svn,
    }
    if body.tee_tcb_svn2 is not None:
        claims["tee_tcb_svn2"] = body.tee_tcb_svn2.hex()
    if body.mr_servicetd is not None:
        claims["mr_servicetd"] = body.mr_servicetd.hex()
    return claims
