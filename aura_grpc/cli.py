"""The `aura` command: run the service, bootstrap it offline, administer it.

Offline commands (`org`, `token`, `ca`, `backup`, `restore`, `config`) open the
database or files directly and are how the first admin token is made; `admin`
and `audit` talk to a running server through Envoy, like any client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from aura_grpc import logfields
from aura_grpc.auth.scopes import parse_scopes
from aura_grpc.config import Settings
from aura_grpc.console.admin import admin_app
from aura_grpc.console.audit import audit_app
from aura_grpc.console.maintenance import (
    ConfigOption,
    backup_command,
    config_app,
    restore_command,
    settings_or_exit,
)
from aura_grpc.devsetup import ensure_default_org
from aura_grpc.errors import AlreadyExists, AuraError
from aura_grpc.server import Backend
from aura_grpc.services.audit import Actor
from aura_grpc.supervisor import Supervisor, exit_with_parent, worker_settings

app = typer.Typer(
    help="AURA: attested devices get mTLS client certificates.\n\n"
    "Start with 'aura serve' (dev profile: prints an admin token). Then "
    "'aura admin --help' administers the running server through its API "
    "(orgs, tokens, devices, certificates, CA, reference values, policy, "
    "approvals) and 'aura audit tail' follows the audit trail. The 'org', "
    "'token' and 'ca' groups work offline on the database, to make the first "
    "admin or platform token before anything runs.",
    no_args_is_help=True,
)
org_app = typer.Typer(
    help="Offline: create orgs in the database (server may be stopped).",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Offline: create bearer tokens in the database (the first admin or "
    "platform token).",
    no_args_is_help=True,
)
app.add_typer(org_app, name="org")
app.add_typer(token_app, name="token")
ca_app = typer.Typer(
    help="Offline: create, rotate or import an org's CA in the database.",
    no_args_is_help=True,
)
app.add_typer(ca_app, name="ca")


@app.callback()
def _private_files() -> None:
    # Everything AURA writes (database, WAL, logs, backups, keys) is for this
    # user alone: the database holds each org's device-id key and token hashes.
    os.umask(0o077)


app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(config_app, name="config")
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def _fail(exc: AuraError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(1)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def _serve(settings: Settings, with_envoy: bool) -> None:
    backend = Backend(settings)
    await backend.open_database()
    token = None
    if settings.profile == "dev":
        settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.state_dir.chmod(0o700)
        token = await ensure_default_org(backend.orgs(), settings.state_dir)
    envoy = None
    try:
        await backend.start()
        if with_envoy:
            envoy, ca_cert = _start_gateway(
                settings, [settings.resolved_backend_socket]
            )
            _print_welcome(settings, ca_cert, token)
        await _until_signalled()
    finally:
        _stop_envoy(envoy)
        await backend.stop()


async def _serve_workers(
    settings: Settings, with_envoy: bool, supervisor: Supervisor
) -> None:
    # Migrations and the dev org happen once, here, before any worker starts.
    setup = Backend(settings)
    await setup.open_database()
    token = None
    try:
        if settings.profile == "dev":
            settings.state_dir.mkdir(parents=True, exist_ok=True)
            token = await ensure_default_org(setup.orgs(), settings.state_dir)
    finally:
        await setup.stop()

    envoy = None
    watching = None
    try:
        await supervisor.start()
        watching = asyncio.create_task(supervisor.supervise())
        if with_envoy:
            sockets = [worker.socket for worker in supervisor.workers]
            envoy, ca_cert = _start_gateway(settings, sockets)
            _print_welcome(settings, ca_cert, token)
        await _until_signalled()
    finally:
        if watching is not None:
            watching.cancel()
        _stop_envoy(envoy)
        supervisor.stop()


def _start_gateway(
    settings: Settings, sockets: list[str]
) -> tuple[subprocess.Popen[bytes], Path]:
    from gateway.bootstrap import DeviceListener, render, start_envoy, wait_ready

    paths = render(
        settings.state_dir,
        api_host=settings.api_host,
        api_port=settings.api_port,
        admin_port=settings.envoy_admin_port,
        backend_socket=sockets,
        device=DeviceListener(
            settings.device_port,
            settings.upstream_address,
            settings.upstream_allowed_org,
            settings.device_max_connection_seconds,
        ),
    )
    envoy = start_envoy(paths.bootstrap, settings.state_dir / "envoy.log")
    wait_ready(envoy, settings.envoy_admin_port, settings.state_dir / "envoy.log")
    return envoy, paths.ca_cert


def _stop_envoy(envoy: subprocess.Popen[bytes] | None) -> None:
    if envoy is not None:
        envoy.terminate()
        with contextlib.suppress(Exception):
            envoy.wait(timeout=10)


def _print_welcome(settings: Settings, ca_cert: Path, token: str | None) -> None:
    token_file = settings.state_dir / "dev-token"
    shown = token or f"$(cat {token_file})"
    url = settings.resolved_public_base_url
    lines = [
        "",
        f"AURA is running ({settings.profile} profile): API {url}",
        f"  admin token for org 'default': {token or 'see ' + str(token_file)}",
        "  try:",
        f'    curl --cacert {ca_cert} -H "authorization: Bearer {shown}" \\',
        f"         -X POST {url}/v2/attest/challenge -d '{{}}'",
        "  administer it: aura admin --help   (audit: aura audit tail)",
        "",
    ]
    typer.echo("\n".join(lines))


@app.command()
def serve(
    config: ConfigOption = None,
    envoy: Annotated[bool, typer.Option(help="Also start Envoy in front.")] = True,
    log_level: Annotated[str, typer.Option(help="Python log level.")] = "INFO",
    log_format: Annotated[
        str | None,
        typer.Option(help="text or json (one object a line); default: the setting."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Backend processes behind Envoy (0 = one per core); default: "
            "the 'workers' setting.",
        ),
    ] = None,
) -> None:
    """Run the gRPC backend (and, by default, Envoy in front of it)."""
    settings = settings_or_exit(config)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if log_format not in (None, "text", "json"):
        typer.echo("error: --log-format is text or json", err=True)
        raise typer.Exit(2)
    logfields.configure(log_level.upper(), log_format or settings.log_format)
    count = settings.resolved_workers
    with contextlib.suppress(KeyboardInterrupt):
        if count == 1:
            asyncio.run(_serve(settings, envoy))
            return
        log_args = ["--log-level", log_level]
        log_args += ["--log-format", log_format] if log_format else []
        supervisor = Supervisor.for_settings(settings, count, config, log_args)
        asyncio.run(_serve_workers(settings, envoy, supervisor))


@app.command("worker", hidden=True)
def worker(
    index: Annotated[int, typer.Option(help="This worker's number, from 0.")],
    count: Annotated[int, typer.Option(help="How many workers there are.")],
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="Python log level.")] = "INFO",
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
) -> None:
    """One backend worker; started by 'aura serve --workers N', not by hand."""
    settings = worker_settings(settings_or_exit(config), index, count)
    logfields.configure(log_level.upper(), log_format or settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    parent = os.getppid()
    backend = Backend(settings)
    try:
        await backend.start()
        waits = [
            asyncio.create_task(_until_signalled()),
            asyncio.create_task(exit_with_parent(parent)),
        ]
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
    finally:
        await backend.stop()


@org_app.command("create")
def org_create(name: str, config: ConfigOption = None) -> None:
    """Create an org."""

    async def run() -> str:
        backend = Backend(settings_or_exit(config))
        await backend.open_database()
        try:
            return (await backend.orgs().create_org(name)).id
        finally:
            await backend.stop()

    try:
        typer.echo(asyncio.run(run()))
    except AuraError as exc:
        raise _fail(exc) from exc


@token_app.command("create")
def token_create(
    org: Annotated[str, typer.Option(help="Org name.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: admin, device, read, revoke, issue_any, approve, "
            "platform (only for the 'platform' org)."
        ),
    ],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    config: ConfigOption = None,
) -> None:
    """Create a token and print its secret once (it is stored only as a hash)."""
    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def run() -> str:
        backend = Backend(settings_or_exit(config))
        await backend.open_database()
        try:
            return (await backend.orgs().create_token(org, wanted, label)).bearer
        finally:
            await backend.stop()

    try:
        typer.echo(asyncio.run(run()))
    except AuraError as exc:
        raise _fail(exc) from exc


KeyRefOption = Annotated[
    str | None,
    typer.Option(
        "--key-ref",
        help="Where the CA key lives: pkcs11:token=...;object=... (made there on "
        "create/rotate; default: the CA id as the label on the configured token).",
    ),
]


async def _ca_change(
    config: Path | None, org: str, rotate: bool, key_ref: str | None = None
) -> str:
    backend = Backend(settings_or_exit(config))
    await backend.open_database()
    try:
        org_row = await backend.orgs().get_org(org)
        authorities = backend.authority_service()
        live = await authorities.live_cas(org_row.id)
        if live and not rotate:
            raise AlreadyExists(f"org '{org}' already has CA {live[0].id}; use rotate")
        actor = Actor(org_row.id, None, "cli")
        row = await authorities.create_ca(
            org_row.id, actor, replace_active=rotate, key_ref=key_ref
        )
        return row.id
    finally:
        await backend.stop()


async def _ca_import(
    config: Path | None, org: str, key_ref: str, cert_pem: str, rotate: bool
) -> str:
    backend = Backend(settings_or_exit(config))
    await backend.open_database()
    try:
        org_row = await backend.orgs().get_org(org)
        authorities = backend.authority_service()
        live = await authorities.live_cas(org_row.id)
        if live and not rotate:
            raise AlreadyExists(
                f"org '{org}' already has CA {live[0].id}; add --rotate"
            )
        actor = Actor(org_row.id, None, "cli")
        row = await authorities.import_ca(
            org_row.id, actor, key_ref, cert_pem, replace_active=rotate
        )
        return row.id
    finally:
        await backend.stop()


@ca_app.command("create")
def ca_create(
    org: Annotated[str, typer.Option(help="Org name.")],
    config: ConfigOption = None,
    key_ref: KeyRefOption = None,
) -> None:
    """Create the org's first CA (the prod profile needs this before issuance)."""
    try:
        typer.echo(asyncio.run(_ca_change(config, org, False, key_ref)))
    except AuraError as exc:
        raise _fail(exc) from exc


@ca_app.command("rotate")
def ca_rotate(
    org: Annotated[str, typer.Option(help="Org name.")],
    config: ConfigOption = None,
    key_ref: KeyRefOption = None,
) -> None:
    """Make a new CA the issuer; the old one stays trusted until its last
    certificate expires, and both publish CRLs."""
    try:
        typer.echo(asyncio.run(_ca_change(config, org, True, key_ref)))
    except AuraError as exc:
        raise _fail(exc) from exc


@ca_app.command("import")
def ca_import(
    org: Annotated[str, typer.Option(help="Org name.")],
    key_ref: Annotated[
        str, typer.Option("--key-ref", help="The existing token key: pkcs11:...")
    ],
    cert: Annotated[
        Path, typer.Option(help="PEM CA certificate whose key is that token key.")
    ],
    rotate: Annotated[
        bool, typer.Option(help="Replace the org's active CA (it keeps being trusted).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Adopt a CA whose key already lives on the HSM; no key bytes are stored."""
    try:
        cert_pem = cert.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {cert}: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        typer.echo(asyncio.run(_ca_import(config, org, key_ref, cert_pem, rotate)))
    except AuraError as exc:
        raise _fail(exc) from exc


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
