"""Prometheus metrics, served on their own loopback port (setting metrics_port).

Security events are counted from the audit rows once their transaction commits
(`services.audit` calls `count_event`), so a metric and the audit trail never
disagree. Gauges about the fleet are computed at scrape time from a snapshot a
background task refreshes (`services.fleet_gauges`).

The device edge increments `SDS_PUSH_FAILURES` and `ENVOY_NACKS` itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import (
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from aura_grpc.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# The `_created` samples double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

ATTESTATIONS = Counter(
    "aura_attestations",
    "Attestations by evidence type and result (ok, posture_failed, rejected).",
    ["type", "result"],
)
VERIFY_SECONDS = Histogram(
    "aura_verification_seconds",
    "Time spent verifying evidence, by evidence type.",
    ["type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ISSUANCES = Counter("aura_certificates_issued", "Client certificates issued.")
DENIALS = Counter(
    "aura_issuance_denials", "Issuance requests refused, by reason.", ["reason"]
)
REVOCATIONS = Counter(
    "aura_certificates_revoked", "Certificates revoked, by reason.", ["reason"]
)
# For the device edge (aura_grpc/edge): increment where a push fails or Envoy
# answers a push with a NACK.
SDS_PUSH_FAILURES = Counter(
    "aura_sds_push_failures", "Trust bundle pushes to Envoy that failed."
)
ENVOY_NACKS = Counter("aura_envoy_nacks", "Trust bundle pushes Envoy refused.")


def count_event(
    event: str, outcome: str, reason: str, detail: Mapping[str, Any]
) -> None:
    """Count one committed audit event."""
    if event == "attestation":
        type_name = str(detail.get("type", "unknown"))
        if outcome == "rejected":
            result = "rejected"
        else:
            result = "ok" if detail.get("posture_ok") else "posture_failed"
        ATTESTATIONS.labels(type_name, result).inc()
    elif event == "cert.issue":
        ISSUANCES.inc()
    elif event == "cert.deny":
        DENIALS.labels(reason or "unknown").inc()
    elif event == "policy.decision" and outcome != "allow":
        DENIALS.labels("POLICY_" + outcome.upper()).inc()
    elif event == "cert.revoke":
        REVOCATIONS.labels(str(detail.get("revocation_reason", "unspecified"))).inc()


@dataclass
class FleetSnapshot:
    """What the gauges report, refreshed in the background."""

    stale_devices: int = 0
    # (ca_id, org_id) -> the CRL's nextUpdate.
    crl_next_update: dict[tuple[str, str], datetime] = field(default_factory=dict)
    refreshed: bool = False


class FleetCollector(Collector):
    def __init__(self) -> None:
        self.snapshot = FleetSnapshot()
        self.clock: Clock = SystemClock()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.snapshot
        if not snapshot.refreshed:
            return
        yield GaugeMetricFamily(
            "aura_devices_stale",
            "Devices whose last attestation is older than the freshness window.",
            value=snapshot.stale_devices,
        )
        crl = GaugeMetricFamily(
            "aura_crl_seconds_to_next_update",
            "Seconds until each live CA's CRL reaches nextUpdate.",
            labels=["ca_id", "org_id"],
        )
        now = self.clock.now()
        for (ca_id, org_id), next_update in sorted(snapshot.crl_next_update.items()):
            crl.add_metric([ca_id, org_id], (next_update - now).total_seconds())
        yield crl


FLEET = FleetCollector()
REGISTRY.register(FLEET)


class MetricsServer:
    """The /metrics endpoint on its own port, in a thread of its own."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server, self._thread = start_http_server(self._port, self._host)
        log.info("metrics on http://%s:%d/metrics", self._host, self._port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
