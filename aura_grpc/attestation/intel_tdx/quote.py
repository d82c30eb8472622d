"""Parsing Intel DCAP TDX quotes, versions 4 and 5, into typed pieces.

Layout (little-endian, from Intel's TDX DCAP Quoting Library API, appendix A.3):
a 48-byte header; for v5 a body type (u16) and body size (u32); the TD report body
(584 bytes for TDX 1.0, 648 for TDX 1.5); the signature data length (u32); then
the ECDSA signature data: quote signature, attestation key, and certification data
of type 6 (the QE report, its signature, QE auth data, and nested type 5 data: the
PEM PCK certificate chain). Every short or inconsistent read is EvidenceMalformed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aura_grpc.errors import EvidenceMalformed

HEADER_LEN = 48
TDX10_BODY_LEN = 584
TDX15_BODY_LEN = 648
QE_REPORT_LEN = 384
TEE_TYPE_TDX = 0x81
ATT_KEY_ECDSA_P256 = 2
CERT_DATA_PCK_CHAIN = 5
CERT_DATA_QE_REPORT = 6
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")

# v5 body types: 2 is a TDX 1.0 report body, 3 a TDX 1.5 one (1 would be SGX).
_V5_BODY_LENGTHS = {2: TDX10_BODY_LEN, 3: TDX15_BODY_LEN}


@dataclass(frozen=True)
class QuoteHeader:
    version: int
    att_key_type: int
    tee_type: int
    qe_vendor_id: bytes


@dataclass(frozen=True)
class TDReportBody:
    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes
    tee_tcb_svn2: bytes | None = None
    mr_servicetd: bytes | None = None


@dataclass(frozen=True)
class QEReport:
    """The SGX enclave report of the Quoting Enclave (the fields we check)."""

    raw: bytes
    cpu_svn: bytes
    miscselect: int
    attributes: bytes
    mr_enclave: bytes
    mr_signer: bytes
    isv_prod_id: int
    isv_svn: int
    report_data: bytes


@dataclass(frozen=True)
class TDXQuote:
    header: QuoteHeader
    body: TDReportBody
    signed_bytes: bytes
    signature: bytes
    attestation_key: bytes
    qe_report: QEReport
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain_pem: bytes


class _Reader:
    """A bounds-checked cursor over the quote bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise EvidenceMalformed(f"TDX quote is truncated in {what}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])


def parse_quote(data: bytes) -> TDXQuote:
    """Split a v4 or v5 TDX quote into header, body and signature data."""
    reader = _Reader(data)
    header = _parse_header(reader.take(HEADER_LEN, "header"))

    body_len = TDX10_BODY_LEN
    if header.version == 5:
        body_type = reader.u16("body type")
        body_len = reader.u32("body size")
        if _V5_BODY_LENGTHS.get(body_type) != body_len:
            raise EvidenceMalformed("TDX v5 quote has an unknown body type or size")
    body = parse_td_report_body(reader.take(body_len, "TD report body"))
    signed_bytes = data[: reader.pos]

    sig_len = reader.u32("signature data length")
    # Quote buffers from the QGS are often padded: bytes past the signature data
    # are neither signed nor read.
    sig_reader = _Reader(reader.take(sig_len, "signature data"))
    return _parse_signature_data(sig_reader, header, body, signed_bytes)


def _parse_header(raw: bytes) -> QuoteHeader:
    version, key_type, tee_type = struct.unpack_from("<HHI", raw, 0)
    header = QuoteHeader(version, key_type, tee_type, raw[12:28])
    if version not in (4, 5):
        raise EvidenceMalformed(f"TDX quote version {version} is not supported")
    if tee_type != TEE_TYPE_TDX:
        raise EvidenceMalformed("quote is not a TDX quote (TEE type is not 0x81)")
    if key_type != ATT_KEY_ECDSA_P256:
        raise EvidenceMalformed("TDX quote attestation key is not ECDSA P-256")
    return header


def parse_td_report_body(raw: bytes) -> TDReportBody:
    """A TDX 1.0 (584-byte) or TDX 1.5 (648-byte) TD report body."""
    if len(raw) not in (TDX10_BODY_LEN, TDX15_BODY_LEN):
        raise EvidenceMalformed("TD report body has an unexpected length")
    reader = _Reader(raw)
    svn, seam, signer, seam_attr, td_attr, xfam = (
        reader.take(n, "TD report body") for n in (16, 48, 48, 8, 8, 8)
    )
    mr_td, config_id, owner, owner_config, *rtmrs = (
        reader.take(48, "TD report body") for _ in range(8)
    )
    report_data = reader.take(64, "TD report body")

    tdx15 = len(raw) == TDX15_BODY_LEN
    return TDReportBody(
        tee_tcb_svn=svn,
        mr_seam=seam,
        mr_signer_seam=signer,
        seam_attributes=seam_attr,
        td_attributes=td_attr,
        xfam=xfam,
        mr_td=mr_td,
        mr_config_id=config_id,
        mr_owner=owner,
        mr_owner_config=owner_config,
        rtmrs=(rtmrs[0], rtmrs[1], rtmrs[2], rtmrs[3]),
        report_data=report_data,
        tee_tcb_svn2=reader.take(16, "TEE_TCB_SVN2") if tdx15 else None,
        mr_servicetd=reader.take(48, "MRSERVICETD") if tdx15 else None,
    )


def parse_qe_report(raw: bytes) -> QEReport:
    """The 384-byte SGX report body of the Quoting Enclave."""
    if len(raw) != QE_REPORT_LEN:
        raise EvidenceMalformed("QE report has an unexpected length")
    (miscselect,) = struct.unpack_from("<I", raw, 16)
    isv_prod_id, isv_svn = struct.unpack_from("<HH", raw, 256)
    return QEReport(
        raw=raw,
        cpu_svn=raw[0:16],
        miscselect=miscselect,
        attributes=raw[48:64],
        mr_enclave=raw[64:96],
        mr_signer=raw[128:160],
        isv_prod_id=isv_prod_id,
        isv_svn=isv_svn,
        report_data=raw[320:384],
    )


def _parse_signature_data(
    reader: _Reader, header: QuoteHeader, body: TDReportBody, signed: bytes
) -> TDXQuote:
    signature = reader.take(64, "quote signature")
    attestation_key = reader.take(64, "attestation key")

    outer_type = reader.u16("certification data type")
    outer = _Reader(reader.take(reader.u32("certification data size"), "cert data"))
    if outer_type != CERT_DATA_QE_REPORT:
        raise EvidenceMalformed("TDX quote certification data is not a QE report (6)")

    qe_report = parse_qe_report(outer.take(QE_REPORT_LEN, "QE report"))
    qe_report_signature = outer.take(64, "QE report signature")
    qe_auth_data = outer.take(outer.u16("QE auth data size"), "QE auth data")
    inner_type = outer.u16("PCK certification data type")
    pck_chain = outer.take(outer.u32("PCK certification data size"), "PCK chain")
    if inner_type != CERT_DATA_PCK_CHAIN:
        raise EvidenceMalformed("TDX quote does not carry a PCK certificate chain (5)")

    return TDXQuote(
        header=header,
        body=body,
        signed_bytes=signed,
        signature=signature,
        attestation_key=attestation_key,
        qe_report=qe_report,
        qe_report_signature=qe_report_signature,
        qe_auth_data=qe_auth_data,
        pck_chain_pem=pck_chain,
    )
