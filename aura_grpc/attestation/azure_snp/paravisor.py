"""Azure confidential VM evidence: HCL report, VCEK and vTPM quote.

The chain of trust runs AMD root -> VCEK -> SNP report -> REPORT_DATA = hash of
the runtime claims -> HCLAkPub -> vTPM quote -> extraData = the server nonce.
Each link is checked here in that order, after the report's own checks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aura_grpc.attestation.azure_snp.hcl import HCLReport
from aura_grpc.attestation.payload import decode_base64
from aura_grpc.attestation.tpm.quote import verify_quote
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

_PCR_HEX = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96})$")
_MAX_QUOTE_BYTES = 4096


@dataclass(frozen=True)
class VTPMQuote:
    """The three parts of `tpm_quote`, decoded but not yet trusted."""

    attest: bytes
    signature: bytes
    pcrs: dict[int, bytes]

    @property
    def raw(self) -> bytes:
        return self.attest + self.signature


def read_vtpm_quote(payload: Mapping[str, Any]) -> VTPMQuote:
    """Decode {"quote": b64, "signature": b64, "pcrs": {"<index>": "<hex>"}}."""
    section = payload.get("tpm_quote")
    if not isinstance(section, Mapping):
        raise EvidenceMalformed("payload field 'tpm_quote' must be an object")

    attest = _b64_field(section, "quote")
    signature = _b64_field(section, "signature")
    pcrs = section.get("pcrs")
    if not isinstance(pcrs, Mapping) or not 0 < len(pcrs) <= 24:
        raise EvidenceMalformed("'tpm_quote.pcrs' must be an object index -> hex")

    values: dict[int, bytes] = {}
    for index, value in pcrs.items():
        if not str(index).isdigit() or int(index) > 23:
            raise EvidenceMalformed(f"PCR index '{index}' is not 0..23")
        if not isinstance(value, str) or not _PCR_HEX.match(value):
            raise EvidenceMalformed(f"PCR {index} is not a hex digest")
        values[int(index)] = bytes.fromhex(value)
    return VTPMQuote(attest, signature, values)


def _b64_field(section: Mapping[str, Any], name: str) -> bytes:
    value = section.get(name)
    if not isinstance(value, str) or not value:
        raise EvidenceMalformed(f"'tpm_quote.{name}' must be a base64 string")
    return decode_base64(value, f"tpm_quote.{name}", max_bytes=_MAX_QUOTE_BYTES)


def check_runtime_claims_bound(hcl: HCLReport, report_data: bytes) -> None:
    """REPORT_DATA must begin with the hash of the runtime claims (the rest is 0)."""
    size = len(hcl.var_data_digest)
    bound = hmac.compare_digest(report_data[:size], hcl.var_data_digest)
    if not bound or any(report_data[size:]):
        raise ClaimMismatch(
            "SNP REPORT_DATA is not the hash of the HCL runtime claims",
            reason="AZURE_RUNTIME_CLAIMS_HASH_MISMATCH",
        )


def quote_nonce(nonce: bytes, spki: bytes | None) -> bytes:
    """What the vTPM quote's extraData must hold: the nonce itself, or, to bind a
    key, SHA-512(nonce || SPKI) (64 bytes, the most extraData can carry)."""
    return nonce if spki is None else hashlib.sha512(nonce + spki).digest()


def verify_vtpm_quote(
    hcl: HCLReport, quote: VTPMQuote, extra_data: bytes
) -> dict[str, str]:
    """Verify the quote with HCLAkPub; return the PCR values it attests, as hex."""
    attest = verify_quote(
        hcl.ak_public_key, quote.attest, quote.signature, quote.pcrs, extra_data
    )
    assert attest.quote is not None  # verify_quote only returns quote bodies

    quoted = {i for s in attest.quote.pcr_selections for i in s.indices}
    return {str(i): quote.pcrs[i].hex() for i in sorted(quoted)}
