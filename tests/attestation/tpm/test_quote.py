"""The shared quote API (parse_* and verify_quote) on real and fresh quotes."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from aura_grpc.attestation.tpm import fake, wire
from aura_grpc.attestation.tpm.quote import (
    parse_attest,
    parse_public,
    parse_signature,
    verify_quote,
)
from aura_grpc.errors import (
    ClaimMismatch,
    EvidenceMalformed,
    NonceMismatch,
    SignatureInvalid,
)
from tests.attestation.tpm.helpers import GCE_NONCE

BANKS = ["sha1", "sha256", "sha384"]
PCRS = {i: bytes([i]) * 32 for i in range(8)}


def _gce_quote(gce: Path, bank: str) -> tuple[bytes, bytes]:
    attest = (gce / f"quote_{bank}.tpms_attest").read_bytes()
    return attest, (gce / f"quote_{bank}.tpmt_signature").read_bytes()


def _values(pcrs: dict[str, str]) -> dict[int, bytes]:
    return {int(i): bytes.fromhex(v) for i, v in pcrs.items()}


def test_gce_ak_public_parses_as_a_restricted_rsa_signing_key(gce: Path) -> None:
    ak = parse_public((gce / "ak_pub.tpmt_public").read_bytes())

    assert ak.type == wire.ALG_RSA and ak.key_bits == 2048
    assert ak.object_attributes == 0x00050072
    assert ak.scheme == wire.ALG_RSASSA and ak.scheme_hash == wire.ALG_SHA256
    assert ak.name() == b"\x00\x0b" + hashlib.sha256(ak.raw).digest()


def test_tpm2b_public_and_tpmt_public_give_the_same_key(gce: Path) -> None:
    raw = (gce / "ak_pub.tpmt_public").read_bytes()

    assert parse_public(fake.sized(raw)).name() == parse_public(raw).name()


def test_gce_quote_header_clock_and_selection_parse(gce: Path) -> None:
    attest = parse_attest(_gce_quote(gce, "sha256")[0])

    assert attest.extra_data == GCE_NONCE
    assert attest.clock_info.reset_count == 10 and attest.clock_info.safe
    assert attest.firmware_version == 0x2016051100162800
    assert attest.quote is not None
    assert attest.quote.pcr_selections[0].indices == tuple(range(24))


@pytest.mark.parametrize("bank", BANKS)
def test_gce_quote_verifies_with_its_nonce_in_every_bank(
    gce: Path, gce_pcrs: dict[str, dict[str, str]], bank: str
) -> None:
    ak = parse_public((gce / "ak_pub.tpmt_public").read_bytes())
    attest, signature = _gce_quote(gce, bank)

    result = verify_quote(
        ak.public_key, attest, signature, _values(gce_pcrs[bank]), GCE_NONCE
    )

    assert result.extra_data == GCE_NONCE


def test_gce_quote_rejected_when_nonce_differs(
    gce: Path, gce_pcrs: dict[str, dict[str, str]]
) -> None:
    ak = parse_public((gce / "ak_pub.tpmt_public").read_bytes())

    with pytest.raises(NonceMismatch) as caught:
        verify_quote(
            ak, *_gce_quote(gce, "sha256"), _values(gce_pcrs["sha256"]), b"\x90\x10"
        )
    assert caught.value.reason == "TPM_NONCE_MISMATCH"


def test_gce_quote_rejected_when_a_pcr_value_is_tampered(
    gce: Path, gce_pcrs: dict[str, dict[str, str]]
) -> None:
    ak = parse_public((gce / "ak_pub.tpmt_public").read_bytes())
    pcrs = _values(gce_pcrs["sha256"])
    pcrs[7] = bytes(32)

    with pytest.raises(ClaimMismatch) as caught:
        verify_quote(ak, *_gce_quote(gce, "sha256"), pcrs, GCE_NONCE)
    assert caught.value.reason == "TPM_PCR_DIGEST_MISMATCH"


def test_gce_quote_rejected_when_its_bytes_are_tampered(
    gce: Path, gce_pcrs: dict[str, dict[str, str]]
) -> None:
    ak = parse_public((gce / "ak_pub.tpmt_public").read_bytes())
    attest, signature = _gce_quote(gce, "sha256")
    tampered = bytearray(attest)
    tampered[-1] ^= 1  # the last byte of pcrDigest

    with pytest.raises(SignatureInvalid) as caught:
        verify_quote(
            ak, bytes(tampered), signature, _values(gce_pcrs["sha256"]), GCE_NONCE
        )
    assert caught.value.reason == "TPM_QUOTE_SIGNATURE"


def test_gce_quote_rejected_under_another_ak(
    gce: Path, gce_pcrs: dict[str, dict[str, str]]
) -> None:
    other = rsa.generate_private_key(65537, 2048).public_key()

    with pytest.raises(SignatureInvalid) as caught:
        verify_quote(
            other, *_gce_quote(gce, "sha256"), _values(gce_pcrs["sha256"]), GCE_NONCE
        )
    assert caught.value.reason == "TPM_QUOTE_SIGNATURE"


def test_gce_quote_rejected_under_an_ec_key() -> None:
    tpm = fake.SoftTPM()
    attest, signature = tpm.quote(b"n", PCRS)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()

    with pytest.raises(SignatureInvalid):
        verify_quote(other, attest, signature, PCRS, b"n")


def test_swtpm_quote_from_trustee_verifies_with_an_spki_ak(vectors: Path) -> None:
    evidence = json.loads((vectors / "tpm/trustee_tpm_evidence.json").read_text())
    key = load_der_public_key(base64.b64decode(evidence["ak_public"]))
    quote = evidence["tpm_quote"]
    attest = base64.b64decode(quote["message"])
    pcrs = {i: bytes.fromhex(v) for i, v in enumerate(quote["pcrs"])}
    nonce = parse_attest(attest).extra_data
    assert isinstance(key, rsa.RSAPublicKey)

    result = verify_quote(
        key, attest, base64.b64decode(quote["signature"]), pcrs, nonce
    )

    assert result.firmware_version == 0x2019102300163636


@pytest.mark.parametrize(
    ("key", "pss", "hash_alg"),
    [
        pytest.param("rsa", False, wire.ALG_SHA1, id="RSASSA with SHA-1"),
        pytest.param("rsa", True, wire.ALG_SHA256, id="RSAPSS with SHA-256"),
        pytest.param("p256", False, wire.ALG_SHA256, id="ECDSA P-256 with SHA-256"),
        pytest.param("p384", False, wire.ALG_SHA384, id="ECDSA P-384 with SHA-384"),
    ],
)
def test_fresh_quotes_verify_in_every_signature_scheme(
    key: str, pss: bool, hash_alg: int
) -> None:
    private: fake.PrivateKey
    if key == "rsa":
        private = rsa.generate_private_key(65537, 2048)
    else:
        curve = ec.SECP256R1() if key == "p256" else ec.SECP384R1()
        private = ec.generate_private_key(curve)
    tpm = fake.SoftTPM(ak=private)
    attest, signature = tpm.quote(b"nonce", PCRS, hash_alg=hash_alg, pss=pss)

    ak = parse_public(tpm.ak_public)
    assert parse_signature(signature).hash_alg == hash_alg
    verify_quote(ak, attest, signature, PCRS, b"nonce")


def test_pcr_digest_uses_the_signature_hash_not_the_bank_hash() -> None:
    tpm = fake.SoftTPM()
    pcrs = {i: bytes(20) for i in range(4)}
    attest, signature = tpm.quote(
        b"n", pcrs, bank=wire.ALG_SHA1, hash_alg=wire.ALG_SHA256
    )

    verify_quote(tpm.ak.public_key(), attest, signature, pcrs, b"n")


def test_quote_rejected_when_magic_is_not_tpm_generated() -> None:
    tpm = fake.SoftTPM()
    attest, signature = tpm.quote(b"n", PCRS, magic=0x12345678)

    with pytest.raises(ClaimMismatch) as caught:
        verify_quote(parse_public(tpm.ak_public), attest, signature, PCRS, b"n")
    assert caught.value.reason == "TPM_QUOTE_MAGIC"


def test_quote_rejected_when_attestation_is_a_certification() -> None:
    tpm = fake.SoftTPM()
    attest, signature = tpm.certify(tpm.ak_public, b"n")

    with pytest.raises(ClaimMismatch) as caught:
        verify_quote(parse_public(tpm.ak_public), attest, signature, PCRS, b"n")
    assert caught.value.reason == "TPM_QUOTE_TYPE"


def test_quote_rejected_when_a_quoted_pcr_value_is_missing() -> None:
    tpm = fake.SoftTPM()
    attest, signature = tpm.quote(b"n", PCRS)

    with pytest.raises(EvidenceMalformed) as caught:
        verify_quote(parse_public(tpm.ak_public), attest, signature, {0: PCRS[0]}, b"n")
    assert caught.value.reason == "TPM_PCR_VALUES_INCOMPLETE"
