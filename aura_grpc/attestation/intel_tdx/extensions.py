"""The SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1).

A SEQUENCE OF SEQUENCE { OID, value } carrying the PPID, the TCB (16 CPU SVN
components and the PCESVN), the PCE-ID and the FMSPC, DER decoded with pyasn1.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509
from pyasn1.codec.der import decoder  # type: ignore[import-untyped]  # no stubs
from pyasn1.error import PyAsn1Error  # type: ignore[import-untyped]  # no stubs
from pyasn1.type import univ  # type: ignore[import-untyped]  # no stubs

from aura_grpc.errors import EvidenceMalformed

_SGX = "1.2.840.113741.1.13.1"
_SGX_EXTENSIONS = x509.ObjectIdentifier(_SGX)
_PPID, _TCB, _PCEID, _FMSPC = (f"{_SGX}.{n}" for n in (1, 2, 3, 4))
_PCESVN = f"{_SGX}.2.17"


@dataclass(frozen=True)
class PCKInfo:
    """What the PCK leaf certifies about the platform."""

    ppid: bytes
    fmspc: bytes
    pce_id: bytes
    cpu_svn_components: tuple[int, ...]
    pce_svn: int


def parse_pck_extensions(leaf: x509.Certificate) -> PCKInfo:
    """Decode the SGX extensions of a PCK certificate."""
    try:
        ext = leaf.extensions.get_extension_for_oid(_SGX_EXTENSIONS)
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise EvidenceMalformed("PCK certificate has no SGX extensions") from exc
    if not isinstance(ext.value, x509.UnrecognizedExtension):
        raise EvidenceMalformed("PCK certificate SGX extensions are not opaque DER")

    return parse_sgx_extension(ext.value.value)


# pyasn1 decoding is most of a verification's cost; a platform's PCK certificate
# is the same on every attestation, and the result is a pure function of the DER.
@lru_cache(maxsize=4096)
def parse_sgx_extension(der: bytes) -> PCKInfo:
    try:
        entries = _pairs(_decode(der))
        tcb = _pairs(entries[_TCB])
        return PCKInfo(
            ppid=_octets(entries[_PPID]),
            fmspc=_octets(entries[_FMSPC]),
            pce_id=_octets(entries[_PCEID]),
            cpu_svn_components=tuple(
                _integer(tcb[f"{_TCB}.{n}"]) for n in range(1, 17)
            ),
            pce_svn=_integer(tcb[_PCESVN]),
        )
    except (PyAsn1Error, KeyError, TypeError, ValueError, IndexError) as exc:
        raise EvidenceMalformed("PCK certificate SGX extensions are malformed") from exc


def _decode(der: bytes) -> Any:
    value, rest = decoder.decode(der)
    if rest:
        raise ValueError("trailing bytes after the SGX extension")
    return value


def _pairs(sequence: Any) -> dict[str, Any]:
    """A SEQUENCE OF SEQUENCE { OID, value } as a dict keyed by dotted OID."""
    if not isinstance(sequence, univ.SequenceOf | univ.Sequence):
        raise TypeError("SGX extension entry is not a SEQUENCE")
    return {str(pair[0]): pair[1] for pair in sequence}


def _octets(value: Any) -> bytes:
    if not isinstance(value, univ.OctetString):
        raise TypeError("SGX extension value is not an OCTET STRING")
    return bytes(value)


def _integer(value: Any) -> int:
    if not isinstance(value, univ.Integer):
        raise TypeError("SGX extension value is not an INTEGER")
    return int(value)


def pck_fingerprint(info: PCKInfo) -> str:
    """The device fingerprint: SHA-256 over the PCK certificate's PPID.

    TDX has no chip id; the PPID (Platform Provisioning ID) is Intel's stable,
    per-platform identifier and every PCK certificate carries it in clear in its
    SGX extensions. It survives TCB recovery (new PCK certs, new keys), which a
    hash of the PCK key would not.
    """
    return hashlib.sha256(b"intel_tdx:ppid:" + info.ppid).hexdigest()
