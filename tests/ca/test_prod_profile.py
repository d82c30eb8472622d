"""The prod profile keeps CA keys on an HSM: the sealed backend is refused at
start, and `aura ca create/rotate/import` work by key_ref on the token."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.sealing import MasterKey
from aura_grpc.ca.signers.sealed import SealedBackend
from aura_grpc.cli import app
from aura_grpc.clock import SystemClock
from aura_grpc.config import ConfigError, Settings, load_settings
from aura_grpc.errors import InvalidInput, PreconditionFailed
from aura_grpc.server import Backend
from aura_grpc.services.audit import Actor
from aura_grpc.services.authorities import AuthorityService
from tests.softhsm import SoftHSM


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"profile": "prod"}, "keeps CA keys on an HSM"),
        (
            {"profile": "prod", "ca_key_backend": "sealed", "master_key_file": "/k"},
            "keeps CA keys on an HSM",
        ),
        (
            {"ca_key_backend": "pkcs11"},
            "needs pkcs11_module, pkcs11_token_label, pkcs11_pin or pkcs11_pin_file",
        ),
    ],
    ids=["prod by default", "prod with a master key", "pkcs11 half configured"],
)
def test_unsafe_key_configuration_is_refused_at_start(
    overrides: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(None, **overrides)


def test_pin_stays_out_of_the_settings_repr() -> None:
    settings = Settings(
        ca_key_backend="pkcs11",
        pkcs11_module=Path("/m.so"),
        pkcs11_token_label="t",
        pkcs11_pin="s3cret-pin",  # type: ignore[arg-type]
    )
    assert "s3cret-pin" not in repr(settings)


async def test_a_ca_without_a_pkcs11_key_ref_is_refused_in_prod(tmp_path: Path) -> None:
    backend = Backend(Settings(state_dir=tmp_path))
    sessions = await backend.open_database()
    try:
        org = await backend.orgs().create_org("acme")
        authorities = AuthorityService(
            sessions,
            SealedBackend(MasterKey(bytes(32))),
            SystemClock(),
            timedelta(hours=24),
            create_on_first_use=False,
            required_key_scheme="pkcs11",
        )
        with pytest.raises(PreconditionFailed) as caught:
            await authorities.create_ca(
                org.id, Actor(org.id, None, "t"), replace_active=False
            )
        assert caught.value.reason == "KEY_REF_REQUIRED"
        assert await authorities.live_cas(org.id) == []

        with pytest.raises(InvalidInput, match="needs ca_key_backend pkcs11"):
            await authorities.create_ca(
                org.id, Actor(org.id, None, "t"), replace_active=False, key_ref="x"
            )
    finally:
        await backend.stop()


@pytest.fixture
def prod_config(tmp_path: Path, softhsm: SoftHSM) -> Path:
    settings = {key: str(value) for key, value in softhsm.settings().items()} | {
        "profile": "prod",
        "state_dir": str(tmp_path / "state"),
    }
    path = tmp_path / "aura.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def cas(config: Path) -> list[tuple[str, str | None, bytes | None]]:
    with sqlite3.connect(config.parent / "state" / "aura.db") as db:
        return list(
            db.execute(
                "SELECT status, key_ref, key_sealed FROM certificate_authorities"
            )
        )


def test_cli_creates_rotates_and_imports_cas_on_the_token(
    prod_config: Path, softhsm: SoftHSM, tmp_path: Path
) -> None:
    runner = CliRunner()
    cfg = ["--config", str(prod_config)]
    assert runner.invoke(app, ["org", "create", "acme", *cfg]).exit_code == 0

    ref = f"pkcs11:token={softhsm.token_label};object=cli-{tmp_path.name}"
    created = runner.invoke(
        app, ["ca", "create", "--org", "acme", "--key-ref", ref, *cfg]
    )
    assert created.exit_code == 0, created.output
    assert cas(prod_config) == [("active", f"{ref};type=private", None)]

    sealed = runner.invoke(
        app, ["ca", "rotate", "--org", "acme", "--key-ref", "sealed:x", *cfg]
    )
    assert sealed.exit_code == 1 and "pkcs11: key_refs" in sealed.output

    rotated = runner.invoke(app, ["ca", "rotate", "--org", "acme", *cfg])
    assert rotated.exit_code == 0, rotated.output
    statuses = sorted(
        (status, str(key_ref)[:30]) for status, key_ref, _ in cas(prod_config)
    )
    assert statuses == [
        ("active", "pkcs11:token=aura-test;object="),
        ("retiring", "pkcs11:token=aura-test;object="),
    ]


def test_cli_import_adopts_a_token_key_with_its_certificate(
    prod_config: Path, softhsm: SoftHSM, tmp_path: Path
) -> None:
    from aura_grpc.ca.signers.factory import key_backend_from

    keys = key_backend_from(load_settings(prod_config))
    try:
        made = keys.create_key(f"adopt-{tmp_path.name}", "ed25519")
        cert = make_ca_certificate("acme", "hsm-root", made.key, SystemClock().now())
    finally:
        keys.close()
    cert_file = tmp_path / "ca.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    runner = CliRunner()
    cfg = ["--config", str(prod_config)]
    runner.invoke(app, ["org", "create", "acme", *cfg])
    args = ["ca", "import", "--org", "acme", "--key-ref", str(made.key_ref)]
    imported = runner.invoke(app, [*args, "--cert", str(cert_file), *cfg])
    assert imported.exit_code == 0, imported.output
    assert cas(prod_config) == [("active", made.key_ref, None)]

    again = runner.invoke(app, [*args, "--cert", str(cert_file), *cfg])
    assert again.exit_code == 1 and "--rotate" in again.output
