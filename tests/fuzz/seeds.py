"""Starting inputs for each fuzz target: real samples from ../shared/vectors
when present, and structures made here (so a run is useful without them)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from aura_grpc.attestation.tpm import fake
from tests.certs import csr_pem, public_pem
from tests.conftest import VECTORS
from tests.stub_evidence import StubTPM

MAX_SEED_BYTES = 64 * 1024

# Target -> globs under ../shared/vectors.
VECTOR_GLOBS: dict[str, tuple[str, ...]] = {
    "tpm_event_log": ("tpm/**/*event*",),
    "nitro_document": ("nitro/*.cbor", "nitro/*-bytes"),
    "snp_report": ("sev-snp/*report*.bin", "sev-snp/*attestation.bin"),
    "snp_hcl_report": ("azure/hcl_snp/*hcl-report.bin",),
    "snp_vcek": ("sev-snp/*.pem", "azure/hcl_snp/*.pem"),
    "tdx_quote": ("tdx/**/*quote*", "azure/hcl_tdx/*td-quote.bin"),
    "tdx_hcl_report": ("azure/hcl_tdx/*hcl-report.bin",),
    "tdx_collateral": ("tdx/**/*collateral*.json",),
    "gcp_token_header": ("gcp/*.jwt",),
    "verifier_payloads": ("azure/hcl_snp/*evidence*.json",),
}


def _vectors(name: str) -> list[bytes]:
    if not VECTORS.is_dir():
        return []
    found = [p for g in VECTOR_GLOBS.get(name, ()) for p in VECTORS.glob(g)]
    return [p.read_bytes() for p in found if p.stat().st_size <= MAX_SEED_BYTES]


def _made(name: str) -> list[bytes]:
    tpm = fake.SoftTPM()
    quote, signature = tpm.quote(b"n" * 32, {0: bytes(32)})
    key = ec.generate_private_key(ec.SECP256R1())
    made = {
        "tpm_public": [tpm.ak_public],
        "tpm_attest": [quote],
        "tpm_signature": [signature],
        "csr": [
            csr_pem(key).encode(),
            csr_pem(ed25519.Ed25519PrivateKey.generate()).encode(),
        ],
        "public_key": [public_pem(key).encode()],
        "verifier_payloads": [
            json.dumps(
                StubTPM().payload(base64.b64encode(b"n" * 32).decode())
            ).encode(),
            json.dumps({"nonce": "bg==", "serial": "x", "quote": "AAAA"}).encode(),
        ],
    }
    return made.get(name, [b""])


def write_corpus(name: str, folder: Path) -> int:
    """Write the seeds of `name` into `folder`; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = [*_made(name), *_vectors(name)]
    for index, seed in enumerate(seeds):
        (folder / f"seed-{index}").write_bytes(seed)
    return len(seeds)
