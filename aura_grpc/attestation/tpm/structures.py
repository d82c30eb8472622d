"""TPM 2.0 structures AURA reads, as parsed values (TPM 2.0 Part 2 names).

Parsers live in `quote.py`; these are plain frozen records. `raw` fields keep the
exact bytes a signature or a name was computed over.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aura_grpc.attestation.tpm.wire import HASH_NAMES

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_CERTIFY = 0x8017
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ST_ATTEST_CREATION = 0x801A

# TPMA_OBJECT bits (TPM 2.0 Part 2, table 31).
FIXED_TPM = 1 << 1
ST_CLEAR = 1 << 2
FIXED_PARENT = 1 << 4
SENSITIVE_DATA_ORIGIN = 1 << 5
USER_WITH_AUTH = 1 << 6
ADMIN_WITH_POLICY = 1 << 7
NO_DA = 1 << 10
ENCRYPTED_DUPLICATION = 1 << 11
RESTRICTED = 1 << 16
DECRYPT = 1 << 17
SIGN_ENCRYPT = 1 << 18

TPMPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class TPMSymDef:
    """TPMT_SYM_DEF_OBJECT: the storage key's symmetric algorithm (NULL if none)."""

    algorithm: int
    key_bits: int = 0
    mode: int = 0


@dataclass(frozen=True)
class TPMTPublic:
    """TPMT_PUBLIC of an RSA or ECC key, with its public key ready to use."""

    type: int
    name_alg: int
    object_attributes: int
    auth_policy: bytes
    symmetric: TPMSymDef
    scheme: int
    scheme_hash: int
    key_bits: int
    curve_id: int
    public_key: TPMPublicKey
    raw: bytes

    def name(self) -> bytes:
        """nameAlg (2 bytes) || H_nameAlg(TPMT_PUBLIC): how the TPM names a key."""
        return self._name

    @cached_property
    def _name(self) -> bytes:
        algorithm = HASH_NAMES[self.name_alg]
        digest = hashlib.new(algorithm, self.raw).digest()
        return struct.pack(">H", self.name_alg) + digest

    def has_attributes(self, mask: int) -> bool:
        return self.object_attributes & mask == mask

    def spki(self) -> bytes:
        """The key as DER SubjectPublicKeyInfo."""
        return self._spki

    @cached_property
    def _spki(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )


@dataclass(frozen=True)
class TPMSClockInfo:
    clock: int
    reset_count: int
    restart_count: int
    safe: bool


@dataclass(frozen=True)
class TPMSPCRSelection:
    """One bank of a TPML_PCR_SELECTION: hash algorithm and indices, ascending."""

    hash_alg: int
    indices: tuple[int, ...]


@dataclass(frozen=True)
class TPMSQuoteInfo:
    pcr_selections: tuple[TPMSPCRSelection, ...]
    pcr_digest: bytes


@dataclass(frozen=True)
class TPMSCertifyInfo:
    name: bytes
    qualified_name: bytes


@dataclass(frozen=True)
class TPMSCreationInfo:
    """TPM2_CertifyCreation's body: the object's name and its creation hash."""

    object_name: bytes
    creation_hash: bytes


@dataclass(frozen=True)
class TPMSAttest:
    """TPMS_ATTEST; `quote` or `certify` is set for those types, else neither."""

    magic: int
    type: int
    qualified_signer: bytes
    extra_data: bytes
    clock_info: TPMSClockInfo
    firmware_version: int
    quote: TPMSQuoteInfo | None
    certify: TPMSCertifyInfo | None
    raw: bytes
    creation: TPMSCreationInfo | None = None


@dataclass(frozen=True)
class TPMTSignature:
    """TPMT_SIGNATURE: RSA schemes fill `signature`, ECDSA fills `r` and `s`."""

    sig_alg: int
    hash_alg: int
    signature: bytes = b""
    r: int = 0
    s: int = 0
