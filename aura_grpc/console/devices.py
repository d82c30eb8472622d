"""`aura admin device|cert|ca ...`: devices, certificates and the org's CA."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aura_grpc.console.output import emit_fields, emit_json, emit_table
from aura_grpc.console.session import guarded, session_of

device_app = typer.Typer(
    help="Attested devices (list, show, forget, revoke-certs).", no_args_is_help=True
)
cert_app = typer.Typer(
    help="Issued certificates (list, show, revoke, crl).", no_args_is_help=True
)
ca_app = typer.Typer(
    help="The org's client-certificate CA (show, rotate).", no_args_is_help=True
)

DEVICE_COLUMNS = (
    "device_id",
    "type",
    "posture_ok",
    "stale",
    "last_attested_at",
    "active_certificates",
)
CERT_COLUMNS = ("serial", "device_id", "subject_cn", "status", "not_after", "ca_id")
HISTORY_COLUMNS = ("attested_at", "type", "posture_ok", "failed_checks")

ReasonOption = Annotated[
    str,
    typer.Option(help="RFC 5280 reason, e.g. key_compromise, superseded."),
]


def _no_pem(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "cert_pem"} for row in rows]


@device_app.command("list")
def device_list(
    ctx: typer.Context,
    page_size: Annotated[int, typer.Option(help="Devices per page.")] = 50,
    page_token: Annotated[str, typer.Option(help="From the previous page.")] = "",
) -> None:
    """The org's devices, by id; `stale` means its attestation is too old."""
    session = session_of(ctx)
    params = {"page_size": page_size, "page_token": page_token}
    answer = guarded(
        lambda: session.connection.call("GET", "/v2/admin/devices", params=params)
    )
    if session.json:
        emit_json(answer)
        return
    emit_table(answer["devices"], DEVICE_COLUMNS)
    if answer.get("next_page_token"):
        typer.echo(f"more: --page-token {answer['next_page_token']}")


@device_app.command("show")
def device_show(ctx: typer.Context, device_id: str) -> None:
    """A device's posture, attestation history and certificates."""
    session = session_of(ctx)
    answer = guarded(
        lambda: session.connection.call("GET", f"/v2/admin/devices/{device_id}")
    )
    if session.json:
        emit_json(answer)
        return
    emit_fields(answer["device"])
    emit_fields({"posture": answer.get("posture", {})})
    emit_table(answer["attestations"], HISTORY_COLUMNS, "attestations")
    emit_table(_no_pem(answer["certificates"]), CERT_COLUMNS, "certificates")


@device_app.command("forget")
def device_forget(
    ctx: typer.Context,
    device_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Revoke a device's certificates and drop its history; it must attest again."""
    session = session_of(ctx)
    if not yes:
        typer.confirm(f"Forget {device_id} and revoke its certificates?", abort=True)
    answer = guarded(
        lambda: session.connection.call(
            "POST", f"/v2/admin/devices/{device_id}:forget", {}
        )
    )
    emit_json(answer) if session.json else _say_revoked(answer)


@device_app.command("revoke-certs")
def device_revoke_certs(
    ctx: typer.Context, device_id: str, reason: ReasonOption = ""
) -> None:
    """Revoke every unrevoked certificate of a device (bulk revocation)."""
    session = session_of(ctx)
    answer = guarded(
        lambda: session.connection.call(
            "POST", f"/v2/admin/devices/{device_id}/certs:revoke", {"reason": reason}
        )
    )
    emit_json(answer) if session.json else _say_revoked(answer)


def _say_revoked(answer: dict[str, Any]) -> None:
    serials = answer.get("revoked_serials", [])
    typer.echo(f"revoked {len(serials)} certificate(s) {' '.join(serials)}".rstrip())


@cert_app.command("list")
def cert_list(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="Only this device's.")] = "",
    status: Annotated[str, typer.Option(help="active, revoked or expired.")] = "",
    page_size: Annotated[int, typer.Option(help="Certificates per page.")] = 50,
    page_token: Annotated[str, typer.Option(help="From the previous page.")] = "",
) -> None:
    """The org's certificates, newest first."""
    session = session_of(ctx)
    params = {
        "device_id": device,
        "status": status,
        "page_size": page_size,
        "page_token": page_token,
    }
    answer = guarded(lambda: session.connection.call("GET", "/v2/certs", params=params))
    if session.json:
        emit_json(answer)
        return
    emit_table(_no_pem(answer["certificates"]), CERT_COLUMNS)
    if answer.get("next_page_token"):
        typer.echo(f"more: --page-token {answer['next_page_token']}")


@cert_app.command("show")
def cert_show(
    ctx: typer.Context,
    serial: str,
    pem: Annotated[bool, typer.Option("--pem", help="Print only the PEM.")] = False,
) -> None:
    """One certificate."""
    session = session_of(ctx)
    cert = guarded(lambda: session.connection.call("GET", f"/v2/admin/certs/{serial}"))[
        "certificate"
    ]
    if pem:
        typer.echo(cert["cert_pem"], nl=False)
    elif session.json:
        emit_json(cert)
    else:
        emit_fields(cert, skip=("cert_pem",))


@cert_app.command("revoke")
def cert_revoke(ctx: typer.Context, serial: str, reason: ReasonOption = "") -> None:
    """Revoke one certificate; it lands in the CA's CRL at once."""
    session = session_of(ctx)
    answer = guarded(
        lambda: session.connection.call(
            "POST", f"/v2/certs/{serial}/revoke", {"reason": reason}
        )
    )
    cert = answer["certificate"]
    emit_json(cert) if session.json else emit_fields(cert, skip=("cert_pem",))


@cert_app.command("crl")
def cert_crl(ctx: typer.Context) -> None:
    """The org's CRLs, PEM."""
    session = session_of(ctx)
    typer.echo(guarded(lambda: session.connection.text("/v2/certs/crl.pem")), nl=False)


@ca_app.command("show")
def ca_show(
    ctx: typer.Context,
    pem: Annotated[bool, typer.Option("--pem", help="Print only the bundle.")] = False,
) -> None:
    """The org's live CAs: the active one and any still-trusted retiring one."""
    session = session_of(ctx)
    answer = guarded(lambda: session.connection.call("GET", "/v2/ca"))
    if pem:
        typer.echo(answer["bundle_pem"], nl=False)
    elif session.json:
        emit_json(answer)
    else:
        rows = [
            {k: v for k, v in ca.items() if k != "cert_pem"} for ca in answer["cas"]
        ]
        emit_table(rows, ("ca_id", "status", "not_after"))


@ca_app.command("rotate")
def ca_rotate(ctx: typer.Context) -> None:
    """Make a new CA the issuer; the old one stays trusted while its
    certificates live, and both keep publishing CRLs."""
    session = session_of(ctx)
    answer = guarded(lambda: session.connection.call("POST", "/v2/admin/ca:rotate", {}))
    emit_json(answer) if session.json else emit_fields(answer)
