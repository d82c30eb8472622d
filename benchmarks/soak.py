"""Mixed load through Envoy for a while: attest, issue, list, revoke and mTLS
calls from a few workers against a real `aura serve`, reporting requests,
errors and the server's resident memory over time.

    python -m benchmarks.soak --seconds 600     # `make soak`
Goal: no unexpected error, RSS growth under 10 % (first minute to the end).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.edge import _device_port
from benchmarks.running import RunningAura, running_aura
from tests.mtls_devices import device_client, enroll
from tests.stub_evidence import StubTPM

WORKERS = 3
SAMPLE_SECONDS = 10


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.requests[what] += 1
            if not response.is_success:
                self.errors[f"{what} {response.status_code}"] += 1
        return response


def rss_kib(root: int) -> int:
    """Resident memory of the server and every process under it."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, ppid in parents.items() if ppid == pid]
        tree.update(children)
        frontier += children
    return sum(_vm_rss(pid) for pid in tree)


def _vm_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def mixed(aura: RunningAura, tally: Tally, stop: threading.Event) -> None:
    headers = {"authorization": f"Bearer {aura.token}"}
    with httpx.Client(
        base_url=aura.base_url, verify=str(aura.ca_cert), headers=headers, timeout=30
    ) as api:
        device = enroll(api)
        port = int(_device_port(aura))
        with device_client(aura.ca_cert, port, device) as mtls:
            while not stop.is_set():
                one_cycle(api, mtls, tally)


def one_cycle(api: httpx.Client, mtls: httpx.Client, tally: Tally) -> None:
    nonce = tally.count("challenge", api.post("/v2/attest/challenge", json={}))
    attested = tally.count(
        "attest",
        api.post(
            "/v2/attest",
            json={"type": "tpm", "payload": StubTPM().payload(nonce.json()["nonce"])},
        ),
    ).json()
    issued = tally.count(
        "issue",
        api.post(
            "/v2/certs/issue",
            json={"device_id": attested["device_id"], "subject_cn": "soak", "days": 1},
        ),
    ).json()
    tally.count("list", api.get("/v2/certs", params={"page_size": 20}))
    tally.count("revoke", api.post(f"/v2/certs/{issued['serial']}/revoke", json={}))
    tally.count("whoami", mtls.get("/v2/whoami"))


def soak(seconds: float) -> tuple[Tally, list[tuple[float, int]]]:
    tally, samples = Tally(), []
    with running_aura() as aura:
        stop = threading.Event()
        workers = [
            threading.Thread(target=mixed, args=(aura, tally, stop), daemon=True)
            for _ in range(WORKERS)
        ]
        start = time.monotonic()
        for worker in workers:
            worker.start()
        while (elapsed := time.monotonic() - start) < seconds:
            samples.append((elapsed, rss_kib(aura.pid)))
            total = sum(tally.requests.values())
            print(
                f"t={elapsed:5.0f} s  requests {total}  errors "
                f"{sum(tally.errors.values())}  rss {samples[-1][1] // 1024} MiB",
                flush=True,
            )
            time.sleep(min(SAMPLE_SECONDS, max(0.1, seconds - elapsed)))
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        samples.append((time.monotonic() - start, rss_kib(aura.pid)))
    return tally, samples


def rss_growth(samples: list[tuple[float, int]]) -> float:
    """End over the first sample after warm-up (a minute, or a tenth of the run)."""
    warm = min(60.0, samples[-1][0] / 10)
    base = next(rss for t, rss in samples if t >= warm) if samples else 0
    return samples[-1][1] / base - 1 if base else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    args = parser.parse_args(argv)
    tally, samples = soak(args.seconds)
    total, errors = sum(tally.requests.values()), sum(tally.errors.values())
    print(
        f"soak {args.seconds:.0f} s: {total} requests "
        f"({total / args.seconds:.1f}/s), {errors} errors {dict(tally.errors)}"
    )
    print(
        f"soak rss: {samples[0][1] // 1024} MiB -> {samples[-1][1] // 1024} MiB, "
        f"growth after warm-up {rss_growth(samples):+.1%} (goal < 10 %)"
    )
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
