"""`aura-agent`: attest this device's TPM and keep its certificate current.

Run it from cron or a timer: it does nothing while the certificate is young,
and re-attests and renews once it has lived `--renew-fraction` of its life.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from aura_grpc.agent.client import CallFailed
from aura_grpc.agent.enroll import AgentError, AgentOptions, run_once
from aura_grpc.agent.store import StateDir
from aura_grpc.agent.tpm import TPMError, tools_available

app = typer.Typer(
    help="AURA device agent: TPM attestation and an mTLS certificate.",
    no_args_is_help=True,
)


def _pcrs(text: str) -> list[int]:
    try:
        indices = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise typer.BadParameter("PCRs are comma-separated numbers 0-23") from None
    if not indices or not all(0 <= index <= 23 for index in indices):
        raise typer.BadParameter("PCRs are comma-separated numbers 0-23")
    return indices


@app.callback()
def main() -> None:
    """Subcommands keep room for more than `run` (status, revoke...)."""


@app.command()
def run(
    server: Annotated[
        str, typer.Option(help="Envoy's API listener, host:port.")
    ] = "127.0.0.1:8443",
    ca_file: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="PEM roots for the server's TLS."
        ),
    ] = Path(".aura/pki/ca.pem"),
    token: Annotated[
        str, typer.Option(envvar="AURA_TOKEN", help="Org bearer token (device scope).")
    ] = "",
    tcti: Annotated[
        str,
        typer.Option(
            envvar="TPM2TOOLS_TCTI",
            help="TPM to use: device:/dev/tpmrm0, swtpm:host=127.0.0.1,port=2321...",
        ),
    ] = "device:/dev/tpmrm0",
    state_dir: Annotated[
        Path, typer.Option(help="Where keys, contexts and the certificate live.")
    ] = Path(".aura-agent"),
    subject_cn: Annotated[str, typer.Option(help="Certificate subject CN.")] = "",
    days: Annotated[int, typer.Option(min=1, help="Certificate lifetime.")] = 30,
    pcrs: Annotated[
        str, typer.Option(help="sha256 PCRs to quote.")
    ] = "0,1,2,3,4,5,6,7",
    renew_fraction: Annotated[
        float, typer.Option(min=0.05, max=1.0, help="Renew after this much life.")
    ] = 2 / 3,
    software_key: Annotated[
        bool, typer.Option(help="Make the key outside the TPM (bound by ticket).")
    ] = False,
    key_alg: Annotated[
        str, typer.Option(help="EK and AK algorithm: rsa or ecc.")
    ] = "rsa",
    force: Annotated[bool, typer.Option(help="Renew even if not due.")] = False,
    device_server: Annotated[
        str, typer.Option(help="Device (mTLS) listener host:port, for whoami.")
    ] = "",
) -> None:
    """Enrol or renew when due, then (with a software key) call whoami."""
    if not tools_available():
        typer.echo("error: tpm2-tools are not installed (Debian: tpm2-tools)", err=True)
        raise typer.Exit(2)
    if not token:
        typer.echo("error: give --token or set AURA_TOKEN", err=True)
        raise typer.Exit(2)
    if key_alg not in ("rsa", "ecc"):
        raise typer.BadParameter("--key-alg is rsa or ecc")

    options = AgentOptions(
        api_target=server,
        root_pem=ca_file.read_bytes(),
        token=token,
        tcti=tcti,
        subject_cn=subject_cn or os.uname().nodename[:64],
        pcrs=_pcrs(pcrs),
        days=days,
        renew_fraction=renew_fraction,
        software_key=software_key,
        key_alg=key_alg,
        force=force,
        device_target=device_server,
    )
    try:
        result = run_once(options, StateDir(state_dir), _report)
    except (AgentError, TPMError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except CallFailed as exc:  # only whoami calls outside the enrolment steps
        typer.echo(f"whoami: refused: {exc}", err=True)
        raise typer.Exit(3) from exc

    if result.whoami is not None:
        typer.echo("whoami: " + json.dumps(result.whoami, sort_keys=True))
    elif options.device_target and result.state.key_kind == "tpm":
        # TODO: whoami with the TPM-resident key needs the tpm2 OpenSSL provider
        # (not in Debian 12's default install); can go when it is packaged here.
        typer.echo("whoami: skipped (the key is in the TPM; grpcio cannot use it)")


def _report(step: str) -> None:
    typer.echo(f"- {step}")


if __name__ == "__main__":
    app()
