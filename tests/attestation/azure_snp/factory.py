"""Fresh SEV-SNP evidence signed by test roots: an ARK, an ASK and a VCEK/VLEK
built with `cryptography` the way AMD's key distribution service shapes them."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from aura_grpc.attestation.azure_snp.vcek import AMDChain

NOW = datetime(2026, 6, 1, tzinfo=UTC)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_ARC = "1.3.6.1.4.1.3704.1"
_SPL_ARCS = {"bootloader": 1, "tee": 2, "snp": 3, "microcode": 8, "fmc": 9}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(
    subject: str,
    issuer: str,
    public_key: object,
    signer: rsa.RSAPrivateKey,
    *extra: x509.UnrecognizedExtension,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)  # type: ignore[arg-type]  # RSA or EC public key
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer, hashes.SHA384(), rsa_padding=_PSS)


def _der_int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


@dataclass
class FakeAMD:
    """A test ARK and intermediate for one product and key kind, and a VCEK/VLEK."""

    product: str
    kind: str
    chain: AMDChain
    key_cert: x509.Certificate
    signing_key: ec.EllipticCurvePrivateKey


def make_amd(product: str, kind: str, chip_id: bytes, tcb: dict[str, int]) -> FakeAMD:
    ark_key = rsa.generate_private_key(65537, 2048)
    ask_key = rsa.generate_private_key(65537, 2048)
    ark = _cert(f"ARK-{product}", f"ARK-{product}", ark_key.public_key(), ark_key)
    middle = f"SEV-VLEK-{product}" if kind == "vlek" else f"SEV-{product}"
    ask = _cert(middle, f"ARK-{product}", ask_key.public_key(), ark_key)

    extensions = [
        x509.UnrecognizedExtension(
            x509.ObjectIdentifier(f"{_ARC}.3.{_SPL_ARCS[name]}"), _der_int(level)
        )
        for name, level in tcb.items()
    ]
    if kind == "vcek":
        hwid = chip_id[:8] if product == "Turin" else chip_id
        oid = x509.ObjectIdentifier(f"{_ARC}.4")
        extensions.append(x509.UnrecognizedExtension(oid, hwid))
    key = ec.generate_private_key(ec.SECP384R1())
    leaf = _cert(f"SEV-{kind.upper()}", middle, key.public_key(), ask_key, *extensions)
    return FakeAMD(product, kind, AMDChain(ask, ark), leaf, key)


@dataclass
class ReportFields:
    version: int = 2
    report_data: bytes = b""
    chip_id: bytes = b"\x11" * 64
    reported_tcb: bytes = bytes([3, 0, 0, 0, 0, 0, 8, 115])
    signing_key: int = 0
    policy: int = 0x30000
    measurement: bytes = b"\xaa" * 48
    cpuid: tuple[int, int, int] = (0, 0, 0)


def make_report(fields: ReportFields, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A 1184-byte report with the given fields, signed like AMD firmware signs."""
    report = bytearray(1184)
    struct.pack_into("<IIQ", report, 0, fields.version, 1, fields.policy)
    struct.pack_into("<II", report, 0x30, 0, 1)
    struct.pack_into("<I", report, 0x48, fields.signing_key << 2)
    report[0x50:0x90] = fields.report_data.ljust(64, b"\0")
    report[0x90:0xC0] = fields.measurement
    report[0x180:0x188] = fields.reported_tcb
    report[0x1E0:0x1E8] = fields.reported_tcb
    if fields.version >= 3:
        report[0x188:0x18B] = bytes(fields.cpuid)
    report[0x1A0:0x1E0] = fields.chip_id

    der = key.sign(bytes(report[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    report[0x2A0:0x2E8] = r.to_bytes(72, "little")
    report[0x2E8:0x330] = s.to_bytes(72, "little")
    return bytes(report)


def make_hcl(
    report_fields: ReportFields, key: ec.EllipticCurvePrivateKey
) -> tuple[bytes, rsa.RSAPrivateKey]:
    """An Azure HCL report whose runtime claims carry a fresh RSA HCLAkPub."""
    ak = rsa.generate_private_key(65537, 2048)
    numbers = ak.public_key().public_numbers()
    jwk = {
        "kid": "HCLAkPub",
        "kty": "RSA",
        "e": _b64url(numbers.e),
        "n": _b64url(numbers.n),
    }
    var_data = json.dumps({"keys": [jwk], "vm-configuration": {}}).encode()
    report_fields.report_data = hashlib.sha256(var_data).digest()
    report = make_report(report_fields, key)

    igvm = struct.pack("<5I", 20 + len(var_data), 1, 2, 1, len(var_data))
    header = b"HCLA" + struct.pack("<IIII", 1, 32 + 1184 + 20 + len(var_data), 2, 0)
    return header.ljust(32, b"\0") + report + igvm + var_data, ak


def make_quote(
    ak: rsa.RSAPrivateKey, extra_data: bytes, pcr0: bytes
) -> tuple[bytes, bytes]:
    """A TPM2_Quote over PCR 0 (SHA-256 bank) and its RSASSA TPMT_SIGNATURE."""
    selection = struct.pack(">IHB3s", 1, 0x000B, 3, b"\x01\0\0")
    digest = hashlib.sha256(pcr0).digest()
    attest = (
        struct.pack(">IHH", 0xFF544347, 0x8018, 0)
        + struct.pack(">H", len(extra_data))
        + extra_data
        + struct.pack(">QIIBQ", 1, 0, 0, 1, 0)
        + selection
        + struct.pack(">H", len(digest))
        + digest
    )
    signature = ak.sign(attest, padding.PKCS1v15(), hashes.SHA256())
    return attest, struct.pack(">HHH", 0x0014, 0x000B, len(signature)) + signature


def _b64url(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
