"""`aura audit list|tail`: the audit trail, read through the API."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from aura_grpc.console.output import emit_json, emit_table
from aura_grpc.console.session import (
    CACertOption,
    CliSession,
    JsonOption,
    TokenOption,
    UrlOption,
    guarded,
    open_session,
    session_of,
)

audit_app = typer.Typer(
    help="The audit trail of security events (list, tail). Connection options as "
    "for 'aura admin': aura audit --token TOKEN tail.",
    no_args_is_help=True,
)

COLUMNS = ("id", "at", "event", "outcome", "reason", "device_id", "serial", "token_id")

EventOption = Annotated[
    str, typer.Option(help="An event (cert.revoke) or a prefix ending in '.' (cert.).")
]
DeviceOption = Annotated[str, typer.Option(help="Only this device's events.")]
SerialOption = Annotated[str, typer.Option(help="Only this certificate's events.")]
OrgOption = Annotated[
    str, typer.Option(help="Another org's name (needs the platform scope).")
]


@audit_app.callback()
def connect(
    ctx: typer.Context,
    url: UrlOption = "",
    token: TokenOption = "",
    cacert: CACertOption = None,
    json_out: JsonOption = False,
) -> None:
    open_session(ctx, url, token, cacert, json_out)


def _page(session: CliSession, params: dict[str, Any]) -> dict[str, Any]:
    return guarded(lambda: session.connection.call("GET", "/v2/audit", params=params))


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    event: EventOption = "",
    device: DeviceOption = "",
    serial: SerialOption = "",
    since: Annotated[
        str, typer.Option(help="RFC 3339 time, e.g. 2026-01-31T00:00:00Z.")
    ] = "",
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    org: OrgOption = "",
) -> None:
    """Recent events, newest first."""
    session = session_of(ctx)
    params = {
        "event": event,
        "device_id": device,
        "serial": serial,
        "since": since,
        "page_size": limit,
        "newest_first": "true",
        "org": org,
    }
    events = _page(session, params)["events"]
    emit_json(events) if session.json else emit_table(events, COLUMNS)


@audit_app.command("tail")
def audit_tail(
    ctx: typer.Context,
    event: EventOption = "",
    device: DeviceOption = "",
    serial: SerialOption = "",
    org: OrgOption = "",
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 2.0,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Begin with the oldest event.")
    ] = False,
    max_polls: Annotated[
        int, typer.Option(hidden=True, help="Stop after this many polls (tests).")
    ] = 0,
) -> None:
    """Stream new events as JSON lines until interrupted (Ctrl-C)."""
    session = session_of(ctx)
    filters = {"event": event, "device_id": device, "serial": serial, "org": org}
    cursor = "" if from_start else _newest_id(session, filters)
    polls = 0
    try:
        while not max_polls or polls < max_polls:
            answer = _page(session, {**filters, "page_token": cursor, "page_size": 500})
            for row in answer["events"]:
                print(json.dumps(row, sort_keys=True), flush=True)
            cursor = answer.get("next_page_token") or cursor
            polls += 1
            if len(answer["events"]) < 500:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass


def _newest_id(session: CliSession, filters: dict[str, Any]) -> str:
    """Start after the newest event now there: tail shows what happens next."""
    answer = _page(session, {**filters, "page_size": 1, "newest_first": "true"})
    events = answer["events"]
    return str(events[0]["id"]) if events else ""
