"""The device (mTLS) edge: revocation propagation, handshakes and requests.

Against a real `aura serve` (backend + Envoy in a child process). Revocation
propagation is the time from the revoke call returning to the first refused
request, on a new connection and on an already-open keep-alive connection.
Handshakes and kept-alive requests on the device listener are quoted as a
ratio to the same on the API listener (TLS without client certificates),
measured in the same run.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from benchmarks.running import RunningAura, running_aura
from tests.mtls_devices import DeviceCert, enroll, tls_context

TRIALS = int(os.environ.get("AURA_BENCH_EDGE_TRIALS", "60"))
SECONDS = float(os.environ.get("AURA_BENCH_EDGE_SECONDS", "2"))
THREADS = 4


def _percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    p50 = statistics.median(ordered)
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (n={len(ordered)})"


def _refused(request: Callable[[], int]) -> bool:
    try:
        return request() in (401, 403)
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return True


def _fresh_request(aura: RunningAura, port: int, device: DeviceCert) -> int:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=tls_context(aura.ca_cert, device), timeout=5
    )
    try:
        connection.request("GET", "/v2/whoami")
        return connection.getresponse().status
    finally:
        connection.close()


def _keep_alive_request(connection: http.client.HTTPSConnection) -> int:
    connection.request("GET", "/v2/whoami")
    response = connection.getresponse()
    response.read()
    return response.status


def _until_refused(request: Callable[[], int], started: float) -> float:
    deadline = started + 10
    while time.perf_counter() < deadline:
        if _refused(request):
            return (time.perf_counter() - started) * 1000
    raise RuntimeError("a revoked certificate was still accepted after 10 s")


def _handshake_only(aura: RunningAura, port: int, device: DeviceCert) -> int:
    # TLS 1.2 so a refused client certificate fails the handshake itself.
    context = tls_context(aura.ca_cert, device)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with raw, context.wrap_socket(raw, server_hostname="127.0.0.1"):
        return 200


def propagation(
    aura: RunningAura, api: httpx.Client, port: int, mode: str
) -> list[float]:
    """Milliseconds from the revoke call returning to the first refusal:
    `open` on the kept-alive connection, `new` a new connection and request,
    `handshake` a new TLS handshake (the CRL Envoy got by SDS)."""
    samples = []
    for _ in range(TRIALS):
        device = enroll(api, "ed25519")
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=tls_context(aura.ca_cert, device), timeout=5
        )
        try:
            assert _keep_alive_request(connection) == 200
            revoked = api.post(f"/v2/certs/{device.serial}/revoke", json={})
            started = time.perf_counter()
            assert revoked.status_code == 200, revoked.text
            probe = {
                "open": partial(_keep_alive_request, connection),
                "new": partial(_fresh_request, aura, port, device),
                "handshake": partial(_handshake_only, aura, port, device),
            }[mode]
            samples.append(_until_refused(probe, started))
        finally:
            connection.close()
    return samples


def _in_threads(work: Callable[[], None]) -> float:
    """Run `work` in THREADS threads for SECONDS; returns completions per second."""
    done = [0] * THREADS
    stop = time.perf_counter() + SECONDS

    def loop(slot: int) -> None:
        while time.perf_counter() < stop:
            work()
            done[slot] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def handshakes(ca: Path, port: int, device: DeviceCert | None) -> float:
    # TLS 1.2: the client's handshake ends only after the server has verified
    # the client certificate (in TLS 1.3 the client finishes first).
    context = tls_context(ca, device)
    context.maximum_version = ssl.TLSVersion.TLSv1_2

    def one() -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with raw, context.wrap_socket(raw, server_hostname="127.0.0.1"):
            pass

    return _in_threads(one)


def requests(
    ca: Path,
    port: int,
    device: DeviceCert | None,
    path: str,
    headers: dict[str, str] | None = None,
) -> float:
    local = threading.local()

    def one() -> None:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPSConnection(
                "127.0.0.1", port, context=tls_context(ca, device), timeout=5
            )
        local.connection.request("GET", path, headers=headers or {})
        response = local.connection.getresponse()
        response.read()
        assert response.status == 200, response.status

    return _in_threads(one)


def main() -> None:
    with running_aura(device_max_connection_seconds="300") as aura:
        device_port = int(_device_port(aura))
        api_port = int(aura.base_url.rsplit(":", 1)[1])
        headers = {"authorization": f"Bearer {aura.token}"}
        with httpx.Client(
            base_url=aura.base_url, verify=str(aura.ca_cert), headers=headers
        ) as api:
            new_conn = propagation(aura, api, device_port, "new")
            open_conn = propagation(aura, api, device_port, "open")
            handshake = propagation(aura, api, device_port, "handshake")
            device = enroll(api, "ed25519")

        print(
            f"revocation -> refused, new connection:  {_percentiles(new_conn)}"
            "  (goal p99 < 100 ms)",
            flush=True,
        )
        print(
            f"revocation -> refused, open connection: {_percentiles(open_conn)}"
            "  (goal p99 < 1000 ms)",
            flush=True,
        )
        print(
            "revocation -> TLS handshake refused (CRL by SDS): "
            f"{_percentiles(handshake)}",
            flush=True,
        )

        plain = handshakes(aura.ca_cert, api_port, None)
        mutual = handshakes(aura.ca_cert, device_port, device)
        print(
            f"new-connection handshakes/s, mTLS device listener: {mutual:7.1f}/s  "
            f"ratio {mutual / plain:.2f} of {plain:.1f}/s on the API listener "
            f"(TLS 1.2, no client certificate), {THREADS} threads",
            flush=True,
        )

        plain_rps = requests(aura.ca_cert, api_port, None, "/v2/version")
        mutual_rps = requests(aura.ca_cert, device_port, device, "/v2/whoami")
        print(
            f"kept-alive requests/s, GET /v2/whoami on the device listener: "
            f"{mutual_rps:7.1f}/s  ratio {mutual_rps / plain_rps:.2f} of "
            f"{plain_rps:.1f}/s for GET /v2/version on the API listener "
            f"(no client certificate, no ext_authz, no lookup), {THREADS} connections",
            flush=True,
        )
        bearer = {"authorization": f"Bearer {aura.token}"}
        token_rps = requests(aura.ca_cert, api_port, None, "/v2/ca", bearer)
        print(
            f"kept-alive requests/s, GET /v2/whoami on the device listener: "
            f"{mutual_rps:7.1f}/s  ratio {mutual_rps / token_rps:.2f} of "
            f"{token_rps:.1f}/s for GET /v2/ca with a bearer token on the API "
            f"listener (one authenticated lookup, no client certificate)",
            flush=True,
        )


def _device_port(aura: RunningAura) -> str:
    # `running_aura` passes the port to the server through the environment only;
    # read it back from the rendered bootstrap.
    text = (aura.state_dir / "gateway" / "envoy.yaml").read_text()
    marker = text.index("- name: device")
    return text[marker:].split("port_value:", 1)[1].split("}", 1)[0].strip()


if __name__ == "__main__":
    main()
