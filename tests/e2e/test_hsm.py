"""Org CA keys on a PKCS#11 token (SoftHSM2), end to end through Envoy.

The stack signs with a key that never leaves the token: its certificates and
CRLs pass `openssl verify` and an Envoy mTLS listener, a token outage answers
503 without half-issued rows, and issuance resumes when the token returns.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from aura_grpc.auth.scopes import Scope
from aura_grpc.ca.authority import make_ca_certificate
from aura_grpc.ca.signers.pkcs11 import Pkcs11Backend
from aura_grpc.errors import InvalidInput
from aura_grpc.services.audit import Actor
from gateway.bootstrap import start_envoy, wait_ready
from gateway.devpki import ensure_dev_pki
from tests.crl_verify import openssl_verify_with_crl
from tests.e2e.test_skeleton import attest, reason_of
from tests.harness import Stack, free_port, make_stack
from tests.softhsm import SoftHSM, softhsm  # noqa: F401  # the session's token
from tests.stub_evidence import StubTPM

pytestmark = pytest.mark.e2e

EXT = "type.googleapis.com/envoy.extensions"
TLS_CONTEXT = f"{EXT}.transport_sockets.tls.v3.DownstreamTlsContext"
HCM = "envoy.filters.network.http_connection_manager"
HCM_TYPE = f"{EXT}.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER_TYPE = f"{EXT}.filters.http.router.v3.Router"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    softhsm: SoftHSM,  # noqa: F811
) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("aura-hsm")
    running = make_stack(state, **softhsm.settings(crl_check_seconds=0.2)).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def org(stack: Stack) -> str:
    stack.create_org("hsm-org")
    return stack.create_token("hsm-org", Scope.ADMIN)


def issue(client: httpx.Client) -> httpx.Response:
    device = attest(client, StubTPM()).json()
    body = {
        "device_id": device["device_id"],
        "subject_cn": "hsm-laptop",
        "days": 30,
        "issue_ticket": device["issue_ticket"],
    }
    return client.post("/v2/certs/issue", json=body)


def trust_and_crl(client: httpx.Client) -> tuple[str, str]:
    bundle = client.get("/v2/ca").json()["bundle_pem"]
    crl = client.get("/v2/certs/crl.pem").text
    return str(bundle), crl


def db_rows(stack: Stack) -> Iterator[tuple[str, str, Any]]:
    """Every value in every column of every table."""
    for table in stack.table_names():
        for row in stack.sql(f'SELECT * FROM "{table}"'):
            yield from ((table, column, value) for column, value in row.items())


def count(stack: Stack, sql: str) -> int:
    (row,) = stack.sql(sql)
    return int(next(iter(row.values())))


def test_hsm_ca_certificate_and_crl_pass_openssl(
    stack: Stack, org: str, tmp_path: Path
) -> None:
    with stack.client(org) as client:
        response = issue(client)
        assert response.status_code == 200, response.text
        bundle, crl = trust_and_crl(client)

    leaf = response.json()["cert_pem"]
    result = openssl_verify_with_crl(tmp_path, bundle, crl, leaf)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ca_row_names_its_key_and_holds_no_key_bytes(stack: Stack, org: str) -> None:
    with stack.client(org) as client:
        response = issue(client)  # a server-made device key, returned once
    assert response.status_code == 200, response.text
    device_key = serialization.load_pem_private_key(
        response.json()["private_key_pem"].encode(), None
    )
    assert isinstance(device_key, ed25519.Ed25519PrivateKey)
    device_raw = device_key.private_bytes_raw()

    cas = [(c, v) for t, c, v in db_rows(stack) if t == "certificate_authorities"]
    assert {v for c, v in cas if c == "key_sealed"} == {None}
    refs = [v for c, v in cas if c == "key_ref"]
    assert refs and all(
        str(ref).startswith("pkcs11:token=aura-test;object=") for ref in refs
    )

    for table, column, value in db_rows(stack):
        where = f"{table}.{column}"
        data = value.encode() if isinstance(value, str) else value
        if isinstance(data, bytes):
            assert b"PRIVATE KEY" not in data, where
            assert device_raw not in data, where
            # PKCS#8 Ed25519 and SEC1/PKCS#8 EC private key encodings.
            assert b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70" not in data, (
                where
            )
            assert (
                b"\x02\x01\x01\x04\x20" not in data
                or table != "certificate_authorities"
            ), where


def test_token_key_is_sensitive_and_not_extractable(stack: Stack, org: str) -> None:
    keys = stack.backend.authority_service()._keys  # type: ignore[union-attr]
    assert isinstance(keys, Pkcs11Backend)
    for row in stack.sql("SELECT key_ref FROM certificate_authorities"):
        assert keys.key_attributes(row["key_ref"]) == {
            "sensitive": True,
            "extractable": False,
        }


def envoy_mtls_listener(tmp: Path, bundle: str, crl: str) -> tuple[Any, int]:
    """A bare Envoy device listener: mTLS against the bundle and CRL, answers 200."""
    pki = ensure_dev_pki(tmp / "pki")
    (tmp / "bundle.pem").write_text(bundle)
    (tmp / "crl.pem").write_text(crl)
    port, admin = free_port(), free_port()
    tls = {
        "@type": TLS_CONTEXT,
        "require_client_certificate": True,
        "common_tls_context": {
            "tls_params": {
                "signature_algorithms": [
                    "ed25519",
                    "ecdsa_secp256r1_sha256",
                    "rsa_pss_rsae_sha256",
                ]
            },
            "tls_certificates": [
                {
                    "certificate_chain": {"filename": str(pki.server_cert)},
                    "private_key": {"filename": str(pki.server_key)},
                }
            ],
            "validation_context": {
                "trusted_ca": {"filename": str(tmp / "bundle.pem")},
                "crl": {"filename": str(tmp / "crl.pem")},
            },
        },
    }
    manager = {
        "@type": HCM_TYPE,
        "stat_prefix": "devices",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "direct_response": {
                                "status": 200,
                                "body": {"inline_string": "hello device"},
                            },
                        }
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": ROUTER_TYPE},
            }
        ],
    }
    config = {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "devices",
                    "address": {
                        "socket_address": {"address": "127.0.0.1", "port_value": port}
                    },
                    "filter_chains": [
                        {
                            "transport_socket": {
                                "name": "envoy.transport_sockets.tls",
                                "typed_config": tls,
                            },
                            "filters": [
                                {
                                    "name": HCM,
                                    "typed_config": manager,
                                }
                            ],
                        }
                    ],
                }
            ]
        },
    }
    import json

    bootstrap = tmp / "envoy-devices.json"
    bootstrap.write_text(json.dumps(config))
    log = tmp / "envoy-devices.log"
    process = start_envoy(bootstrap, log, base_id=port)
    wait_ready(process, admin, log)
    return process, port


def device_get(tmp: Path, port: int, cert_pem: str, key_pem: str) -> httpx.Response:
    (tmp / "device.pem").write_text(cert_pem)
    (tmp / "device.key").write_text(key_pem)
    context = ssl.create_default_context(
        cafile=str(ensure_dev_pki(tmp / "pki").ca_cert)
    )
    context.load_cert_chain(tmp / "device.pem", tmp / "device.key")
    with httpx.Client(verify=context, timeout=10) as client:
        return client.get(f"https://localhost:{port}/")


def test_envoy_accepts_the_hsm_issued_certificate_and_refuses_revoked(
    stack: Stack, org: str, tmp_path: Path
) -> None:
    with stack.client(org) as client:
        good = issue(client).json()
        bad = issue(client).json()
        revoked = client.post(
            f"/v2/certs/{bad['serial']}/revoke", json={"reason": "key_compromise"}
        )
        assert revoked.status_code == 200, revoked.text
        bundle, crl = trust_and_crl(client)

    envoy, port = envoy_mtls_listener(tmp_path, bundle, crl)
    try:
        accepted = device_get(tmp_path, port, good["cert_pem"], good["private_key_pem"])
        assert accepted.status_code == 200 and accepted.text == "hello device"
        with pytest.raises((httpx.HTTPError, ssl.SSLError)):
            device_get(tmp_path, port, bad["cert_pem"], bad["private_key_pem"])
    finally:
        envoy.terminate()
        envoy.wait(timeout=10)


def test_token_outage_gives_503_without_partial_rows_then_resumes(
    stack: Stack,
    org: str,
    softhsm: SoftHSM,  # noqa: F811
) -> None:
    with stack.client(org) as client:
        assert issue(client).status_code == 200
        certs_before = count(stack, "SELECT count(*) FROM certificates")
        audits_before = count(
            stack, "SELECT count(*) FROM audit_events WHERE event='cert.issue'"
        )

        softhsm.take_away()
        try:
            for _ in range(2):
                down = issue(client)
                assert down.status_code == 503, down.text
                assert reason_of(down) == "HSM_UNAVAILABLE"
        finally:
            softhsm.bring_back()
        assert count(stack, "SELECT count(*) FROM certificates") == certs_before
        after = count(
            stack, "SELECT count(*) FROM audit_events WHERE event='cert.issue'"
        )
        assert after == audits_before

        deadline = time.monotonic() + 10
        while (
            response := issue(client)
        ).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert response.status_code == 200, response.text


def test_import_adopts_an_existing_token_key(stack: Stack, tmp_path: Path) -> None:
    assert stack.backend is not None
    org_id = stack.create_org("imported-org")
    token = stack.create_token("imported-org", Scope.ADMIN)
    authorities = stack.backend.authority_service()
    keys = authorities._keys
    assert isinstance(keys, Pkcs11Backend)
    made = keys.create_key("pre-existing-ca", "p256")
    cert = make_ca_certificate(
        "imported-org", "external", made.key, stack.issuing_clock.now()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    actor = Actor(org_id, None, "test")

    other = keys.create_key("unrelated", "ed25519")
    with pytest.raises(InvalidInput, match="public key"):
        stack.run(
            authorities.import_ca(
                org_id, actor, str(other.key_ref), cert_pem, replace_active=False
            )
        )

    row = stack.run(
        authorities.import_ca(
            org_id, actor, str(made.key_ref), cert_pem, replace_active=False
        )
    )
    assert row.key_ref == made.key_ref and row.key_sealed is None
    with stack.client(token) as client:
        response = issue(client)
        assert response.status_code == 200, response.text
        bundle, _ = trust_and_crl(client)
    leaf = x509.load_pem_x509_certificate(response.json()["cert_pem"].encode())
    leaf.verify_directly_issued_by(cert)
    assert cert_pem in bundle


def test_outage_warns_how_close_the_crl_is_to_lapsing(
    stack: Stack,
    org: str,
    softhsm: SoftHSM,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert stack.backend is not None
    authorities = stack.backend.authority_service()
    caplog.set_level(logging.WARNING, logger="aura_grpc.services.authorities")

    softhsm.take_away()  # first, so the background re-signer cannot win the race
    try:
        stack.issuing_clock.advance(timedelta(hours=13))  # past half the period
        due = stack.run(authorities.resign_due_crls())
    finally:
        softhsm.bring_back()
        stack.issuing_clock.pin(None)

    assert due
    warnings = [
        r.getMessage() for r in caplog.records if "not re-signed" in r.getMessage()
    ]
    assert warnings, caplog.text
    assert re.search(r"lapses in 1[01]:\d\d:\d\d", warnings[0]), warnings[0]
