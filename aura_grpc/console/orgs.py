"""`aura admin org ...` and `aura admin token ...`: orgs and bearer tokens."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from aura_grpc.console.output import emit_fields, emit_json, emit_table
from aura_grpc.console.session import guarded, session_of

org_app = typer.Typer(
    help="Orgs (create, list, disable): needs a token with the platform scope.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Bearer tokens of an org (create, list, revoke).", no_args_is_help=True
)

TOKEN_COLUMNS = ("token_id", "org", "scopes", "label", "status", "expires_at")
ORG_COLUMNS = ("name", "org_id", "disabled", "created_at")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

OrgNameOption = Annotated[
    str,
    typer.Option(
        "--org", help="Another org's name (needs the platform scope); default: yours."
    ),
]


def parse_duration(text: str) -> int:
    """`90d`, `12h`, `30m`, `45s` -> seconds; empty means never."""
    if not text:
        return 0
    match = _DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter("use a number and a unit: 45s, 30m, 12h, 90d")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        # Zero would read as "never expires": leave the option out for that.
        raise typer.BadParameter("a lifetime must be longer than zero")
    return seconds


@org_app.command("create")
def org_create(ctx: typer.Context, name: str) -> None:
    """Create an org."""
    session = session_of(ctx)
    org = guarded(
        lambda: session.connection.call("POST", "/v2/admin/orgs", {"name": name})
    )["org"]
    emit_json(org) if session.json else emit_fields(org)


@org_app.command("list")
def org_list(ctx: typer.Context) -> None:
    """Every org."""
    session = session_of(ctx)
    orgs = guarded(lambda: session.connection.call("GET", "/v2/admin/orgs"))["orgs"]
    emit_json(orgs) if session.json else emit_table(orgs, ORG_COLUMNS)


@org_app.command("disable")
def org_disable(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Disable an org: its tokens stop working and its certificates are revoked."""
    session = session_of(ctx)
    if not yes:
        typer.confirm(f"Disable org '{name}' and revoke its certificates?", abort=True)
    answer = guarded(
        lambda: session.connection.call("POST", f"/v2/admin/orgs/{name}:disable", {})
    )
    if session.json:
        emit_json(answer)
    else:
        emit_fields(answer["org"])
        typer.echo(f"revoked {len(answer['revoked_serials'])} certificate(s)")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: admin, device (attest and issue for one's own "
            "device), read, revoke, issue_any (issue for any device), approve, "
            "platform (the 'platform' org only)."
        ),
    ],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    expires_in: Annotated[
        str, typer.Option(help="Lifetime, e.g. 90d or 12h; default: never expires.")
    ] = "",
    org: OrgNameOption = "",
) -> None:
    """Create a token; its secret is printed once and stored only as a hash."""
    session = session_of(ctx)
    body = {
        "org": org,
        "scopes": [s.strip() for s in scopes.split(",") if s.strip()],
        "label": label,
        "ttl_seconds": parse_duration(expires_in),
    }
    answer = guarded(lambda: session.connection.call("POST", "/v2/admin/tokens", body))
    if session.json:
        emit_json(answer)
        return
    emit_fields(answer["token"])
    typer.echo(f"\nbearer (shown once, keep it safe):\n{answer['bearer']}")


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    org: OrgNameOption = "",
    include_revoked: Annotated[
        bool, typer.Option("--all", help="Include revoked tokens.")
    ] = False,
) -> None:
    """The org's tokens (never their secrets)."""
    session = session_of(ctx)
    params = {"org": org, "include_revoked": "true" if include_revoked else ""}
    tokens = guarded(
        lambda: session.connection.call("GET", "/v2/admin/tokens", params=params)
    )["tokens"]
    emit_json(tokens) if session.json else emit_table(tokens, TOKEN_COLUMNS)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: str) -> None:
    """Revoke a token by its id (tok_...); it stops working at once."""
    session = session_of(ctx)
    token = guarded(
        lambda: session.connection.call(
            "POST", f"/v2/admin/tokens/{token_id}:revoke", {}
        )
    )["token"]
    emit_json(token) if session.json else emit_fields(token)
