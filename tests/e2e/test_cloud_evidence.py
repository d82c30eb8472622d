"""Cloud evidence end to end: Nitro, GCP, SNP and TDX as HTTPS JSON through Envoy.

Nitro documents and GCP tokens are minted here, fresh, under test roots the
stack trusts through its dev-profile verifier options. SNP and TDX evidence is
recorded: its nonce is seeded into the store and the evidence clock is pinned
to the sample's time, while the issuing and TLS clocks stay real.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from aura_grpc.attestation.intel_tdx.quote import parse_quote
from aura_grpc.attestation.registry import VerifierRegistry
from aura_grpc.auth.scopes import Scope
from aura_grpc.services import nonces
from tests.attestation.aws_nitro.minting import (
    NitroTestPKI,
    default_pcrs,
    mint_document,
)
from tests.attestation.azure_snp.conftest import (
    AT_2022_09_25,
    AT_2023_01_25,
    AT_2025_01_29,
    azure_payload_from_evidence,
    bare_payload,
)
from tests.attestation.azure_snp.conftest import (
    recorded_nonce as snp_recorded_nonce,
)
from tests.attestation.gcp_cc.minting import (
    AUDIENCE,
    b64url,
    jwks,
    mint_kid_token,
    rsa_key,
    token_claims,
)
from tests.attestation.intel_tdx.conftest import at
from tests.attestation.intel_tdx.conftest import (
    recorded_nonce as tdx_recorded_nonce,
)
from tests.certs import PrivateKey, public_pem
from tests.e2e.test_skeleton import challenge, reason_of
from tests.harness import TEST_VERIFIERS, Stack, make_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Parsed a serial number"),
]

FAILED_PRECONDITION = 9
GCP_KID = "key-a"
_org_names = itertools.count()


@dataclass(frozen=True)
class TrustedRoots:
    """The roots the stack trusts beside the vendors' own."""

    nitro: NitroTestPKI
    gcp_signing_key: rsa.RSAPrivateKey
    jwks_file: Path


@dataclass(frozen=True)
class Org:
    id: str
    token: str


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> TrustedRoots:
    nitro = NitroTestPKI(not_before=datetime.now(UTC) - timedelta(days=1))
    signing_key = rsa_key()
    jwks_file = tmp_path_factory.mktemp("gcp-jwks") / "keys.json"
    jwks_file.write_bytes(jwks({GCP_KID: signing_key}))
    return TrustedRoots(nitro, signing_key, jwks_file)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, roots: TrustedRoots
) -> Iterator[Stack]:
    options = {
        "aws_nitro": {"extra_roots_pem": roots.nitro.root_pem},
        "gcp_cc": {"jwks_file": str(roots.jwks_file), "audience": AUDIENCE},
    }
    state = tmp_path_factory.mktemp("aura-cloud")
    running = make_stack(
        state, verifiers={"extra": TEST_VERIFIERS, "options": options}
    ).start()
    try:
        yield running
    finally:
        running.stop()


def new_org(stack: Stack) -> Org:
    """An org of its own per test: reference values and devices stay apart."""
    name = f"cloud-{next(_org_names)}"
    org_id = stack.create_org(name)
    return Org(org_id, stack.create_token(name, Scope.ADMIN))


@pytest.fixture
def org(stack: Stack) -> Org:
    return new_org(stack)


def spki_of(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def server_nonce(client: httpx.Client) -> bytes:
    return base64.b64decode(challenge(client))


def attest(
    client: httpx.Client, type_name: str, payload: dict[str, Any]
) -> httpx.Response:
    return client.post("/v2/attest", json={"type": type_name, "payload": payload})


def issue(
    client: httpx.Client, attested: dict[str, Any], key: PrivateKey
) -> httpx.Response:
    body = {
        "device_id": attested["device_id"],
        "subject_cn": "cloud-workload",
        "days": 7,
        "public_key_pem": public_pem(key),
        "issue_ticket": attested["issue_ticket"],
    }
    return client.post("/v2/certs/issue", json=body)


def assert_refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert reason_of(response) == reason


def assert_only_bound_key_certified(
    client: httpx.Client, attested: dict[str, Any], key: PrivateKey
) -> None:
    """Another key is refused; the bound key gets a certificate for itself."""
    other = ec.generate_private_key(ec.SECP256R1())
    refused = issue(client, attested, other)
    assert_refused(refused, 400, "KEY_NOT_BOUND")
    assert refused.json()["code"] == FAILED_PRECONDITION

    issued = issue(client, attested, key)
    assert issued.status_code == 200, issued.text
    cert = x509.load_pem_x509_certificate(issued.json()["cert_pem"].encode())
    certified = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert certified == spki_of(key)
    assert issued.json()["private_key_pem"] == ""


# --- AWS Nitro: documents minted now under the test root ---------------------


def nitro_payload(
    roots: TrustedRoots,
    nonce: bytes,
    *,
    document_nonce: bytes | None = None,
    public_key: bytes | None = None,
    pcrs: dict[int, bytes] | None = None,
) -> dict[str, Any]:
    document = mint_document(
        roots.nitro,
        timestamp=datetime.now(UTC),
        nonce=nonce if document_nonce is None else document_nonce,
        public_key=public_key,
        pcrs=pcrs,
    )
    return {"nonce": b64(nonce), "document": b64(document)}


@pytest.mark.parametrize(
    "make_key",
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), id="P-256"),
        pytest.param(ed25519.Ed25519PrivateKey.generate, id="Ed25519"),
    ],
)
def test_nitro_document_binds_the_certificate_key(
    stack: Stack, roots: TrustedRoots, org: Org, make_key: Callable[[], PrivateKey]
) -> None:
    key = make_key()
    with stack.client(org.token) as client:
        nonce = server_nonce(client)
        payload = nitro_payload(roots, nonce, public_key=spki_of(key))
        response = attest(client, "aws_nitro", payload)
        assert response.status_code == 200, response.text
        attested = response.json()
        assert attested["posture_ok"] is True
        assert attested["device_id"].startswith("dev_")

        assert_only_bound_key_certified(client, attested, key)
        device = client.get(f"/v2/devices/{attested['device_id']}").json()
    assert device["type"] == "aws_nitro"
    assert device["posture"]["public_key_sha256"] == (
        hashlib.sha256(spki_of(key)).hexdigest()
    )


def test_nitro_document_with_another_nonce_is_a_failed_precondition(
    stack: Stack, roots: TrustedRoots, org: Org
) -> None:
    with stack.client(org.token) as client:
        nonce = server_nonce(client)
        payload = nitro_payload(roots, nonce, document_nonce=bytes(32))
        response = attest(client, "aws_nitro", payload)
    assert_refused(response, 400, "NONCE_MISMATCH")
    assert response.json()["code"] == FAILED_PRECONDITION


def test_nitro_document_with_a_tampered_signature_is_unauthenticated(
    stack: Stack, roots: TrustedRoots, org: Org
) -> None:
    with stack.client(org.token) as client:
        payload = nitro_payload(roots, server_nonce(client))
        document = bytearray(base64.b64decode(payload["document"]))
        document[-1] ^= 0x01  # the signature is the envelope's last field
        payload["document"] = b64(bytes(document))
        response = attest(client, "aws_nitro", payload)
    assert_refused(response, 401, "NITRO_SIGNATURE_INVALID")


def test_nitro_posture_fails_when_pcr0_is_not_allowed(
    stack: Stack, roots: TrustedRoots, org: Org
) -> None:
    pcrs = default_pcrs()
    reference = {f"pcr{i}": [pcrs[i].hex()] for i in (1, 2, 8)}
    reference["pcr0"] = ["ee" * 48]

    with stack.client(org.token) as client:
        put = client.put("/v2/reference-values/aws_nitro", json=reference)
        assert put.status_code == 200, put.text
        response = attest(
            client, "aws_nitro", nitro_payload(roots, server_nonce(client))
        )
        assert response.status_code == 200, response.text
        attested = response.json()
        refused = issue(client, attested, ec.generate_private_key(ec.SECP256R1()))

    assert attested["posture_ok"] is False
    assert attested["failed_checks"] == ["pcr0"]
    assert attested["issue_ticket"] == ""
    assert_refused(refused, 400, "POSTURE_NOT_OK")


def test_prod_profile_refuses_test_nitro_roots(roots: TrustedRoots) -> None:
    options = {"aws_nitro": {"extra_roots_pem": roots.nitro.root_pem}}

    with pytest.raises(ValueError, match="extra_roots_pem is refused in prod"):
        VerifierRegistry.build("prod", options)
    assert "aws_nitro" in VerifierRegistry.build("dev", options).types()


# --- GCP Confidential Space: tokens signed by a key in the test JWKS ---------


def gcp_payload(
    roots: TrustedRoots,
    nonce: bytes,
    key: PrivateKey,
    *,
    signer: rsa.RSAPrivateKey | None = None,
    kid: str = GCP_KID,
    **claim_overrides: Any,
) -> dict[str, Any]:
    """A token carrying base64url(nonce) and base64url(SHA-256(SPKI of key))."""
    bound = b64url(hashlib.sha256(spki_of(key)).digest())
    claim_overrides.setdefault("now", datetime.now(UTC))
    claims = token_claims(nonces=[b64url(nonce), bound], **claim_overrides)
    token = mint_kid_token(signer or roots.gcp_signing_key, kid, claims)
    return {"nonce": b64(nonce), "token": token, "bound_key_pem": public_pem(key)}


def test_gcp_token_binds_the_certificate_key(
    stack: Stack, roots: TrustedRoots, org: Org
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with stack.client(org.token) as client:
        payload = gcp_payload(roots, server_nonce(client), key)
        response = attest(client, "gcp_cc", payload)
        assert response.status_code == 200, response.text
        attested = response.json()
        assert attested["posture_ok"] is True

        assert_only_bound_key_certified(client, attested, key)
        device = client.get(f"/v2/devices/{attested['device_id']}").json()
    assert device["posture"]["hwmodel"] == "GCP_AMD_SEV_SNP"
    assert device["posture"]["project_id"] == "aura-test"


GCP_REFUSALS = [
    pytest.param(
        lambda: {"now": datetime.now(UTC) - timedelta(hours=2)},
        "GCP_TOKEN_EXPIRED",
        id="a token that expired an hour ago is unauthenticated",
    ),
    pytest.param(
        lambda: {"audience": "https://someone-else.test"},
        "GCP_AUDIENCE",
        id="a token for another audience is unauthenticated",
    ),
    pytest.param(
        lambda: {"signer": rsa_key()},
        "GCP_SIGNATURE_INVALID",
        id="a token naming a published kid but signed by another key is refused",
    ),
    pytest.param(
        lambda: {"signer": rsa_key(), "kid": "key-z"},
        "GCP_UNKNOWN_KID",
        id="a token naming a kid outside the key set is refused",
    ),
]


@pytest.mark.parametrize(("overrides", "reason"), GCP_REFUSALS)
def test_gcp_token_refused(
    stack: Stack,
    roots: TrustedRoots,
    org: Org,
    overrides: Callable[[], dict[str, Any]],
    reason: str,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with stack.client(org.token) as client:
        payload = gcp_payload(roots, server_nonce(client), key, **overrides())
        response = attest(client, "gcp_cc", payload)
    assert_refused(response, 401, reason)


# --- Recorded SNP and TDX evidence at its own time ---------------------------


@dataclass(frozen=True)
class Recorded:
    type_name: str
    payload: dict[str, Any]
    nonce: bytes
    at: datetime
    claims: dict[str, Any]
    reference: dict[str, Any] | None = None
    failed_checks: list[str] = field(default_factory=list)


def bare_snp(report: str, vcek: str, when: datetime) -> Callable[[Path], Recorded]:
    def build(vectors: Path) -> Recorded:
        raw = (vectors / "sev-snp" / report).read_bytes()
        payload = bare_payload(raw, vectors / "sev-snp" / vcek)
        claims = {"evidence_format": "sev_snp", "product": "Milan"}
        return Recorded("azure_snp", payload, snp_recorded_nonce(raw), when, claims)

    return build


def azure_hcl_v0(vectors: Path) -> Recorded:
    path = vectors / "azure" / "hcl_snp" / "trustee_evidence-v0.json"
    claims = {"evidence_format": "azure_hcl_snp", "product": "Milan"}
    payload = azure_payload_from_evidence(path)
    return Recorded("azure_snp", payload, b"challenge", AT_2025_01_29, claims)


def dcap_tdx(
    quote: str, collateral: str, when: str, status: str, failed: list[str]
) -> Callable[[Path], Recorded]:
    """A dcap-qvl quote appraised against its own MRTD: only the TCB can fail."""

    def build(vectors: Path) -> Recorded:
        raw = (vectors / "tdx" / quote).read_bytes()
        payload = {
            "quote": b64(raw),
            "collateral": json.loads((vectors / "tdx" / collateral).read_text()),
        }
        reference = {"mrtd": [parse_quote(raw).body.mr_td.hex()]}
        claims = {"tcb_status": status}
        nonce = tdx_recorded_nonce(payload)
        return Recorded(
            "intel_tdx", payload, nonce, at(when), claims, reference, failed
        )

    return build


RECORDED = [
    pytest.param(
        bare_snp("trustee_test-report.bin", "trustee_test-vcek.der", AT_2023_01_25),
        id="trustee bare SNP report with its VCEK",
    ),
    pytest.param(
        bare_snp(
            "gosevguest_milan_attestation.bin",
            "gosevguest_milan_vcek.der",
            AT_2022_09_25,
        ),
        id="go-sev-guest bare SNP report with its VCEK",
    ),
    pytest.param(azure_hcl_v0, id="Azure HCL SNP v0 evidence with nonce 'challenge'"),
    pytest.param(
        dcap_tdx(
            "dcapqvl_tdx_quote",
            "dcapqvl_tdx_quote_collateral.json",
            "2025-07-04T00:00:00",
            "UpToDate",
            [],
        ),
        id="dcap-qvl TDX quote is UpToDate with its collateral",
    ),
    pytest.param(
        dcap_tdx(
            "dcapqvl_tdx_quote_outdated",
            "dcapqvl_tdx_quote_outdated_collateral.json",
            "2026-03-04T00:00:00",
            "NoMatchingLevel",
            ["tcb_status"],
        ),
        id="outdated dcap-qvl TDX quote fails its TCB status",
    ),
]


async def _seed(stack: Stack, org_id: str, nonce: bytes) -> None:
    assert stack.backend is not None and stack.backend.sessions is not None
    expires_at = stack.issuing_clock.now() + timedelta(minutes=10)
    async with stack.backend.sessions.begin() as session:
        nonces.seed_nonce(session, org_id, nonce, expires_at)


@contextmanager
def evidence_time(stack: Stack, when: datetime) -> Iterator[None]:
    """Vendor certificates and collateral are checked at `when`; nothing else."""
    stack.evidence_clock.pin(when)
    try:
        yield
    finally:
        stack.evidence_clock.pin(None)


@pytest.mark.vectors
@pytest.mark.parametrize("recorded_at", RECORDED)
def test_recorded_evidence_attests_once(
    stack: Stack, org: Org, vectors: Path, recorded_at: Callable[[Path], Recorded]
) -> None:
    recorded = recorded_at(vectors)
    payload = {**recorded.payload, "nonce": b64(recorded.nonce)}
    stack.run(_seed(stack, org.id, recorded.nonce))

    with stack.client(org.token) as client, evidence_time(stack, recorded.at):
        if recorded.reference is not None:
            put = client.put(
                f"/v2/reference-values/{recorded.type_name}", json=recorded.reference
            )
            assert put.status_code == 200, put.text
        response = attest(client, recorded.type_name, payload)
        assert response.status_code == 200, response.text
        attested = response.json()
        device = client.get(f"/v2/devices/{attested['device_id']}").json()
        replay = attest(client, recorded.type_name, payload)

    assert attested["device_id"].startswith("dev_")
    assert attested["failed_checks"] == recorded.failed_checks
    assert attested["posture_ok"] is (not recorded.failed_checks)
    assert device["type"] == recorded.type_name
    assert device["posture"].items() >= recorded.claims.items()
    assert_refused(replay, 400, "NONCE_INVALID")


@pytest.mark.vectors
def test_recorded_tdx_quote_is_refused_at_todays_time(
    stack: Stack, org: Org, vectors: Path
) -> None:
    recorded = dcap_tdx(
        "gotdx_quote_v5_sample.bin",
        "gotdx_collateral_v5_fmspc90c06f000000.json",
        "2026-02-20T00:00:00",
        "UpToDate",
        [],
    )(vectors)
    stack.run(_seed(stack, org.id, recorded.nonce))

    # The evidence clock follows real time here: the collateral has lapsed.
    payload = {**recorded.payload, "nonce": b64(recorded.nonce)}
    with stack.client(org.token) as client:
        response = attest(client, recorded.type_name, payload)
    assert_refused(response, 401, "TDX_COLLATERAL_EXPIRED")
