"""Offline commands: backup, restore and configuration checks."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from aura_grpc.config import ConfigError, Settings, load_settings
from aura_grpc.errors import AuraError
from aura_grpc.services import backup as backups
from aura_grpc.services.audit import Actor, record
from aura_grpc.services.authorities import ACTIVE, RETIRING

config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML configuration file.")
]


def settings_or_exit(config: Path | None) -> Settings:
    """The validated settings, or every problem printed and exit code 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _database(settings: Settings) -> Path:
    try:
        return backups.sqlite_path(settings.resolved_database_url)
    except AuraError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@config_app.command("check")
def config_check(
    file: Annotated[
        Path | None, typer.Argument(help="YAML file; default: AURA_CONFIG.")
    ] = None,
) -> None:
    """Validate a configuration file (and AURA_* variables); start nothing."""
    settings = settings_or_exit(file)
    typer.echo(
        f"configuration OK: profile {settings.profile}, "
        f"state_dir {settings.state_dir}, "
        f"API port {settings.api_port}, metrics port {settings.metrics_port or 'off'}"
    )


def backup_command(
    path: Annotated[Path, typer.Argument(help="New file to write the backup to.")],
    config: ConfigOption = None,
) -> None:
    """Copy the SQLite database to PATH, consistently, even while serving.

    The master key file (CA keys are sealed under it) is not in the database:
    back it up separately and keep it apart from the database backups."""
    settings = settings_or_exit(config)
    try:
        summary = backups.backup(_database(settings), path)
    except AuraError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    counts = ", ".join(f"{v} {k}" for k, v in asdict(summary).items())
    typer.echo(f"backup written to {path}: {counts}")


def restore_command(
    path: Annotated[Path, typer.Argument(help="A file written by 'aura backup'.")],
    config: ConfigOption = None,
) -> None:
    """Replace the database with a backup (stop the server first), then re-sign
    every live CRL so its number is above any published before."""
    settings = settings_or_exit(config)
    database = _database(settings)
    try:
        summary = backups.restore(
            path, database, Path(settings.resolved_backend_socket)
        )
        numbers = asyncio.run(_after_restore(settings, str(path)))
    except AuraError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    counts = ", ".join(f"{v} {k}" for k, v in asdict(summary).items())
    typer.echo(f"restored {database} from {path}: {counts}")
    for ca_id, number in numbers.items():
        typer.echo(f"  CRL of {ca_id} re-signed, number {number}")


async def _after_restore(settings: Settings, source: str) -> dict[str, int]:
    from sqlalchemy import select

    from aura_grpc.server import Backend
    from aura_grpc.store.models import CertificateAuthority

    backend = Backend(settings)
    sessions = await backend.open_database()
    try:
        async with sessions.begin() as session:
            ca_ids = list(
                (
                    await session.scalars(
                        select(CertificateAuthority.id).where(
                            CertificateAuthority.status.in_([ACTIVE, RETIRING])
                        )
                    )
                ).all()
            )
            record(
                session,
                backend.clocks.issuing.now(),
                Actor(None, None, "cli"),
                "db.restore",
                "ok",
                source=source,
            )
        authorities = backend.authority_service()
        return {ca_id: await authorities.resign_crl(ca_id) for ca_id in ca_ids}
    finally:
        await backend.stop()
