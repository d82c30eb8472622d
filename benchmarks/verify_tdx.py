"""Throughput of the intel_tdx verifier beside the bare signature checks it makes.

One real quote (dcap-qvl's UpToDate v4 sample) and its collateral, verified at a
time inside the collateral window. "Bare" is the ECDSA work alone on the same
input, pre-parsed: quote, QE report, PCK leaf and intermediate, the TCB signing
cert (once per issuer chain), TCB Info, QE Identity and the two CRLs.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from aura_grpc.attestation.base import VerificationContext
from aura_grpc.attestation.intel_tdx import TDXVerifier
from aura_grpc.attestation.intel_tdx.collateral import parse_collateral
from aura_grpc.attestation.intel_tdx.pck import (
    load_pinned_root,
    load_raw_p256_key,
    parse_pck_chain,
    verify_ecdsa,
)
from aura_grpc.attestation.intel_tdx.quote import parse_quote

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "tdx"
QUOTE = "dcapqvl_tdx_quote"
COLLATERAL = "dcapqvl_tdx_quote_collateral.json"
NOW = datetime(2025, 7, 4, tzinfo=UTC)
SECONDS = 5.0


def rate(work: Callable[[], object], seconds: float = SECONDS) -> float:
    """Calls per second of `work`, run for about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        work()
        count += 1
    return count / elapsed


def bare_checks(raw: bytes, collateral: dict[str, object]) -> Callable[[], None]:
    """The signature checks of one verification, with all parsing done up front."""
    quote = parse_quote(raw)
    chain = parse_pck_chain(quote.pck_chain_pem)
    loaded = parse_collateral(collateral)
    root = load_pinned_root()
    pck_key = chain.leaf.public_key()
    attestation_key = load_raw_p256_key(quote.attestation_key, "attestation key")
    tcb_signing = loaded.tcb_info.chain[0]
    tcb_key = tcb_signing.public_key()
    assert isinstance(pck_key, ec.EllipticCurvePublicKey)
    assert isinstance(tcb_key, ec.EllipticCurvePublicKey)
    assert loaded.pck_crl is not None and loaded.root_ca_crl is not None
    ca_key, root_key = chain.intermediate.public_key(), root.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    assert isinstance(root_key, ec.EllipticCurvePublicKey)

    def run() -> None:
        verify_ecdsa(attestation_key, quote.signature, quote.signed_bytes, "bench")
        verify_ecdsa(pck_key, quote.qe_report_signature, quote.qe_report.raw, "bench")
        chain.leaf.verify_directly_issued_by(chain.intermediate)
        chain.intermediate.verify_directly_issued_by(root)
        tcb_signing.verify_directly_issued_by(root)
        tcb_signing.verify_directly_issued_by(root)
        verify_ecdsa(
            tcb_key, loaded.tcb_info.signature, loaded.tcb_info.raw.encode(), "b"
        )
        doc = loaded.qe_identity
        verify_ecdsa(tcb_key, doc.signature, doc.raw.encode(), "bench")
        assert loaded.pck_crl is not None and loaded.root_ca_crl is not None
        loaded.pck_crl.is_signature_valid(ca_key)
        loaded.root_ca_crl.is_signature_valid(root_key)

    return run


def main() -> None:
    if not (VECTORS / QUOTE).is_file():
        print(f"verify intel_tdx: skipped ({VECTORS} is absent)")
        return

    raw = (VECTORS / QUOTE).read_bytes()
    collateral = json.loads((VECTORS / COLLATERAL).read_text())
    payload = {"quote": base64.b64encode(raw).decode(), "collateral": collateral}
    nonce = parse_quote(raw).body.report_data
    context = VerificationContext(nonce=nonce, now=NOW)
    verifier = TDXVerifier()

    full = rate(lambda: verifier.verify(payload, context))
    bare = rate(bare_checks(raw, collateral))
    print(
        f"verify intel_tdx: {full:.1f}/s  bare signature checks: {bare:.1f}/s  "
        f"ratio {full / bare:.2f}"
    )


if __name__ == "__main__":
    main()
