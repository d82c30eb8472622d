"""Connection options shared by every API-backed command group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from aura_grpc.console.client import (
    DEFAULT_URL,
    ApiFailure,
    Connection,
    default_cacert,
    default_token,
)

T = TypeVar("T")

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="AURA_URL",
        help="The API (through Envoy).",
        show_default=DEFAULT_URL,
    ),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="AURA_TOKEN",
        help="Bearer token (default: the contents of .aura/dev-token).",
        show_default=False,
    ),
]
CACertOption = Annotated[
    Path | None,
    typer.Option(
        "--cacert",
        envvar="AURA_CACERT",
        help="CA bundle that signed the API's certificate "
        "(default: .aura/pki/ca.pem when it exists, else the system store).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of tables.")
]


@dataclass(frozen=True)
class CliSession:
    connection: Connection
    json: bool


def open_session(
    ctx: typer.Context, url: str, token: str, cacert: Path | None, json_out: bool
) -> None:
    """Group callback body: remember how to reach the API for the subcommands."""
    connection = Connection(
        url or DEFAULT_URL, token or default_token(), cacert or default_cacert()
    )
    ctx.obj = CliSession(connection, json_out)


def session_of(ctx: typer.Context) -> CliSession:
    found = ctx.find_object(CliSession)
    if found is None:  # a subcommand run without its group's callback
        return CliSession(
            Connection(DEFAULT_URL, default_token(), default_cacert()), False
        )
    return found


def guarded(action: Callable[[], T]) -> T:
    """Run an API call; a refusal becomes one `error:` line and exit status 1."""
    try:
        return action()
    except ApiFailure as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def read_document(path: Path) -> Any:
    """A JSON or YAML file, as data."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        typer.echo(f"error: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
