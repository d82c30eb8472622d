"""VCEK and VLEK certificates: loading, AMD extensions, and the chain to the ARK.

AMD's key distribution service issues one VCEK per chip and TCB (its hwID
extension is the chip ID, its SPL extensions the TCB it was derived for) and one
VLEK per cloud provider (no hwID). Both are signed by an intermediate (ASK for
VCEKs, ASVK for VLEKs) that the product's self-signed ARK signs, all RSA-PSS with
SHA-384. Trust comes only from the pinned chains in `aura_grpc/attestation/roots`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from aura_grpc.attestation.azure_snp.report import GENOA, MILAN, TURIN
from aura_grpc.attestation.payload import decode_base64
from aura_grpc.errors import CertificateExpired, ChainInvalid, EvidenceMalformed

# Every VCEK AMD has issued so far has serial number 0, which cryptography
# accepts with a deprecation warning; silence exactly that warning.
# TODO: parse VCEKs without cryptography's serial check if it ever turns the
# warning into an error; can go when AMD issues positive serials.
warnings.filterwarnings(
    "ignore",
    message="Parsed a serial number which wasn't positive",
    category=CryptographyDeprecationWarning,
)

ROOTS_DIR = Path(__file__).resolve().parent.parent / "roots"
_AMD_ARC = "1.3.6.1.4.1.3704.1"
_HWID_OID = x509.ObjectIdentifier(f"{_AMD_ARC}.4")
_SPL_OIDS = {
    "bootloader": x509.ObjectIdentifier(f"{_AMD_ARC}.3.1"),
    "tee": x509.ObjectIdentifier(f"{_AMD_ARC}.3.2"),
    "snp": x509.ObjectIdentifier(f"{_AMD_ARC}.3.3"),
    "microcode": x509.ObjectIdentifier(f"{_AMD_ARC}.3.8"),
    "fmc": x509.ObjectIdentifier(f"{_AMD_ARC}.3.9"),
}
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_ROOT_FILES = {
    ("vcek", MILAN): "amd_ask_ark_milan.pem",
    ("vcek", GENOA): "amd_ask_ark_genoa.pem",
    ("vcek", TURIN): "amd_ask_ark_turin_vcek.pem",
    ("vlek", MILAN): "amd_ask_ark_milan_vlek.pem",
    ("vlek", GENOA): "amd_ask_ark_genoa_vlek.pem",
    ("vlek", TURIN): "amd_ask_ark_turin_vlek.pem",
}


@dataclass(frozen=True)
class EndorsementKey:
    """A parsed VCEK or VLEK: its kind, product, chip ID (VCEK only) and TCB."""

    certificate: x509.Certificate
    public_key: ec.EllipticCurvePublicKey
    kind: str
    product: str
    hwid: bytes | None
    tcb: dict[str, int]


@dataclass(frozen=True)
class AMDChain:
    """A pinned intermediate (ASK or ASVK) and the ARK that signed it."""

    intermediate: x509.Certificate
    ark: x509.Certificate


def load_certificate(text: str) -> x509.Certificate:
    """The first certificate of PEM text, or of base64 DER."""
    try:
        if "-----BEGIN" in text:
            return x509.load_pem_x509_certificates(text.encode())[0]
        return x509.load_der_x509_certificate(decode_base64(text, "vcek"))
    except (ValueError, x509.InvalidVersion) as exc:
        raise EvidenceMalformed(
            "payload field 'vcek' is not an X.509 certificate",
            reason="SNP_VCEK_INVALID",
        ) from exc


def read_endorsement_key(cert: x509.Certificate) -> EndorsementKey:
    """Decode the AMD extensions that tie a VCEK/VLEK to a chip and TCB."""
    kind, product = _kind_and_product(cert)
    try:
        key = cert.public_key()
    except (ValueError, TypeError) as exc:
        raise EvidenceMalformed(
            "the VCEK's public key does not parse", reason="SNP_VCEK_INVALID"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise EvidenceMalformed(
            "the VCEK's key is not ECDSA P-384", reason="SNP_VCEK_INVALID"
        )

    levels = {name: _der_uint(_extension(cert, oid)) for name, oid in _SPL_OIDS.items()}
    tcb = {name: value for name, value in levels.items() if value is not None}
    hwid_raw = _extension(cert, _HWID_OID)
    hwid = None if hwid_raw is None else _unwrap_octets(hwid_raw)
    if kind == "vcek" and hwid is None:
        raise EvidenceMalformed("the VCEK has no hwID", reason="SNP_VCEK_INVALID")
    return EndorsementKey(cert, key, kind, product, hwid, tcb)


def load_chains(products: frozenset[str]) -> dict[tuple[str, str], AMDChain]:
    """The pinned chains for `products`, each intermediate checked against its ARK."""
    chains: dict[tuple[str, str], AMDChain] = {}
    for (kind, product), name in _ROOT_FILES.items():
        if product not in products:
            continue
        intermediate, ark = x509.load_pem_x509_certificates(
            (ROOTS_DIR / name).read_bytes()
        )
        _verify_signed_by(ark, ark)
        _verify_signed_by(intermediate, ark)
        chains[kind, product] = AMDChain(intermediate, ark)
    return chains


def verify_chain(
    key: EndorsementKey, chains: Mapping[tuple[str, str], AMDChain], now: datetime
) -> None:
    """VCEK/VLEK -> pinned intermediate -> pinned ARK, every certificate valid now."""
    chain = chains.get((key.kind, key.product))
    if chain is None:
        raise ChainInvalid(
            f"no pinned AMD root for {key.kind.upper()} {key.product}",
            reason="SNP_ROOT_UNKNOWN",
        )
    if key.certificate.issuer != chain.intermediate.subject:
        raise ChainInvalid(
            "the VCEK was not issued by the pinned AMD intermediate",
            reason="SNP_CHAIN_INVALID",
        )

    _verify_signed_by(key.certificate, chain.intermediate)
    for cert in (key.certificate, chain.intermediate, chain.ark):
        _check_validity(cert, now)


def _kind_and_product(cert: x509.Certificate) -> tuple[str, str]:
    """Read "SEV-Milan" / "SEV-VLEK-Genoa" from the issuer's common name."""
    try:
        names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError as exc:
        raise EvidenceMalformed(
            "the VCEK's issuer does not parse", reason="SNP_VCEK_INVALID"
        ) from exc
    issuer = str(names[0].value) if names else ""
    kind = "vlek" if issuer.startswith("SEV-VLEK-") else "vcek"
    product = issuer.removeprefix("SEV-VLEK-").removeprefix("SEV-")
    if product not in (MILAN, GENOA, TURIN):
        raise EvidenceMalformed(
            "the VCEK's issuer is not an AMD SEV product CA", reason="SNP_VCEK_INVALID"
        )
    return kind, product


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        raise EvidenceMalformed(
            "the VCEK's extensions do not parse", reason="SNP_VCEK_INVALID"
        ) from exc
    if not isinstance(value, x509.UnrecognizedExtension):
        raise EvidenceMalformed("unexpected VCEK extension", reason="SNP_VCEK_INVALID")
    return value.value


def _der_uint(raw: bytes | None) -> int | None:
    """A small non-negative DER INTEGER (AMD's SPL extensions)."""
    if raw is None:
        return None
    if len(raw) < 3 or raw[0] != 0x02 or raw[1] != len(raw) - 2 or raw[1] > 9:
        raise EvidenceMalformed(
            "a VCEK TCB extension is not an INTEGER", reason="SNP_VCEK_INVALID"
        )
    value = int.from_bytes(raw[2:], "big", signed=True)
    if value < 0:
        raise EvidenceMalformed(
            "a VCEK TCB extension is negative", reason="SNP_VCEK_INVALID"
        )
    return value


def _unwrap_octets(raw: bytes) -> bytes:
    """hwID is the raw chip ID in AMD's certificates; some tools wrap it in an
    OCTET STRING, which is accepted too."""
    if len(raw) >= 2 and raw[0] == 0x04 and raw[1] == len(raw) - 2 and raw[1] < 0x80:
        return raw[2:]
    return raw


def _verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    issuer_key = issuer.public_key()
    if (
        cert.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS
        or not isinstance(issuer_key, rsa.RSAPublicKey)
    ):
        raise ChainInvalid(
            "AMD certificates must be signed with RSA-PSS", reason="SNP_CHAIN_INVALID"
        )

    try:
        issuer_key.verify(
            cert.signature, cert.tbs_certificate_bytes, _PSS, hashes.SHA384()
        )
    except InvalidSignature:
        raise ChainInvalid(
            "an AMD certificate signature does not verify", reason="SNP_CHAIN_INVALID"
        ) from None


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateExpired(
            f"AMD certificate '{cert.subject.rfc4514_string()}' is not valid at {now}",
            reason="SNP_CERTIFICATE_EXPIRED",
        )
