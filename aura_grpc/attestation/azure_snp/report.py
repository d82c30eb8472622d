"""The AMD SEV-SNP ATTESTATION_REPORT (1184 bytes), versions 2 and 3.

Offsets follow the SEV-SNP firmware ABI specification, table "ATTESTATION_REPORT
Structure". Everything is little-endian. Parsing only slices and decodes: no
field is trusted until the signature over bytes 0x000..0x29F has been checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aura_grpc.errors import EvidenceMalformed

REPORT_SIZE = 1184
SIGNED_SIZE = 0x2A0
# TODO: accept versions 4 and 5 (current firmware; same layout plus launch
# mitigation vectors at 0x1F8); can go once the issue allows them.
SUPPORTED_VERSIONS = frozenset({2, 3})
ECDSA_P384_SHA384 = 1

# SIGNING_KEY (bits 2..4 of the word at 0x48) names the key that signed.
SIGNING_KEY_VCEK = 0
SIGNING_KEY_VLEK = 1
SIGNING_KEY_NONE = 7

MILAN, GENOA, TURIN = "Milan", "Genoa", "Turin"

_POLICY_BITS = {
    "smt": 16,
    "migrate_ma": 18,
    "debug": 19,
    "single_socket": 20,
    "cxl_allow": 21,
    "mem_aes_256_xts": 22,
    "rapl_dis": 23,
    "ciphertext_hiding": 24,
    "page_swap_disable": 25,
}
_PLATFORM_BITS = {
    "smt_enabled": 0,
    "tsme_enabled": 1,
    "ecc_enabled": 2,
    "rapl_disabled": 3,
    "ciphertext_hiding_enabled": 4,
    "alias_check_complete": 5,
}


@dataclass(frozen=True)
class SNPReport:
    """The fields AURA reads from a report, plus the raw bytes it was cut from."""

    raw: bytes
    version: int
    guest_svn: int
    policy: int
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb: bytes
    platform_info: int
    signing_key: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    reported_tcb: bytes
    cpuid_family: int
    cpuid_model: int
    cpuid_stepping: int
    chip_id: bytes
    committed_tcb: bytes
    launch_tcb: bytes
    signature_r: int
    signature_s: int

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:SIGNED_SIZE]

    @property
    def debug(self) -> bool:
        return bool(self.policy >> _POLICY_BITS["debug"] & 1)


def parse_report(data: bytes) -> SNPReport:
    """Cut a 1184-byte report into fields; any other size or version is malformed."""
    if len(data) != REPORT_SIZE:
        raise EvidenceMalformed(
            f"SNP report is {len(data)} bytes, expected {REPORT_SIZE}",
            reason="SNP_REPORT_SIZE",
        )

    version, guest_svn, policy = struct.unpack_from("<IIQ", data, 0x00)
    if version not in SUPPORTED_VERSIONS:
        raise EvidenceMalformed(
            f"SNP report version {version} is not supported (2 or 3)",
            reason="SNP_REPORT_VERSION",
        )

    vmpl, signature_algo = struct.unpack_from("<II", data, 0x30)
    platform_info, key_info = struct.unpack_from("<QI", data, 0x40)
    family, model, stepping = struct.unpack_from("<BBB", data, 0x188)

    # CPUID bytes exist only from version 3; in version 2 they are reserved.
    if version < 3:
        family = model = stepping = 0

    return SNPReport(
        raw=bytes(data),
        version=version,
        guest_svn=guest_svn,
        policy=policy,
        family_id=data[0x10:0x20],
        image_id=data[0x20:0x30],
        vmpl=vmpl,
        signature_algo=signature_algo,
        current_tcb=data[0x38:0x40],
        platform_info=platform_info,
        signing_key=key_info >> 2 & 0x7,
        report_data=data[0x50:0x90],
        measurement=data[0x90:0xC0],
        host_data=data[0xC0:0xE0],
        id_key_digest=data[0xE0:0x110],
        author_key_digest=data[0x110:0x140],
        report_id=data[0x140:0x160],
        reported_tcb=data[0x180:0x188],
        cpuid_family=family,
        cpuid_model=model,
        cpuid_stepping=stepping,
        chip_id=data[0x1A0:0x1E0],
        committed_tcb=data[0x1E0:0x1E8],
        launch_tcb=data[0x1F0:0x1F8],
        signature_r=int.from_bytes(data[0x2A0:0x2E8], "little"),
        signature_s=int.from_bytes(data[0x2E8:0x330], "little"),
    )


def product_from_cpuid(report: SNPReport) -> str | None:
    """The AMD product the report names (version 3 and later), else None.

    Family 19h models 00h-0Fh are Milan, 10h-1Fh and A0h-AFh Genoa (and its
    Bergamo/Siena siblings, which share Genoa's keys); family 1Ah is Turin.
    """
    family, model = report.cpuid_family, report.cpuid_model
    if family == 0 and model == 0:
        return None
    if family == 0x19 and model <= 0x0F:
        return MILAN
    if family == 0x19 and (0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF):
        return GENOA
    if family == 0x1A and model <= 0x1F:
        return TURIN
    raise EvidenceMalformed(
        f"SNP report names CPU family {family:#x} model {model:#x}, not an SNP product",
        reason="SNP_PRODUCT_UNKNOWN",
    )


def decode_tcb(raw: bytes, product: str) -> dict[str, int]:
    """Split a TCB_VERSION into its security patch levels.

    Turin moved the layout: FMC first, then bootloader, TEE and SNP; Milan and
    Genoa keep bootloader and TEE first and SNP in byte 6. Microcode is byte 7.
    """
    if product == TURIN:
        return {
            "fmc": raw[0],
            "bootloader": raw[1],
            "tee": raw[2],
            "snp": raw[3],
            "microcode": raw[7],
        }
    return {"bootloader": raw[0], "tee": raw[1], "snp": raw[6], "microcode": raw[7]}


def decode_policy(policy: int) -> dict[str, int | bool]:
    decoded: dict[str, int | bool] = {
        "raw": policy,
        "abi_minor": policy & 0xFF,
        "abi_major": policy >> 8 & 0xFF,
    }
    decoded.update(
        {name: bool(policy >> bit & 1) for name, bit in _POLICY_BITS.items()}
    )
    return decoded


def decode_platform_info(info: int) -> dict[str, int | bool]:
    decoded: dict[str, int | bool] = {"raw": info}
    decoded.update(
        {name: bool(info >> bit & 1) for name, bit in _PLATFORM_BITS.items()}
    )
    return decoded
