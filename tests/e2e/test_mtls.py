"""mTLS at the edge, through the real Envoy with real TLS clients.

Device listener: client certificates chained to live org CAs (SDS), CRLs (SDS),
a per-request revocation check (ext_authz), identity headers Envoy sets, the
protected upstream route, and certificate-authenticated device calls.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aura_grpc.auth.scopes import Scope
from aura_grpc.edge.sds import HEALTH_NAME
from aura_grpc.gen.aura.v2 import device_pb2, device_pb2_grpc
from aura_grpc.services.audit import Actor
from aura_grpc.services.identities import certificate_sha256
from tests.certs import csr_pem
from tests.harness import Stack, free_port, make_stack
from tests.mtls_devices import (
    DeviceCert,
    device_client,
    enroll,
    get,
    key_pem,
    new_key,
    open_connection,
    write_identity,
)
from tests.stub_evidence import StubTPM

pytestmark = pytest.mark.e2e

ALLOWED_ORG = "acme"


class Upstream(BaseHTTPRequestHandler):
    """The protected service: answers with the identity headers it received."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        Upstream.seen.append(headers)
        body = json.dumps(headers).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, upstream: int) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("aura-mtls")
    running = make_stack(
        state,
        upstream_address=f"127.0.0.1:{upstream}",
        upstream_allowed_org=ALLOWED_ORG,
        crl_check_seconds=3600,
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> str:
    stack.create_org(ALLOWED_ORG)
    return stack.create_token(ALLOWED_ORG, Scope.ADMIN)


@pytest.fixture
def api(stack: Stack, admin: str) -> Iterator[httpx.Client]:
    with stack.client(admin) as client:
        yield client


def whoami(stack: Stack, device: DeviceCert | None) -> httpx.Response:
    """One request on a new connection."""
    assert stack.ca_cert is not None
    with device_client(stack.ca_cert, stack.settings.device_port, device) as client:
        return client.get("/v2/whoami")


def refused(stack: Stack, device: DeviceCert | None, path: str = "/v2/whoami") -> str:
    """How a new connection was refused: a TLS alert, or 401/403 from the edge."""
    assert stack.ca_cert is not None
    try:
        with device_client(stack.ca_cert, stack.settings.device_port, device) as c:
            response = c.get(path)
    except (httpx.TransportError, ssl.SSLError) as exc:
        return f"tls: {exc}"
    assert response.status_code in (401, 403), response.text
    return f"http {response.status_code}: {response.text}"


def org_id(stack: Stack, name: str) -> str:
    assert stack.backend is not None
    return stack.run(stack.backend.orgs().get_org(name)).id


# --- who gets in -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ed25519", "p256"])
def test_client_key_types_get_in_and_whoami_names_them(
    stack: Stack, api: httpx.Client, kind: str
) -> None:
    device = enroll(api, kind, subject_cn=f"{kind}-box")
    response = whoami(stack, device)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["org"] == ALLOWED_ORG
    assert body["org_id"] == org_id(stack, ALLOWED_ORG)
    assert body["device_id"] == device.device_id
    assert body["subject_cn"] == f"{kind}-box"
    assert body["serial"] == device.serial
    cert = x509.load_pem_x509_certificate(device.cert_pem.encode())
    assert datetime.fromisoformat(body["not_after"]) == cert.not_valid_after_utc


def test_grpcio_client_calls_whoami(stack: Stack, api: httpx.Client) -> None:
    assert stack.ca_cert is not None
    for kind in ("p256", "ed25519"):
        device = enroll(api, kind)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=stack.ca_cert.read_bytes(),
            private_key=device.key_pem.encode(),
            certificate_chain=device.cert_pem.encode(),
        )
        target = f"127.0.0.1:{stack.settings.device_port}"
        with grpc.secure_channel(target, credentials) as channel:
            stub = device_pb2_grpc.DeviceServiceStub(channel)
            reply = stub.WhoAmI(device_pb2.WhoAmIRequest(), timeout=10)
        assert reply.serial == device.serial, kind
        assert reply.device_id == device.device_id


def test_openssl_and_curl_clients_get_in(stack: Stack, api: httpx.Client) -> None:
    assert stack.ca_cert is not None
    device = enroll(api, "ed25519")
    port = stack.settings.device_port
    request = "GET /v2/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    s_client = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            "-quiet",
            "-CAfile",
            str(stack.ca_cert),
            "-cert",
            str(device.cert_path),
            "-key",
            str(device.key_path),
        ],
        input=request,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    curl = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            str(stack.ca_cert),
            "--cert",
            str(device.cert_path),
            "--key",
            str(device.key_path),
            f"https://127.0.0.1:{port}/v2/whoami",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    no_cert = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            str(stack.ca_cert),
            f"https://127.0.0.1:{port}/v2/whoami",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )

    assert "HTTP/1.1 200" in s_client.stdout, s_client.stdout + s_client.stderr
    assert device.serial in s_client.stdout
    assert json.loads(curl.stdout)["serial"] == device.serial, curl.stderr
    assert no_cert.returncode != 0 and device.serial not in no_cert.stdout


# --- who is refused ----------------------------------------------------------


def self_signed(tmp: Path) -> DeviceCert:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "laptop-7")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    paths = write_identity(pem, key_pem(key), tmp)
    return DeviceCert(
        format(cert.serial_number, "x"), pem, key_pem(key), "", "", *paths
    )


def test_no_certificate_and_self_signed_are_refused(
    stack: Stack, tmp_path: Path
) -> None:
    assert refused(stack, None).startswith("tls:")
    assert refused(stack, self_signed(tmp_path)).startswith("tls:")


def test_revoked_certificate_is_refused_on_new_connections(
    stack: Stack, api: httpx.Client
) -> None:
    device = enroll(api, "ed25519")
    assert whoami(stack, device).status_code == 200

    revoked = api.post(f"/v2/certs/{device.serial}/revoke", json={})
    assert revoked.status_code == 200, revoked.text
    outcome = refused(stack, device)
    upstream_outcome = refused(stack, device, "/upstream/hello")

    assert "revoked" in outcome.lower(), outcome
    assert "revoked" in upstream_outcome.lower(), upstream_outcome


def test_expired_certificate_is_refused(stack: Stack, api: httpx.Client) -> None:
    # Issued while the issuing clock is three days behind: not_after has passed.
    stack.issuing_clock.advance(-timedelta(days=3))
    try:
        device = enroll(api, "p256", days=1)
    finally:
        stack.issuing_clock.advance(timedelta(days=3))
    cert = x509.load_pem_x509_certificate(device.cert_pem.encode())
    assert cert.not_valid_after_utc < datetime.now(UTC)

    outcome = refused(stack, device)
    assert outcome.startswith("tls:") and "expired" in outcome.lower(), outcome


def test_revoking_closes_an_open_keep_alive_connection(
    stack: Stack, api: httpx.Client
) -> None:
    assert stack.ca_cert is not None
    device = enroll(api, "ed25519")
    connection = open_connection(stack.ca_cert, stack.settings.device_port, device)
    try:
        before, _ = get(connection, "/v2/whoami")
        socket_before = connection.sock
        assert api.post(f"/v2/certs/{device.serial}/revoke", json={}).status_code == 200
        after, body = get(connection, "/v2/whoami")
        socket_after = connection.sock
    finally:
        connection.close()

    assert before == 200
    assert socket_after is socket_before  # the very same TLS connection
    assert after == 403, body
    assert body["details"][0]["reason"] == "CERT_REVOKED"


def test_backend_refuses_revoked_serials_itself(
    stack: Stack, api: httpx.Client
) -> None:
    # Even if the edge let a request through, the backend's own lookup says no.
    device = enroll(api, "ed25519")
    assert api.post(f"/v2/certs/{device.serial}/revoke", json={}).status_code == 200
    assert stack.backend is not None
    identities = stack.backend.edge.identities  # type: ignore[union-attr]
    with pytest.raises(Exception, match="revoked"):
        stack.run(
            identities.resolve(device.serial, certificate_sha256(device.cert_pem))
        )
    with pytest.raises(Exception, match="not one AURA issued"):
        stack.run(identities.resolve(device.serial, "00" * 32))


# --- trust that changes while Envoy runs --------------------------------------


def test_new_orgs_first_certificate_works_without_restart(stack: Stack) -> None:
    assert stack.envoy is not None
    pid = stack.envoy.pid
    stack.create_org("newcomer")
    token = stack.create_token("newcomer", Scope.ADMIN)
    with stack.client(token) as client:
        device = enroll(client, "ed25519")

    response = whoami(stack, device)
    assert response.status_code == 200, response.text
    assert response.json()["org"] == "newcomer"
    assert stack.envoy.pid == pid and stack.envoy.poll() is None


def test_rotation_keeps_old_and_new_certificates_working(stack: Stack) -> None:
    stack.create_org("rotating")
    token = stack.create_token("rotating", Scope.ADMIN)
    with stack.client(token) as client:
        old = enroll(client, "ed25519", days=1)
        rotating = org_id(stack, "rotating")
        authorities = stack.backend.authority_service()  # type: ignore[union-attr]
        stack.run(
            authorities.create_ca(rotating, Actor(rotating, None), replace_active=True)
        )
        new = enroll(client, "p256")

    assert old.ca_id != new.ca_id
    for device in (old, new):
        response = whoami(stack, device)
        assert response.status_code == 200, response.text
        assert response.json()["ca_id"] == device.ca_id

    # Once the old CA's last certificate has expired it leaves the bundle.
    publisher = stack.backend.edge.publisher  # type: ignore[union-attr]
    ca_ids = {ca.ca_id for ca in stack.run(publisher.refresh()).cas}
    assert {old.ca_id, new.ca_id} <= ca_ids
    stack.issuing_clock.advance(timedelta(days=2))
    try:
        later = {ca.ca_id for ca in stack.run(publisher.refresh()).cas}
    finally:
        stack.issuing_clock.advance(-timedelta(days=2))
        stack.run(publisher.refresh())
    assert new.ca_id in later and old.ca_id not in later


def test_every_published_ca_has_exactly_one_valid_crl(
    stack: Stack, api: httpx.Client
) -> None:
    enroll(api, "ed25519")
    publisher = stack.backend.edge.publisher  # type: ignore[union-attr]
    snapshot = stack.run(publisher.refresh())
    cas = x509.load_pem_x509_certificates(snapshot.bundle_pem)
    crls = [
        x509.load_pem_x509_crl(b"-----BEGIN X509 CRL" + part)
        for part in snapshot.crl_pem.split(b"-----BEGIN X509 CRL")[1:]
    ]
    assert len(cas) == len(crls) == len(snapshot.cas) >= 1
    for ca, crl in zip(cas, crls, strict=True):
        assert crl.issuer == ca.subject
        assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        assert crl.next_update_utc is not None
        assert crl.next_update_utc > datetime.now(UTC)


def test_a_crl_that_would_lock_clients_out_is_not_published(
    stack: Stack, api: httpx.Client
) -> None:
    # A CRL signed while the issuing clock is 30 days behind has already lapsed
    # for Envoy; the publisher keeps the previous good CRL and clients get in.
    device = enroll(api, "ed25519")
    publisher = stack.backend.edge.publisher  # type: ignore[union-attr]
    version = publisher.snapshot.version
    authorities = stack.backend.authority_service()  # type: ignore[union-attr]
    stack.issuing_clock.advance(-timedelta(days=30))
    try:
        stack.run(authorities.resign_crl(device.ca_id))
    finally:
        stack.issuing_clock.advance(timedelta(days=30))

    assert publisher.snapshot.version == version
    assert whoami(stack, device).status_code == 200
    stack.run(authorities.resign_crl(device.ca_id))  # a good one replaces it
    assert publisher.snapshot.version != version
    assert whoami(stack, device).status_code == 200


def health_of(stack: Stack) -> int:
    target = f"unix:{stack.settings.resolved_backend_socket}"
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(
            health_pb2.HealthCheckRequest(service=HEALTH_NAME), timeout=5
        )
    return int(reply.status)


def test_envoy_nack_is_seen_and_old_bundle_stays(
    stack: Stack, api: httpx.Client
) -> None:
    device = enroll(api, "p256")
    backend = stack.backend
    assert backend is not None and backend.edge is not None
    publisher, sds = backend.edge.publisher, backend.edge.sds
    assert sds is not None
    # Let the enrolment's own trust change settle first: the cross-worker watch
    # would otherwise republish the good bundle in the middle of the test.
    time.sleep(4 * stack.settings.edge_watch_seconds)
    deadline = time.monotonic() + 5
    while sds.state.acked_version != publisher.snapshot.version:
        assert time.monotonic() < deadline, "Envoy never acknowledged the bundle"
        time.sleep(0.05)
    good = publisher.snapshot
    assert health_of(stack) == health_pb2.HealthCheckResponse.SERVING

    # Bypass the checks on purpose: only a test can publish this.
    stack.run(_publish(publisher, replace(good, crl_pem=BROKEN_CRL, version="broken")))
    deadline = time.monotonic() + 5
    while not sds.state.nack_error and time.monotonic() < deadline:
        time.sleep(0.05)
    nacked_health = health_of(stack)
    still_in = whoami(stack, device).status_code

    stack.run(_publish(publisher, good))
    deadline = time.monotonic() + 5
    while sds.state.nack_error and time.monotonic() < deadline:
        time.sleep(0.05)

    assert sds.state.acked_version == good.version
    assert nacked_health == health_pb2.HealthCheckResponse.NOT_SERVING
    assert still_in == 200
    assert health_of(stack) == health_pb2.HealthCheckResponse.SERVING


# A PEM block Envoy cannot parse (plain text without any block is taken as
# "no CRLs" and fails every handshake: one more reason to check before publishing).
BROKEN_CRL = b"-----BEGIN X509 CRL-----\nAAAAAAAA\n-----END X509 CRL-----\n"


async def _publish(publisher: Any, snapshot: Any) -> None:
    publisher.publish(snapshot)


# --- identity to the backend and upstream ----------------------------------


def test_upstream_gets_only_valid_certificates_of_the_allowed_org(
    stack: Stack, api: httpx.Client
) -> None:
    assert stack.ca_cert is not None
    device = enroll(api, "ed25519")
    with device_client(stack.ca_cert, stack.settings.device_port, device) as client:
        spoofed = client.get(
            "/upstream/hello",
            headers={
                "x-aura-org": "rival",
                "x-aura-serial": "abc",
                "x-aura-device-id": "dev_forged",
                "x-aura-peer-serial": "abc",
                "x-forwarded-client-cert": "Hash=00;URI=spiffe://evil",
            },
        )
    assert spoofed.status_code == 200, spoofed.text
    seen = spoofed.json()
    assert seen["x-aura-org"] == ALLOWED_ORG
    assert seen["x-aura-serial"] == device.serial
    assert seen["x-aura-device-id"] == device.device_id
    assert seen["x-aura-peer-serial"].lower().lstrip("0") == device.serial
    assert (
        f"Hash={certificate_sha256(device.cert_pem)}" in seen["x-forwarded-client-cert"]
    )
    assert "evil" not in seen["x-forwarded-client-cert"]

    stack.create_org("rival")
    with stack.client(stack.create_token("rival", Scope.ADMIN)) as rival_api:
        rival = enroll(rival_api, "ed25519")
    count = len(Upstream.seen)
    assert whoami(stack, rival).status_code == 200  # a valid certificate...
    outcome = refused(stack, rival, "/upstream/hello")  # ...of the wrong org
    assert "ORG_NOT_ALLOWED" in outcome, outcome
    assert len(Upstream.seen) == count


def test_spoofed_identity_headers_get_nowhere(stack: Stack, api: httpx.Client) -> None:
    assert stack.ca_cert is not None
    victim, caller = enroll(api, "ed25519"), enroll(api, "p256")
    forged = {
        "x-aura-peer-serial": victim.serial,
        "x-forwarded-client-cert": f"Hash={certificate_sha256(victim.cert_pem)}",
    }
    # Device listener: the caller's own certificate wins over its headers.
    with device_client(stack.ca_cert, stack.settings.device_port, caller) as client:
        mine = client.get("/v2/whoami", headers=forged)
    assert mine.status_code == 200
    assert mine.json()["serial"] == caller.serial

    # API listener: the headers are stripped, so there is no identity at all.
    api_target = f"127.0.0.1:{stack.settings.api_port}"
    credentials = grpc.ssl_channel_credentials(stack.ca_cert.read_bytes())
    with grpc.secure_channel(api_target, credentials) as channel:
        stub = device_pb2_grpc.DeviceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.WhoAmI(device_pb2.WhoAmIRequest(), metadata=list(forged.items()))
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    json_route = api.get("/v2/whoami", headers=forged)
    assert json_route.status_code == 404


# --- device calls authenticated by the certificate ----------------------------


def test_device_renews_with_its_certificate_after_fresh_attestation(
    stack: Stack, api: httpx.Client
) -> None:
    assert stack.ca_cert is not None
    tpm = StubTPM()
    device = enroll(api, "ed25519", tpm=tpm, subject_cn="renew-me")
    new_key_ = new_key("p256")

    with device_client(stack.ca_cert, stack.settings.device_port, device) as client:
        no_ticket = client.post(
            "/v2/certs/renew", json={"csr_pem": csr_pem(new_key_), "days": 10}
        )
        nonce = client.post("/v2/device/challenge", json={}).json()["nonce"]
        attested = client.post(
            "/v2/device/attest", json={"type": "tpm", "payload": tpm.payload(nonce)}
        )
        devices_before = stack.sql("SELECT count(*) AS n FROM devices")[0]["n"]
        other_nonce = client.post("/v2/device/challenge", json={}).json()["nonce"]
        other = client.post(
            "/v2/device/attest",
            json={"type": "tpm", "payload": StubTPM().payload(other_nonce)},
        )
        renewed = client.post(
            "/v2/certs/renew",
            json={
                "csr_pem": csr_pem(new_key_, cn="ignored"),
                "days": 10,
                "issue_ticket": attested.json()["issue_ticket"],
            },
        )

    assert no_ticket.status_code == 400
    assert no_ticket.json()["details"][0]["reason"] == "ATTESTATION_REQUIRED"
    assert attested.status_code == 200, attested.text
    assert attested.json()["device_id"] == device.device_id
    assert other.status_code == 403
    assert other.json()["details"][0]["reason"] == "DEVICE_MISMATCH"
    # Refused evidence stores nothing: no device row appeared for it.
    devices_after = stack.sql("SELECT count(*) AS n FROM devices")[0]["n"]
    assert devices_after == devices_before
    assert renewed.status_code == 200, renewed.text
    cert = x509.load_pem_x509_certificate(renewed.json()["cert_pem"].encode())
    assert cert.subject.rfc4514_string() == "CN=renew-me"
    assert renewed.json()["serial"] != device.serial

    new_paths = write_identity(renewed.json()["cert_pem"], key_pem(new_key_))
    fresh = DeviceCert(
        renewed.json()["serial"],
        renewed.json()["cert_pem"],
        key_pem(new_key_),
        device.device_id,
        "",
        *new_paths,
    )
    me = whoami(stack, fresh).json()
    assert (me["device_id"], me["subject_cn"], me["org"]) == (
        device.device_id,
        "renew-me",
        ALLOWED_ORG,
    )


def test_device_calls_need_the_device_listener(stack: Stack, api: httpx.Client) -> None:
    # No client certificate behind the call: not even an admin token helps.
    assert stack.ca_cert is not None
    credentials = grpc.ssl_channel_credentials(stack.ca_cert.read_bytes())
    target = f"127.0.0.1:{stack.settings.api_port}"
    token = api.headers["authorization"]
    with grpc.secure_channel(target, credentials) as channel:
        stub = device_pb2_grpc.DeviceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.RenewCert(
                device_pb2.RenewCertRequest(csr_pem="x", days=1),
                metadata=[("authorization", token)],
            )
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_connection_lifetime_is_bounded(tmp_path: Path) -> None:
    # Whatever a per-request check might miss, no connection outlives this.
    short = make_stack(tmp_path, device_max_connection_seconds=1).start()
    try:
        assert short.ca_cert is not None
        short.create_org("brief")
        with short.client(short.create_token("brief", Scope.ADMIN)) as client:
            device = enroll(client, "p256")
        connection = open_connection(short.ca_cert, short.settings.device_port, device)
        status, _ = get(connection, "/v2/whoami")
        assert connection.sock is not None
        connection.sock.settimeout(8)
        started = time.monotonic()
        try:
            closed = connection.sock.recv(1) == b""
        except (ssl.SSLError, OSError):
            closed = True
        lived = time.monotonic() - started
        connection.close()
    finally:
        short.stop()
    assert status == 200
    assert closed and lived < 4
