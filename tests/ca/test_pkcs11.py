"""CA keys on a SoftHSM2 token: made there, never exported, signing through it,
and a token outage that heals by itself."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.crl import RevokedEntry, build_crl
from aura_grpc.ca.profile import ClientIdentity, build_client_certificate
from aura_grpc.ca.signers.pkcs11 import Pkcs11Backend
from aura_grpc.ca.signers.pool import SessionPool
from aura_grpc.errors import AlreadyExists, InvalidInput, Unavailable
from tests.crl_verify import openssl_verify_with_crl
from tests.softhsm import PIN, SoftHSM


class SteppedClock:
    """Monotonic time the test moves, so retry pauses cost nothing."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def backend(softhsm: SoftHSM, clock: SteppedClock) -> Iterator[Pkcs11Backend]:
    pool = SessionPool(str(softhsm.module), softhsm.token_label, PIN, 2, clock)
    keys = Pkcs11Backend(pool, softhsm.token_label)
    try:
        yield keys
    finally:
        keys.close()


def label() -> str:
    return f"test-{secrets.token_hex(4)}"


def pem(item: x509.Certificate | x509.CertificateRevocationList) -> str:
    return item.public_bytes(serialization.Encoding.PEM).decode()


def issue_leaf(ca: x509.Certificate, key: object, now: datetime) -> x509.Certificate:
    identity = ClientIdentity("org_1", "dev_1", "laptop", "aura.local")
    device = ed25519.Ed25519PrivateKey.generate().public_key()
    return build_client_certificate(
        identity,
        device,
        12345678901234567890,
        ca,
        key,  # type: ignore[arg-type]
        now - timedelta(minutes=1),
        now + timedelta(days=1),
        "https://aura.test/v2/crl/ca_1",
    )


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_token_key_signs_ca_leaf_and_crl_that_openssl_accepts(
    backend: Pkcs11Backend, tmp_path: Path, algorithm: str
) -> None:
    now = datetime.now(UTC)
    new = backend.create_key(label(), algorithm)
    assert new.key_ref is not None and new.key_ref.startswith("pkcs11:token=")
    assert new.sealed is None
    expected = (
        ed25519.Ed25519PublicKey
        if algorithm == "ed25519"
        else ec.EllipticCurvePublicKey
    )
    assert isinstance(new.key.public_key(), expected)

    ca = make_ca_certificate("acme", "ca_1", new.key, now)
    leaf = issue_leaf(ca, new.key, now)
    crl_der = build_crl(ca, new.key, 1, now, now + timedelta(hours=1), [])
    crl = x509.load_der_x509_crl(crl_der)

    ca.verify_directly_issued_by(ca)
    leaf.verify_directly_issued_by(ca)
    result = openssl_verify_with_crl(tmp_path, pem(ca), pem(crl), pem(leaf))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_revoked_leaf_fails_openssl_with_the_token_signed_crl(
    backend: Pkcs11Backend, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    new = backend.create_key(label(), "ed25519")
    ca = make_ca_certificate("acme", "ca_1", new.key, now)
    leaf = issue_leaf(ca, new.key, now)
    revoked = [RevokedEntry(leaf.serial_number, now, "key_compromise")]
    crl = x509.load_der_x509_crl(
        build_crl(ca, new.key, 2, now, now + timedelta(hours=1), revoked)
    )

    result = openssl_verify_with_crl(tmp_path, pem(ca), pem(crl), pem(leaf))
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr


def test_key_cannot_be_exported(backend: Pkcs11Backend) -> None:
    new = backend.create_key(label(), "ed25519")
    assert new.key_ref is not None

    assert backend.key_attributes(new.key_ref) == {
        "sensitive": True,
        "extractable": False,
    }
    with pytest.raises(TypeError, match="cannot be exported"):
        new.key.private_bytes_raw()  # type: ignore[union-attr]
    assert "on token" in repr(new.key)


def test_key_value_is_refused_by_the_token(backend: Pkcs11Backend) -> None:
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    name = label()
    backend.create_key(name, "p256")
    with backend._pool.lease() as lease:
        key = lease.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=name)
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]


def test_existing_label_is_not_overwritten(backend: Pkcs11Backend) -> None:
    name = label()
    backend.create_key(name, "ed25519")
    with pytest.raises(AlreadyExists, match="aura ca import"):
        backend.create_key(name, "ed25519")


def test_key_ref_for_another_token_is_refused(backend: Pkcs11Backend) -> None:
    with pytest.raises(InvalidInput, match="this server uses"):
        backend.load("ca_1", "pkcs11:token=other;object=x", None)


def test_adopting_reloads_the_same_key(backend: Pkcs11Backend) -> None:
    new = backend.create_key(label(), "p256")
    assert new.key_ref is not None
    adopted = backend.adopt(new.key_ref)
    assert adopted.key_ref == new.key_ref
    assert adopted.key.public_key() == new.key.public_key()


def test_token_outage_is_unavailable_then_heals(
    backend: Pkcs11Backend, softhsm: SoftHSM, clock: SteppedClock
) -> None:
    new = backend.create_key(label(), "ed25519")
    new.key.sign(b"warm")  # type: ignore[call-arg]

    softhsm.take_away()
    try:
        with pytest.raises(Unavailable) as caught:
            new.key.sign(b"during")  # type: ignore[call-arg]
        assert caught.value.reason == "HSM_UNAVAILABLE"
        clock.now += 5
        with pytest.raises(Unavailable):
            new.key.sign(b"still down")  # type: ignore[call-arg]
    finally:
        softhsm.bring_back()

    with pytest.raises(Unavailable, match="retrying"):
        new.key.sign(b"too soon")  # type: ignore[call-arg]
    clock.now += 5
    signature = new.key.sign(b"after")  # type: ignore[call-arg]
    new.key.public_key().verify(signature, b"after")  # type: ignore[call-arg]


# python-pkcs11 finalises a search on the dead session and reports it as unraisable.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sessions_closed_under_the_pool_heal(
    backend: Pkcs11Backend, clock: SteppedClock
) -> None:
    new = backend.create_key(label(), "p256")
    with backend._pool.lease() as lease:
        lease.session.close()  # as if the token logged the application out

    with pytest.raises(Unavailable):
        new.key.sign(b"x", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    clock.now += 5
    new.key.public_key().verify(  # type: ignore[call-arg]
        new.key.sign(b"y", ec.ECDSA(hashes.SHA256())),
        b"y",
        ec.ECDSA(hashes.SHA256()),  # type: ignore[call-arg]
    )


def test_a_refused_pin_is_not_retried(softhsm: SoftHSM, clock: SteppedClock) -> None:
    pool = SessionPool(str(softhsm.module), softhsm.token_label, "999999", 1, clock)
    keys = Pkcs11Backend(pool, softhsm.token_label)
    for _ in range(3):
        clock.now += 5
        with pytest.raises(Unavailable) as caught:
            keys.create_key(label(), "ed25519")
        assert caught.value.reason == "HSM_PIN_REFUSED"
    assert pool._pin_refused
