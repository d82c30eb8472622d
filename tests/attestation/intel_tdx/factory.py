"""Fresh TDX evidence signed by a test Intel PKI made with `cryptography`.

Real quotes cannot be re-signed, so the checks that need a changed input
(revocation, key binding, debug TDs, OutOfDate levels) run on evidence built here:
a test root, a PCK platform CA, a PCK leaf with SGX extensions, a TCB signing
cert, CRLs, TCB Info and QE Identity, and a v4 quote in Intel's layout.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from pyasn1.codec.der import encoder
from pyasn1.type import univ

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SGX = "1.2.840.113741.1.13.1"
FMSPC = bytes.fromhex("00906ed50000")
QE_MRSIGNER = bytes(range(32))
PLATFORM_SVNS = (3, 3, 2, 2, 4, 1, 0, 5) + (0,) * 8
TEE_TCB_SVN = bytes([6, 0, 3]) + bytes(13)


@dataclass(frozen=True)
class Options:
    """What to put in the evidence; defaults verify as UpToDate."""

    report_data: bytes = b"\x11" * 32 + bytes(32)
    td_attributes: int = 0
    pck_svns: tuple[int, ...] = PLATFORM_SVNS
    pce_svn: int = 11
    revoke_leaf: bool = False
    issue_date: datetime = NOW - timedelta(days=1)
    next_update: datetime = NOW + timedelta(days=29)
    mrtd: bytes = b"\xaa" * 48


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    extensions: list[x509.ExtensionType] = (),  # type: ignore[assignment]
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(
            x509.BasicConstraints(
                ca=issuer is None or not extensions, path_length=None
            ),
            critical=True,
        )
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pair(oid: str, value: Any) -> univ.Sequence:
    pair = univ.Sequence()
    pair.setComponentByPosition(0, univ.ObjectIdentifier(oid))
    pair.setComponentByPosition(1, value)
    return pair


def _sequence(items: list[univ.Sequence]) -> univ.Sequence:
    seq = univ.Sequence()
    for index, item in enumerate(items):
        seq.setComponentByPosition(index, item)
    return seq


def sgx_extension(ppid: bytes, svns: tuple[int, ...], pce_svn: int) -> bytes:
    tcb = [_pair(f"{SGX}.2.{n + 1}", univ.Integer(svn)) for n, svn in enumerate(svns)]
    tcb.append(_pair(f"{SGX}.2.17", univ.Integer(pce_svn)))
    tcb.append(_pair(f"{SGX}.2.18", univ.OctetString(bytes(svns))))
    entries = [
        _pair(f"{SGX}.1", univ.OctetString(ppid)),
        _pair(f"{SGX}.2", _sequence(tcb)),
        _pair(f"{SGX}.3", univ.OctetString(b"\0\0")),
        _pair(f"{SGX}.4", univ.OctetString(FMSPC)),
        _pair(f"{SGX}.5", univ.Enumerated(0)),
    ]
    return bytes(encoder.encode(_sequence(entries)))


def raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def _crl(
    issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, serials: list[int]
) -> bytes:
    revoked = [
        x509.RevokedCertificateBuilder()
        .serial_number(serial)
        .revocation_date(NOW - timedelta(days=2))
        .build()
        for serial in serials
    ]
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(NOW - timedelta(days=1))
        .next_update(NOW + timedelta(days=30))
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class FakeIntelPKI:
    """Keys and certificates standing in for Intel's."""

    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ca_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    tcb_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        self.root = _cert("Test SGX Root CA", self.root_key, None, self.root_key)
        self.ca = _cert(
            "Test SGX PCK Platform CA", self.ca_key, self.root, self.root_key
        )
        self.tcb = _cert("Test SGX TCB Signing", self.tcb_key, self.root, self.root_key)


def _header() -> bytes:
    vendor = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
    return struct.pack("<HHIHH", 4, 2, 0x81, 0, 11) + vendor + bytes(20)


def _body(opts: Options) -> bytes:
    parts = [TEE_TCB_SVN, bytes(48), bytes(48), bytes(8)]
    parts += [struct.pack("<Q", opts.td_attributes), struct.pack("<Q", 0xE7)]
    parts += [opts.mrtd] + [bytes(48)] * 3 + [bytes([i]) * 48 for i in range(4)]
    parts.append(opts.report_data)
    body = b"".join(parts)
    assert len(body) == 584
    return body


def _qe_report(binding: bytes) -> bytes:
    report = bytearray(384)
    report[48:64] = bytes.fromhex("11000000000000000000000000000000")
    report[128:160] = QE_MRSIGNER
    struct.pack_into("<HH", report, 256, 2, 4)
    report[320:352] = binding
    return bytes(report)


def build_quote(
    pki: FakeIntelPKI,
    leaf_key: ec.EllipticCurvePrivateKey,
    leaf: x509.Certificate,
    opts: Options,
) -> bytes:
    att_key = ec.generate_private_key(ec.SECP256R1())
    att_raw = att_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )[1:]
    qe_auth = bytes(range(32))
    qe_report = _qe_report(hashlib.sha256(att_raw + qe_auth).digest())

    signed = _header() + _body(opts)
    chain = _pem(leaf, pki.ca, pki.root).encode() + b"\0"
    inner = struct.pack("<HI", 5, len(chain)) + chain
    cert_data = qe_report + raw_signature(leaf_key, qe_report)
    cert_data += struct.pack("<H", len(qe_auth)) + qe_auth + inner
    sig_data = raw_signature(att_key, signed) + att_raw
    sig_data += struct.pack("<HI", 6, len(cert_data)) + cert_data
    return signed + struct.pack("<I", len(sig_data)) + sig_data


def _level(
    svns: tuple[int, ...], pce_svn: int, status: str, advisories: list[str]
) -> dict[str, Any]:
    level: dict[str, Any] = {
        "tcb": {
            "sgxtcbcomponents": [{"svn": s} for s in svns],
            "pcesvn": pce_svn,
            "tdxtcbcomponents": [{"svn": s} for s in TEE_TCB_SVN],
        },
        "tcbDate": "2024-03-13T00:00:00Z",
        "tcbStatus": status,
    }
    if advisories:
        level["advisoryIDs"] = advisories
    return level


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def tcb_info(opts: Options) -> str:
    older = tuple(max(s - 1, 0) for s in PLATFORM_SVNS)
    document = {
        "id": "TDX",
        "version": 3,
        "issueDate": _stamp(opts.issue_date),
        "nextUpdate": _stamp(opts.next_update),
        "fmspc": FMSPC.hex().upper(),
        "pceId": "0000",
        "tcbType": 0,
        "tcbEvaluationDataNumber": 17,
        "tdxModule": {
            "mrsigner": "00" * 48,
            "attributes": "00" * 8,
            "attributesMask": "FF" * 8,
        },
        "tcbLevels": [
            _level(PLATFORM_SVNS, 11, "UpToDate", []),
            _level(older, 5, "OutOfDate", ["INTEL-SA-00001"]),
        ],
    }
    return json.dumps(document, separators=(",", ":"))


def qe_identity(opts: Options) -> str:
    document = {
        "id": "TD_QE",
        "version": 2,
        "issueDate": _stamp(opts.issue_date),
        "nextUpdate": _stamp(opts.next_update),
        "tcbEvaluationDataNumber": 17,
        "miscselect": "00000000",
        "miscselectMask": "FFFFFFFF",
        "attributes": "11000000000000000000000000000000",
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": QE_MRSIGNER.hex().upper(),
        "isvprodid": 2,
        "tcbLevels": [
            {
                "tcb": {"isvsvn": 4},
                "tcbDate": "2024-03-13T00:00:00Z",
                "tcbStatus": "UpToDate",
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"))


def make_evidence(
    pki: FakeIntelPKI, opts: Options = Options()
) -> tuple[bytes, dict[str, str]]:
    """A quote and its collateral (QuoteCollateralV3 layout)."""
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    extension = x509.UnrecognizedExtension(
        x509.ObjectIdentifier(SGX),
        sgx_extension(b"\x42" * 16, opts.pck_svns, opts.pce_svn),
    )
    leaf = _cert("Test SGX PCK Certificate", leaf_key, pki.ca, pki.ca_key, [extension])
    quote = build_quote(pki, leaf_key, leaf, opts)

    info, identity = tcb_info(opts), qe_identity(opts)
    collateral = {
        "pck_crl_issuer_chain": _pem(pki.ca, pki.root),
        "root_ca_crl": _crl(pki.root, pki.root_key, []).hex(),
        "pck_crl": _crl(
            pki.ca, pki.ca_key, [leaf.serial_number] if opts.revoke_leaf else []
        ).hex(),
        "tcb_info_issuer_chain": _pem(pki.tcb, pki.root),
        "tcb_info": info,
        "tcb_info_signature": raw_signature(pki.tcb_key, info.encode()).hex(),
        "qe_identity_issuer_chain": _pem(pki.tcb, pki.root),
        "qe_identity": identity,
        "qe_identity_signature": raw_signature(pki.tcb_key, identity.encode()).hex(),
    }
    return quote, collateral


__all__ = [
    "NOW",
    "FakeIntelPKI",
    "Options",
    "make_evidence",
    "raw_signature",
    "replace",
]
