"""Coverage-guided fuzz targets (atheris/libFuzzer) for every parser of
untrusted bytes: each evidence format, CSRs and public keys, and JSON payloads
handed to every verifier. A target passes an input when the parser returns or
raises an AuraError; anything else is a crash and stops the run.

    python -m tests.fuzz.targets <target> [libFuzzer flags, e.g. -runs=2000]
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports(include=["aura_grpc"]):
    from aura_grpc.attestation.aws_nitro.document import decode_document
    from aura_grpc.attestation.azure_snp.hcl import parse_hcl_report
    from aura_grpc.attestation.azure_snp.report import parse_report
    from aura_grpc.attestation.azure_snp.vcek import load_certificate
    from aura_grpc.attestation.base import VerificationContext
    from aura_grpc.attestation.gcp_cc.token import read_header
    from aura_grpc.attestation.intel_tdx.azure import parse_tdx_hcl_report
    from aura_grpc.attestation.intel_tdx.collateral import parse_collateral
    from aura_grpc.attestation.intel_tdx.quote import parse_quote
    from aura_grpc.attestation.registry import VerifierRegistry
    from aura_grpc.attestation.tpm.eventlog import parse_event_log
    from aura_grpc.attestation.tpm.parse import (
        parse_attest,
        parse_public,
        parse_signature,
    )
    from aura_grpc.ca.requested_key import from_csr, from_public_key
    from aura_grpc.errors import AuraError

CONTEXT = VerificationContext(nonce=b"n" * 32, now=datetime(2026, 12, 3, tzinfo=UTC))
REGISTRY = VerifierRegistry.build("dev")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _json(data: bytes) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def verify_payload(data: bytes) -> None:
    """Arbitrary JSON objects as payloads of every registered type."""
    payload = _json(data)
    if not isinstance(payload, dict):
        return
    for name in REGISTRY.types():
        with contextlib.suppress(AuraError):
            REGISTRY.get(name).verify(payload, CONTEXT)


def tdx_collateral(data: bytes) -> None:
    parse_collateral(_json(data))


TARGETS: dict[str, Callable[[bytes], object]] = {
    "tpm_public": parse_public,
    "tpm_attest": parse_attest,
    "tpm_signature": parse_signature,
    "tpm_event_log": parse_event_log,
    "nitro_document": decode_document,
    "snp_report": parse_report,
    "snp_hcl_report": parse_hcl_report,
    "snp_vcek": lambda data: load_certificate(_text(data)),
    "tdx_quote": parse_quote,
    "tdx_hcl_report": parse_tdx_hcl_report,
    "tdx_collateral": tdx_collateral,
    "gcp_token_header": lambda data: read_header(_text(data)),
    "csr": lambda data: from_csr(_text(data)),
    "public_key": lambda data: from_public_key(_text(data)),
    "verifier_payloads": verify_payload,
}


def one_input(target: Callable[[bytes], object]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        with contextlib.suppress(AuraError):
            target(data)

    return run


def main() -> None:
    name = sys.argv[1]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input(TARGETS[name]))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
