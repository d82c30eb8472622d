"""`aura admin ...`: every API-backed administration command, one group each."""

from __future__ import annotations

import typer

from aura_grpc.console.devices import ca_app, cert_app, device_app
from aura_grpc.console.orgs import org_app, token_app
from aura_grpc.console.policy import approval_app, policy_app, refs_app
from aura_grpc.console.session import (
    CACertOption,
    JsonOption,
    TokenOption,
    UrlOption,
    open_session,
)

admin_app = typer.Typer(
    help="Administer a running AURA through its API (HTTPS via Envoy, bearer "
    "token). Connection options go before the group: "
    "aura admin --url URL --token TOKEN --json device list. Defaults suit "
    "'aura serve' in this directory (.aura/dev-token, .aura/pki/ca.pem).",
    no_args_is_help=True,
)


@admin_app.callback()
def connect(
    ctx: typer.Context,
    url: UrlOption = "",
    token: TokenOption = "",
    cacert: CACertOption = None,
    json_out: JsonOption = False,
) -> None:
    open_session(ctx, url, token, cacert, json_out)


for name, group in (
    ("org", org_app),
    ("token", token_app),
    ("device", device_app),
    ("cert", cert_app),
    ("ca", ca_app),
    ("refs", refs_app),
    ("policy", policy_app),
    ("approval", approval_app),
):
    admin_app.add_typer(group, name=name)
