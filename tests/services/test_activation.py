"""The service half of TPM credential activation, on real SQLite, without swtpm.

SoftTPM quotes like a TPM; the TPM side of ActivateCredential is done here in
software with the EK's private key (test_swtpm.py does it with a real TPM).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from aura_grpc.attestation.registry import VerifierRegistry
from aura_grpc.attestation.tpm import fake, wire
from aura_grpc.attestation.tpm.credential import kdfa
from aura_grpc.attestation.tpm.structures import DECRYPT, RESTRICTED, SIGN_ENCRYPT
from aura_grpc.auth.scopes import Scope
from aura_grpc.auth.tokens import Principal
from aura_grpc.clock import Clocks
from aura_grpc.config import load_settings
from aura_grpc.errors import AuraError, EvidenceMalformed
from aura_grpc.server import Backend
from aura_grpc.services.attestation import AttestationService
from aura_grpc.services.audit import Actor
from tests.attestation.tpm.helpers import FakeCA

EK_SYMMETRIC = struct.pack(">HHH", wire.ALG_AES, 128, wire.ALG_CFB)
EK_ATTRIBUTES = fake.AK_ATTRIBUTES & ~SIGN_ENCRYPT | RESTRICTED | DECRYPT
PCRS = {i: hashlib.sha256(bytes([i])).digest() for i in range(8)}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Device:
    """A TPM in software: an EK that activates credentials, a SoftTPM AK."""

    ek: rsa.RSAPrivateKey
    ak: fake.SoftTPM

    @classmethod
    def make(cls) -> Device:
        return cls(rsa.generate_private_key(65537, 2048), fake.SoftTPM())

    @property
    def ek_public(self) -> bytes:
        return fake.marshal_public(
            self.ek.public_key(), attributes=EK_ATTRIBUTES, symmetric=EK_SYMMETRIC
        )

    @property
    def ak_name(self) -> bytes:
        return fake.name_of(self.ak.ak_public)

    def activate(self, blob: bytes, encrypted: bytes) -> bytes:
        """TPM2_ActivateCredential: unwrap the seed, check integrity, decrypt."""
        oaep = padding.OAEP(
            padding.MGF1(hashes.SHA256()), hashes.SHA256(), b"IDENTITY\0"
        )
        seed = self.ek.decrypt(encrypted[2:], oaep)
        integrity, enc_identity = blob[4:36], blob[36:]
        hmac_key = kdfa(wire.ALG_SHA256, seed, b"INTEGRITY", b"", b"", 256)
        mac = hmac.new(hmac_key, enc_identity + self.ak_name, "sha256").digest()
        assert hmac.compare_digest(integrity, mac), "wrapped for another AK"

        key = kdfa(wire.ALG_SHA256, seed, b"STORAGE", self.ak_name, b"", 128)
        decryptor = Cipher(algorithms.AES(key), CFB(bytes(16))).decryptor()
        plain = decryptor.update(enc_identity) + decryptor.finalize()
        return plain[2 : 2 + int.from_bytes(plain[:2], "big")]

    def payload(
        self, nonce: bytes, clock: tuple[int, int, int] = (1000, 1, 0)
    ) -> dict[str, Any]:
        attest, signature = self.ak.quote(nonce, PCRS, clock=clock)
        return {
            "nonce": b64(nonce),
            "ak_public": b64(fake.sized(self.ak.ak_public)),
            "ek_public": b64(self.ek_public),
            "quote": b64(attest),
            "signature": b64(signature),
            "pcrs": {str(i): v.hex() for i, v in PCRS.items()},
        }


@dataclass
class Harness:
    service: AttestationService
    principal: Principal
    actor: Actor

    async def activated_secret(
        self, device: Device, ak: fake.SoftTPM | None = None
    ) -> bytes:
        """Step one, and the TPM's ActivateCredential for (EK, `ak` or its own AK)."""
        holder = Device(device.ek, ak or device.ak)
        challenge = await self.service.create_credential_challenge(
            self.principal, holder.ek_public, fake.sized(holder.ak.ak_public)
        )
        return holder.activate(challenge.credential_blob, challenge.encrypted_secret)

    async def attest(self, payload: dict[str, Any]) -> Any:
        return await self.service.attest(self.principal, self.actor, "tpm", payload)

    async def reason(self, payload: dict[str, Any]) -> str:
        with pytest.raises(AuraError) as caught:
            await self.attest(payload)
        return caught.value.reason


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = load_settings(None, state_dir=tmp_path)
    backend = Backend(settings)
    sessions = await backend.open_database()
    try:
        orgs = backend.orgs()
        await orgs.create_org("acme")
        token = await orgs.create_token("acme", frozenset({Scope.DEVICE}))
        principal = await orgs.authenticate(token.bearer)
        registry = VerifierRegistry.build("dev")
        service = AttestationService(sessions, registry, settings, Clocks())
        yield Harness(service, principal, Actor(principal.org_id, principal.token_id))
    finally:
        await backend.stop()


async def test_activated_secret_makes_the_ek_vouch_for_the_ak(harness: Harness) -> None:
    device = Device.make()
    secret = await harness.activated_secret(device)

    outcome = await harness.attest(device.payload(secret))

    assert outcome.posture_ok
    assert outcome.issue_ticket


async def test_plain_challenge_nonce_does_not_satisfy_the_ek_path(
    harness: Harness,
) -> None:
    device = Device.make()
    challenge = await harness.service.create_challenge(harness.principal)

    payload = device.payload(challenge.nonce)

    assert await harness.reason(payload) == "TPM_CREDENTIAL_NOT_ACTIVATED"
    assert await harness.reason(payload) == "NONCE_INVALID"  # it was spent


async def test_secret_wrapped_for_another_ak_is_refused(harness: Harness) -> None:
    # The TPM's genuine AK activates the secret; the quote comes from another AK
    # (a key outside the TPM) that claims the same EK.
    device, genuine_ak = Device.make(), fake.SoftTPM()
    secret = await harness.activated_secret(device, ak=genuine_ak)

    reason = await harness.reason(device.payload(secret))

    assert reason == "TPM_CREDENTIAL_NOT_ACTIVATED"


async def test_secret_wrapped_for_another_ek_is_refused(harness: Harness) -> None:
    device_a, device_b = Device.make(), Device.make()
    secret = await harness.activated_secret(device_a)

    payload = Device(device_b.ek, device_a.ak).payload(secret)

    assert await harness.reason(payload) == "TPM_CREDENTIAL_NOT_ACTIVATED"


async def test_activation_secret_is_single_use(harness: Harness) -> None:
    device = Device.make()
    secret = await harness.activated_secret(device)
    await harness.attest(device.payload(secret))

    assert await harness.reason(device.payload(secret)) == "NONCE_INVALID"


async def test_challenge_refuses_an_ak_without_restricted_sign_attributes(
    harness: Harness,
) -> None:
    device = Device.make()
    weak = fake.SoftTPM(attributes=fake.AK_ATTRIBUTES & ~RESTRICTED)

    with pytest.raises(AuraError) as caught:
        await harness.service.create_credential_challenge(
            harness.principal, device.ek_public, weak.ak_public
        )
    assert caught.value.reason == "TPM_AK_ATTRIBUTES"


async def test_challenge_refuses_an_ek_that_is_not_a_decryption_key(
    harness: Harness,
) -> None:
    device = Device.make()

    with pytest.raises(AuraError) as caught:
        await harness.service.create_credential_challenge(
            harness.principal, device.ak.ak_public, device.ak.ak_public
        )
    assert caught.value.reason == "TPM_EK_ATTRIBUTES"


async def test_challenge_refuses_an_ek_certificate_for_another_key(
    harness: Harness,
) -> None:
    device = Device.make()
    other = FakeCA().issue(rsa.generate_private_key(65537, 2048).public_key())

    with pytest.raises(AuraError) as caught:
        await harness.service.create_credential_challenge(
            harness.principal, device.ek_public, device.ak.ak_public, other
        )
    assert caught.value.reason == "TPM_EK_CERT_KEY_MISMATCH"


async def test_challenge_accepts_an_ek_certificate_for_the_ek(harness: Harness) -> None:
    device = Device.make()
    cert = FakeCA().issue(device.ek.public_key())
    challenge = await harness.service.create_credential_challenge(
        harness.principal, device.ek_public, device.ak.ak_public, cert
    )
    assert device.activate(challenge.credential_blob, challenge.encrypted_secret)


async def test_challenge_refuses_garbage_as_malformed(harness: Harness) -> None:
    with pytest.raises(EvidenceMalformed):
        await harness.service.create_credential_challenge(
            harness.principal, b"\x00\x01garbage", b"\x00"
        )


@pytest.mark.parametrize(
    ("later", "failed"),
    [
        pytest.param((900, 1, 0), ["clock_decreased"], id="clock went back"),
        pytest.param((5000, 0, 0), ["reset_count_decreased"], id="reset count fell"),
        pytest.param((2000, 1, 0), [], id="clock moved forward"),
    ],
)
async def test_tpm_counters_that_go_backwards_fail_the_posture(
    harness: Harness, later: tuple[int, int, int], failed: list[str]
) -> None:
    device = Device.make()
    first = await harness.attest(device.payload(await harness.activated_secret(device)))
    assert first.posture_ok

    secret = await harness.activated_secret(device)
    outcome = await harness.attest(device.payload(secret, clock=later))

    assert outcome.failed_checks == failed
    assert outcome.posture_ok is not failed
    assert (outcome.issue_ticket == "") is bool(failed)
