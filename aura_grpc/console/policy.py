"""`aura admin refs|policy|approval ...`: reference values, policy, approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aura_grpc.console.output import emit_fields, emit_json, emit_table
from aura_grpc.console.session import guarded, read_document, session_of

refs_app = typer.Typer(
    help="Reference values that decide posture, per evidence type (get, put).",
    no_args_is_help=True,
)
policy_app = typer.Typer(
    help="The org's Rego issuance policy (get, put, test).", no_args_is_help=True
)
approval_app = typer.Typer(
    help="Issuances held by policy (list, show, approve, deny).", no_args_is_help=True
)

APPROVAL_COLUMNS = ("approval_id", "device_id", "subject_cn", "status", "expires_at")


@refs_app.command("get")
def refs_get(ctx: typer.Context, evidence_type: str) -> None:
    """The latest reference values for a type (tpm, aws_nitro, ...)."""
    session = session_of(ctx)
    answer = guarded(
        lambda: session.connection.call("GET", f"/v2/reference-values/{evidence_type}")
    )
    emit_json(answer) if session.json else emit_fields(answer)


@refs_app.command("put")
def refs_put(ctx: typer.Context, evidence_type: str, file: Path) -> None:
    """Store a new version of a type's reference values from a JSON or YAML file."""
    session = session_of(ctx)
    values = read_document(file)
    answer = guarded(
        lambda: session.connection.call(
            "PUT", f"/v2/reference-values/{evidence_type}", values
        )
    )
    emit_json(answer) if session.json else emit_fields(answer)


@policy_app.command("get")
def policy_get(
    ctx: typer.Context,
    rego: Annotated[
        bool, typer.Option("--rego", help="Print only the source.")
    ] = False,
) -> None:
    """The policy in force."""
    session = session_of(ctx)
    answer = guarded(lambda: session.connection.call("GET", "/v2/policy"))
    if rego:
        typer.echo(answer["rego"], nl=False)
    elif session.json:
        emit_json(answer)
    else:
        emit_fields(answer, skip=("rego", "test_cases"))


@policy_app.command("put")
def policy_put(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The Rego source.")],
    tests: Annotated[
        Path | None,
        typer.Option(help="JSON/YAML list of {name, input, expect} test cases."),
    ] = None,
    on_posture_loss: Annotated[
        str, typer.Option(help="revoke or keep the device's certificates.")
    ] = "",
) -> None:
    """Store a new policy version (its tests, and all earlier ones, must pass)."""
    session = session_of(ctx)
    body: dict[str, Any] = {
        "rego": _read_text(file),
        "on_posture_loss": on_posture_loss,
    }
    if tests is not None:
        body["test_cases"] = read_document(tests)
    answer = guarded(lambda: session.connection.call("PUT", "/v2/policy", body))
    emit_json(answer) if session.json else emit_fields(answer, skip=("rego",))


@policy_app.command("test")
def policy_test(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Argument(help="JSON/YAML policy input.")],
    rego: Annotated[
        Path | None, typer.Option(help="A draft to evaluate instead of the policy.")
    ] = None,
) -> None:
    """Evaluate the policy (or a draft) on an input: allow, deny or require_approval."""
    session = session_of(ctx)
    body = {
        "input": read_document(input_file),
        "rego": _read_text(rego) if rego else "",
    }
    answer = guarded(lambda: session.connection.call("POST", "/v2/policy:test", body))
    emit_json(answer) if session.json else emit_fields(answer)


@approval_app.command("list")
def approval_list(ctx: typer.Context) -> None:
    """Pending approvals."""
    session = session_of(ctx)
    rows = guarded(lambda: session.connection.call("GET", "/v2/approvals"))["approvals"]
    emit_json(rows) if session.json else emit_table(rows, APPROVAL_COLUMNS)


@approval_app.command("show")
def approval_show(ctx: typer.Context, approval_id: str) -> None:
    """One approval and, once approved, its certificate."""
    session = session_of(ctx)
    answer = guarded(
        lambda: session.connection.call("GET", f"/v2/approvals/{approval_id}")
    )
    emit_json(answer) if session.json else emit_fields(
        answer, skip=("cert_pem", "chain_pem")
    )


@approval_app.command("approve")
def approval_approve(ctx: typer.Context, approval_id: str) -> None:
    """Approve: the certificate is issued now."""
    _decide(ctx, approval_id, "approve")


@approval_app.command("deny")
def approval_deny(ctx: typer.Context, approval_id: str) -> None:
    """Deny the held issuance."""
    _decide(ctx, approval_id, "deny")


def _decide(ctx: typer.Context, approval_id: str, verb: str) -> None:
    session = session_of(ctx)
    answer = guarded(
        lambda: session.connection.call(
            "POST", f"/v2/approvals/{approval_id}/{verb}", {}
        )
    )
    emit_json(answer) if session.json else emit_fields(
        answer, skip=("cert_pem", "chain_pem")
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
