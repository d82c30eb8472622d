"""Evidence made in the tests with test AMD roots: key binding, Turin, VLEK."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.azure_snp import AzureSNPVerifier
from aura_grpc.errors import ChainInvalid, NonceMismatch, SignatureInvalid
from tests.attestation.azure_snp.conftest import b64, context
from tests.attestation.azure_snp.factory import (
    NOW,
    FakeAMD,
    ReportFields,
    make_amd,
    make_hcl,
    make_quote,
    make_report,
)

MILAN_TCB = {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
TURIN_TCB = {"fmc": 1, "bootloader": 2, "tee": 3, "snp": 4, "microcode": 5}
NONCE = bytes(range(32))


@pytest.fixture(scope="module")
def milan() -> FakeAMD:
    return make_amd("Milan", "vcek", b"\x11" * 64, MILAN_TCB)


@pytest.fixture(scope="module")
def vlek() -> FakeAMD:
    return make_amd("Genoa", "vlek", b"", MILAN_TCB)


def _verifier(amd: FakeAMD) -> AzureSNPVerifier:
    return AzureSNPVerifier(chains={(amd.kind, amd.product): amd.chain})


def _payload(amd: FakeAMD, report: bytes) -> dict[str, str]:
    pem = amd.key_cert.public_bytes(serialization.Encoding.PEM).decode()
    return {"report": b64(report), "vcek": pem}


def _spki_pem() -> tuple[bytes, str]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der, pem.decode()


def test_report_binding_a_key_yields_that_key(milan: FakeAMD) -> None:
    spki, pem = _spki_pem()
    report_data = hashlib.sha512(NONCE + spki).digest()
    report = make_report(ReportFields(report_data=report_data), milan.signing_key)
    payload = {**_payload(milan, report), "bound_key_pem": pem}

    evidence = _verifier(milan).verify(payload, context(NONCE, NOW))
    assert evidence.bound_key_spki == spki


def test_report_binding_another_key_is_a_nonce_mismatch(milan: FakeAMD) -> None:
    spki, _ = _spki_pem()
    _, other_pem = _spki_pem()
    report_data = hashlib.sha512(NONCE + spki).digest()
    report = make_report(ReportFields(report_data=report_data), milan.signing_key)
    payload = {**_payload(milan, report), "bound_key_pem": other_pem}

    with pytest.raises(NonceMismatch):
        _verifier(milan).verify(payload, context(NONCE, NOW))


def test_turin_v3_report_decodes_turin_tcb_layout() -> None:
    turin = make_amd("Turin", "vcek", b"\x22" * 8 + b"\0" * 56, TURIN_TCB)
    fields = ReportFields(
        version=3,
        report_data=NONCE,
        chip_id=b"\x22" * 8 + b"\0" * 56,
        reported_tcb=bytes([1, 2, 3, 4, 0, 0, 0, 5]),
        cpuid=(0x1A, 0x02, 0x01),
    )
    report = make_report(fields, turin.signing_key)

    evidence = _verifier(turin).verify(_payload(turin, report), context(NONCE, NOW))
    assert evidence.claims["product"] == "Turin"
    assert evidence.claims["reported_tcb"] == TURIN_TCB


def test_v3_report_naming_genoa_with_a_milan_vcek_is_a_product_mismatch(
    milan: FakeAMD,
) -> None:
    fields = ReportFields(version=3, report_data=NONCE, cpuid=(0x19, 0x11, 0x01))
    report = make_report(fields, milan.signing_key)

    with pytest.raises(ChainInvalid) as caught:
        _verifier(milan).verify(_payload(milan, report), context(NONCE, NOW))
    assert caught.value.reason == "SNP_PRODUCT_MISMATCH"


def test_vlek_report_fingerprint_is_stable_without_a_chip_id(vlek: FakeAMD) -> None:
    fields = ReportFields(report_data=NONCE, chip_id=b"\0" * 64, signing_key=1)
    first = make_report(fields, vlek.signing_key)
    second = make_report(fields, vlek.signing_key)  # fresh ECDSA signature

    one = _verifier(vlek).verify(_payload(vlek, first), context(NONCE, NOW))
    two = _verifier(vlek).verify(_payload(vlek, second), context(NONCE, NOW))
    assert one.fingerprint == two.fingerprint
    assert one.fingerprint != hashlib.sha256(b"\0" * 64).hexdigest()
    assert one.claims["signing_key"] == "vlek"


def test_report_claiming_a_vlek_but_given_a_vcek_is_rejected(milan: FakeAMD) -> None:
    fields = ReportFields(report_data=NONCE, signing_key=1)
    report = make_report(fields, milan.signing_key)

    with pytest.raises(ChainInvalid) as caught:
        _verifier(milan).verify(_payload(milan, report), context(NONCE, NOW))
    assert caught.value.reason == "SNP_SIGNING_KEY_MISMATCH"


def test_report_saying_it_is_unsigned_is_rejected(milan: FakeAMD) -> None:
    fields = ReportFields(report_data=NONCE, signing_key=7)
    report = make_report(fields, milan.signing_key)

    with pytest.raises(SignatureInvalid) as caught:
        _verifier(milan).verify(_payload(milan, report), context(NONCE, NOW))
    assert caught.value.reason == "SNP_REPORT_UNSIGNED"


def test_vcek_from_an_unpinned_root_is_rejected(milan: FakeAMD) -> None:
    report = make_report(ReportFields(report_data=NONCE), milan.signing_key)

    with pytest.raises(ChainInvalid) as caught:
        AzureSNPVerifier().verify(_payload(milan, report), context(NONCE, NOW))
    assert caught.value.reason == "SNP_CHAIN_INVALID"


def test_client_supplied_cert_chain_is_never_trusted(milan: FakeAMD) -> None:
    report = make_report(ReportFields(report_data=NONCE), milan.signing_key)
    chain = b"".join(
        c.public_bytes(serialization.Encoding.PEM)
        for c in (milan.chain.intermediate, milan.chain.ark)
    )
    payload = {**_payload(milan, report), "cert_chain": chain.decode()}

    with pytest.raises(ChainInvalid):
        AzureSNPVerifier().verify(payload, context(NONCE, NOW))


def _azure_payload(
    amd: FakeAMD, extra_data: bytes, bound_pem: str | None = None
) -> dict[str, object]:
    hcl, ak = make_hcl(ReportFields(), amd.signing_key)
    pcr0 = b"\x07" * 32
    attest, signature = make_quote(ak, extra_data, pcr0)
    payload: dict[str, object] = {
        "hcl_report": b64(hcl),
        "vcek": amd.key_cert.public_bytes(serialization.Encoding.PEM).decode(),
        "tpm_quote": {
            "quote": b64(attest),
            "signature": b64(signature),
            "pcrs": {"0": pcr0.hex()},
        },
    }
    if bound_pem is not None:
        payload["bound_key_pem"] = bound_pem
    return payload


def test_azure_quote_binding_a_key_yields_that_key(milan: FakeAMD) -> None:
    spki, pem = _spki_pem()
    payload = _azure_payload(milan, hashlib.sha512(NONCE + spki).digest(), pem)

    evidence = _verifier(milan).verify(payload, context(NONCE, NOW))
    assert evidence.bound_key_spki == spki
    assert evidence.claims["azure"]["pcrs"] == {"0": "07" * 32}


def test_azure_quote_with_the_bare_nonce_does_not_bind_a_key(milan: FakeAMD) -> None:
    _, pem = _spki_pem()
    payload = _azure_payload(milan, NONCE, pem)

    with pytest.raises(NonceMismatch):
        _verifier(milan).verify(payload, context(NONCE, NOW))
