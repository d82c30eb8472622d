"""TCB status: where the platform, the QE and the TDX module sit in Intel's levels.

Follows Intel's Quote Verification Library: the platform level is the first
`tcbLevels` entry (Intel lists them highest first) whose 16 SGX components and
PCESVN are at or below the PCK certificate's and whose 16 TDX components are at or
below TEE_TCB_SVN (components 0 and 1 are skipped when TEE_TCB_SVN[1], the TDX
module major version, is set: the module identity grades those). The QE and the
TDX module get their own level by ISVSVN; an OutOfDate QE or module lowers the
platform's verdict. A TCB matching no level is reported as `NoMatchingLevel`,
which appraisal fails: the evidence itself verified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aura_grpc.attestation.intel_tdx.extensions import PCKInfo
from aura_grpc.attestation.intel_tdx.quote import QEReport, TDReportBody
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

NO_MATCH = "NoMatchingLevel"
_CONFIG_NEEDED = ("ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded")


@dataclass(frozen=True)
class TCBVerdict:
    status: str
    advisory_ids: tuple[str, ...]


def _svns(components: object, what: str) -> list[int]:
    if not isinstance(components, list) or len(components) != 16:
        raise EvidenceMalformed(f"TCB Info {what} must list 16 components")
    return [
        _int(item.get("svn") if isinstance(item, dict) else None, what)
        for item in components
    ]


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvidenceMalformed(f"TCB Info {what} holds a non-integer SVN")
    return value


def _levels(document: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
    levels = document.get("tcbLevels")
    if not isinstance(levels, list) or not all(isinstance(lv, dict) for lv in levels):
        raise EvidenceMalformed(f"{what} tcbLevels must be a list of objects")
    return levels


def _verdict(level: Mapping[str, Any]) -> TCBVerdict:
    status = level.get("tcbStatus")
    advisories = level.get("advisoryIDs", [])
    if not isinstance(status, str) or not isinstance(advisories, list):
        raise EvidenceMalformed("a TCB level has no tcbStatus or bad advisoryIDs")
    return TCBVerdict(status, tuple(str(a) for a in advisories))


def check_tcb_info_subject(document: Mapping[str, Any], pck: PCKInfo) -> None:
    """The TCB Info must be for TDX and for this platform's FMSPC and PCE."""
    fmspc = str(document.get("fmspc", "")).lower()
    pce_id = str(document.get("pceId", "")).lower()
    if document.get("id") != "TDX" or document.get("version") != 3:
        raise EvidenceMalformed("TCB Info is not a version 3 TDX TCB Info")
    if fmspc != pck.fmspc.hex() or pce_id != pck.pce_id.hex():
        raise ClaimMismatch(
            "TCB Info is for another platform (FMSPC or PCE-ID differ)",
            reason="TDX_COLLATERAL_FMSPC_MISMATCH",
        )


def match_platform(
    document: Mapping[str, Any], pck: PCKInfo, tee_tcb_svn: bytes
) -> TCBVerdict:
    """The first TCB level the platform meets, or NoMatchingLevel."""
    skip = 2 if tee_tcb_svn[1] > 0 else 0
    for level in _levels(document, "TCB Info"):
        tcb = level.get("tcb")
        if not isinstance(tcb, dict):
            raise EvidenceMalformed("a TCB Info level has no tcb object")
        sgx = _svns(tcb.get("sgxtcbcomponents"), "sgxtcbcomponents")
        tdx = _svns(tcb.get("tdxtcbcomponents"), "tdxtcbcomponents")
        pce_svn = _int(tcb.get("pcesvn"), "pcesvn")

        if (
            all(a <= b for a, b in zip(sgx, pck.cpu_svn_components, strict=True))
            and pce_svn <= pck.pce_svn
            and all(tdx[i] <= tee_tcb_svn[i] for i in range(skip, 16))
        ):
            return _verdict(level)
    return TCBVerdict(NO_MATCH, ())


def match_module(document: Mapping[str, Any], body: TDReportBody) -> TCBVerdict | None:
    """The TDX module's own level, when TEE_TCB_SVN names a module major version."""
    major, minor_svn = body.tee_tcb_svn[1], body.tee_tcb_svn[0]
    identities = document.get("tdxModuleIdentities")
    if major == 0 or identities is None:
        _check_module_signer(document.get("tdxModule"), body)
        return None
    if not isinstance(identities, list):
        raise EvidenceMalformed("TCB Info tdxModuleIdentities must be a list")

    wanted = f"TDX_{major:02X}"
    identity = next(
        (i for i in identities if isinstance(i, dict) and i.get("id") == wanted), None
    )
    if identity is None:
        return TCBVerdict(NO_MATCH, ())
    _check_module_signer(identity, body)
    return _first_by_isvsvn(_levels(identity, "TDX module"), minor_svn)


def _check_module_signer(identity: object, body: TDReportBody) -> None:
    """MRSIGNERSEAM and SEAM attributes must be those Intel lists for the module."""
    if not isinstance(identity, dict):
        raise EvidenceMalformed("TCB Info has no tdxModule identity")
    signer = _hex_field(identity, "mrsigner")
    attributes = _hex_field(identity, "attributes")
    mask = _hex_field(identity, "attributesMask")
    seam_attributes = _masked(body.seam_attributes, mask)
    if signer != body.mr_signer_seam or seam_attributes != _masked(attributes, mask):
        raise ClaimMismatch(
            "the TDX module is not one Intel's TCB Info lists",
            reason="TDX_MODULE_IDENTITY_MISMATCH",
        )


def _hex_field(obj: Mapping[str, Any], name: str) -> bytes:
    try:
        return bytes.fromhex(str(obj[name]))
    except (KeyError, ValueError) as exc:
        raise EvidenceMalformed(f"collateral field '{name}' is not hex") from exc


def _masked(value: bytes, mask: bytes) -> bytes:
    if len(value) != len(mask):
        raise EvidenceMalformed("collateral mask length does not match its value")
    return bytes(v & m for v, m in zip(value, mask, strict=True))


def _first_by_isvsvn(levels: Sequence[Mapping[str, Any]], isv_svn: int) -> TCBVerdict:
    for level in levels:
        tcb = level.get("tcb")
        level_svn = tcb.get("isvsvn") if isinstance(tcb, dict) else None
        if _int(level_svn, "isvsvn") <= isv_svn:
            return _verdict(level)
    return TCBVerdict(NO_MATCH, ())


def match_qe(document: Mapping[str, Any], qe: QEReport) -> TCBVerdict:
    """Check the QE is Intel's TD QE, and grade it by its ISVSVN."""
    if document.get("id") != "TD_QE":
        raise EvidenceMalformed("QE Identity is not the TD_QE identity")
    misc_mask = int.from_bytes(_hex_field(document, "miscselectMask"), "big")
    misc = int.from_bytes(_hex_field(document, "miscselect"), "big")
    attr_mask = _hex_field(document, "attributesMask")

    if (
        _hex_field(document, "mrsigner") != qe.mr_signer
        or document.get("isvprodid") != qe.isv_prod_id
        or qe.miscselect & misc_mask != misc & misc_mask
        or _masked(qe.attributes, attr_mask)
        != _masked(_hex_field(document, "attributes"), attr_mask)
    ):
        raise ClaimMismatch(
            "the quoting enclave is not Intel's TD QE",
            reason="TDX_QE_IDENTITY_MISMATCH",
        )
    return _first_by_isvsvn(_levels(document, "QE Identity"), qe.isv_svn)


def converge(platform: TCBVerdict, *others: TCBVerdict | None) -> TCBVerdict:
    """Lower the platform verdict by an OutOfDate or Revoked QE or module."""
    status, advisories = platform.status, list(platform.advisory_ids)
    for other in others:
        if other is None or status == NO_MATCH:
            continue
        advisories += [a for a in other.advisory_ids if a not in advisories]
        if other.status == NO_MATCH or other.status == "Revoked":
            status = other.status
        elif other.status == "OutOfDate" and status != "Revoked":
            in_config = (
                status in _CONFIG_NEEDED or status == "OutOfDateConfigurationNeeded"
            )
            status = "OutOfDateConfigurationNeeded" if in_config else "OutOfDate"
    return TCBVerdict(status, tuple(advisories))
