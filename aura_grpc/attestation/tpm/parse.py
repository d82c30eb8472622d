"""Parsers for TPMT_PUBLIC, TPMS_ATTEST and TPMT_SIGNATURE.

Each accepts exactly one structure (trailing bytes are refused) and raises only
`EvidenceMalformed`. They check the shape, never the meaning: a wrong magic or
attestation type parses, so `verify_quote` can say which check failed.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.structures import (
    TPM_ST_ATTEST_CERTIFY,
    TPM_ST_ATTEST_CREATION,
    TPM_ST_ATTEST_QUOTE,
    TPMPublicKey,
    TPMSAttest,
    TPMSCertifyInfo,
    TPMSClockInfo,
    TPMSCreationInfo,
    TPMSPCRSelection,
    TPMSQuoteInfo,
    TPMSymDef,
    TPMTPublic,
    TPMTSignature,
)
from aura_grpc.attestation.tpm.wire import Reader
from aura_grpc.errors import EvidenceMalformed

_CURVES: dict[int, ec.EllipticCurve] = {
    0x0003: ec.SECP256R1(),
    0x0004: ec.SECP384R1(),
    0x0005: ec.SECP521R1(),
}
_SCHEMES_WITHOUT_HASH = frozenset({wire.ALG_NULL, wire.ALG_RSAES})
_MAX_PCR_BANKS = 8
_ATTEST_HEAD = struct.Struct(">IH")
_ATTEST_CLOCK = struct.Struct(">QIIBQ")  # clockInfo, then firmwareVersion
_SELECTION_HEAD = struct.Struct(">HB")
_PUBLIC_HEAD = struct.Struct(">HHI")
_PUBLIC_CACHE_SIZE = 1024


def _unwrap_public(data: bytes) -> bytes:
    """TPM2B_PUBLIC carries its own size first; TPMT_PUBLIC starts with a type."""
    if len(data) >= 2 and int.from_bytes(data[:2], "big") == len(data) - 2:
        return data[2:]
    return data


def _read_symmetric(reader: Reader) -> TPMSymDef:
    algorithm = reader.u16()
    if algorithm == wire.ALG_NULL:
        return TPMSymDef(algorithm)
    return TPMSymDef(algorithm, reader.u16(), reader.u16())


def _read_scheme(reader: Reader) -> tuple[int, int]:
    """A signing or encryption scheme and its hash (0 when it has none)."""
    scheme = reader.u16()
    if scheme in _SCHEMES_WITHOUT_HASH:
        return scheme, 0

    scheme_hash = reader.u16()
    if scheme == wire.ALG_ECDAA:
        reader.u16()  # the ECDAA commit count is no concern of a verifier
    return scheme, scheme_hash


def _rsa_key(reader: Reader, key_bits: int, exponent: int) -> TPMPublicKey:
    modulus = reader.sized(512)
    if key_bits not in (1024, 2048, 3072, 4096) or len(modulus) * 8 != key_bits:
        raise EvidenceMalformed("TPM RSA key size does not match its modulus")
    try:
        return rsa.RSAPublicNumbers(
            exponent or 65537, int.from_bytes(modulus, "big")
        ).public_key()
    except ValueError as exc:
        raise EvidenceMalformed("TPM RSA public key is invalid") from exc


def _ecc_key(reader: Reader, curve_id: int) -> TPMPublicKey:
    x, y = reader.sized(128), reader.sized(128)
    curve = _CURVES.get(curve_id)
    if curve is None:
        raise EvidenceMalformed(f"unsupported TPM ECC curve 0x{curve_id:04x}")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        ).public_key()
    except ValueError as exc:
        raise EvidenceMalformed("TPM ECC public point is not on its curve") from exc


# Devices attest with the same AK again and again; building its key object is
# the costliest part of parsing, and a parsed public area never changes.
_parsed_publics: dict[bytes, TPMTPublic] = {}


def parse_public(data: bytes) -> TPMTPublic:
    """TPM2B_PUBLIC or TPMT_PUBLIC of an RSA or ECC key."""
    raw = _unwrap_public(data)
    parsed = _parsed_publics.get(raw)
    if parsed is None:
        parsed = _parse_tpmt_public(raw)
        if len(_parsed_publics) >= _PUBLIC_CACHE_SIZE:
            _parsed_publics.clear()
        _parsed_publics[raw] = parsed
    return parsed


def _parse_tpmt_public(raw: bytes) -> TPMTPublic:
    reader = Reader(raw, "TPMT_PUBLIC")
    key_type, name_alg, attributes = reader.unpack(_PUBLIC_HEAD)
    if name_alg not in wire.HASH_NAMES:
        raise EvidenceMalformed(f"unsupported TPM name algorithm 0x{name_alg:04x}")
    auth_policy = reader.sized(64)
    symmetric = _read_symmetric(reader)
    scheme, scheme_hash = _read_scheme(reader)

    key_bits = curve_id = 0
    if key_type == wire.ALG_RSA:
        key_bits, exponent = reader.u16(), reader.u32()
        key = _rsa_key(reader, key_bits, exponent)
    elif key_type == wire.ALG_ECC:
        curve_id = reader.u16()
        _read_scheme(reader)  # the KDF scheme; keys AURA uses leave it NULL
        key = _ecc_key(reader, curve_id)
    else:
        raise EvidenceMalformed(f"unsupported TPM key type 0x{key_type:04x}")
    reader.finish()

    return TPMTPublic(
        type=key_type,
        name_alg=name_alg,
        object_attributes=attributes,
        auth_policy=auth_policy,
        symmetric=symmetric,
        scheme=scheme,
        scheme_hash=scheme_hash,
        key_bits=key_bits,
        curve_id=curve_id,
        public_key=key,
        raw=raw,
    )


def _read_pcr_selections(reader: Reader) -> tuple[TPMSPCRSelection, ...]:
    count = reader.u32()
    if count > _MAX_PCR_BANKS:
        raise EvidenceMalformed(f"quote selects {count} PCR banks")

    selections = []
    for _ in range(count):
        hash_alg, size = reader.unpack(_SELECTION_HEAD)
        bitmap = int.from_bytes(reader.take(size), "little")
        indices = tuple(i for i in range(size * 8) if bitmap >> i & 1)
        selections.append(TPMSPCRSelection(hash_alg, indices))
    return tuple(selections)


def parse_attest(data: bytes) -> TPMSAttest:
    """TPMS_ATTEST; quote and certify bodies are parsed, other types kept opaque."""
    reader = Reader(data, "TPMS_ATTEST")
    magic, attest_type = reader.unpack(_ATTEST_HEAD)
    qualified_signer, extra_data = reader.sized(), reader.sized()
    clock, resets, restarts, safe, firmware_version = reader.unpack(_ATTEST_CLOCK)
    clock_info = TPMSClockInfo(clock, resets, restarts, safe != 0)

    quote = certify = creation = None
    if attest_type == TPM_ST_ATTEST_QUOTE:
        quote = TPMSQuoteInfo(_read_pcr_selections(reader), reader.sized())
        reader.finish()
    elif attest_type == TPM_ST_ATTEST_CERTIFY:
        certify = TPMSCertifyInfo(reader.sized(), reader.sized())
        reader.finish()
    elif attest_type == TPM_ST_ATTEST_CREATION:
        creation = TPMSCreationInfo(reader.sized(), reader.sized())
        reader.finish()

    return TPMSAttest(
        magic=magic,
        type=attest_type,
        qualified_signer=qualified_signer,
        extra_data=extra_data,
        clock_info=clock_info,
        firmware_version=firmware_version,
        quote=quote,
        certify=certify,
        raw=data,
        creation=creation,
    )


def parse_signature(data: bytes) -> TPMTSignature:
    """TPMT_SIGNATURE with RSASSA, RSAPSS or ECDSA over SHA-1/256/384/512."""
    reader = Reader(data, "TPMT_SIGNATURE")
    sig_alg, hash_alg = reader.u16(), reader.u16()
    if hash_alg not in wire.HASH_NAMES:
        raise EvidenceMalformed(f"unsupported signature hash 0x{hash_alg:04x}")

    if sig_alg in (wire.ALG_RSASSA, wire.ALG_RSAPSS):
        signature = TPMTSignature(sig_alg, hash_alg, signature=reader.sized(512))
    elif sig_alg == wire.ALG_ECDSA:
        r, s = reader.sized(128), reader.sized(128)
        signature = TPMTSignature(
            sig_alg, hash_alg, r=int.from_bytes(r, "big"), s=int.from_bytes(s, "big")
        )
    else:
        raise EvidenceMalformed(f"unsupported TPM signature scheme 0x{sig_alg:04x}")
    reader.finish()
    return signature
