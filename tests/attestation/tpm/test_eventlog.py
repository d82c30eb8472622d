"""TCG crypto-agile event log parsing and replay on the GCE sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.eventlog import (
    boot_facts,
    check_replay,
    parse_event_log,
    replay,
)
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

BANKS = {"sha1": wire.ALG_SHA1, "sha256": wire.ALG_SHA256, "sha384": wire.ALG_SHA384}


@pytest.mark.parametrize("bank", sorted(BANKS))
def test_gce_event_log_replays_to_the_quoted_pcrs(gce: Path, bank: str) -> None:
    log = parse_event_log((gce / "event_log.bin").read_bytes())
    pcrs = json.loads((gce / "pcrs.json").read_text())[bank]

    replayed = replay(log, BANKS[bank])

    assert sorted(replayed) == list(range(10))
    assert all(replayed[i].hex() == pcrs[str(i)] for i in replayed)


def test_gce_event_log_reports_secure_boot_and_boot_applications(gce: Path) -> None:
    log = parse_event_log((gce / "event_log.bin").read_bytes())

    facts = boot_facts(log, wire.ALG_SHA256)

    assert facts["secure_boot"] is True and facts["event_count"] == 44
    assert all(len(d) == 64 for d in facts["boot_applications"])


def test_event_log_mismatch_names_its_own_reason(gce: Path) -> None:
    log = parse_event_log((gce / "event_log.bin").read_bytes())

    with pytest.raises(ClaimMismatch) as caught:
        check_replay(log, wire.ALG_SHA256, {4: bytes(32)})
    assert caught.value.reason == "TPM_EVENT_LOG_MISMATCH"


def test_event_log_without_the_quoted_bank_is_malformed(gce: Path) -> None:
    log = parse_event_log((gce / "event_log.bin").read_bytes())

    with pytest.raises(EvidenceMalformed):
        replay(log, wire.ALG_SHA512)


def test_truncated_event_log_is_malformed(gce: Path) -> None:
    raw = (gce / "event_log.bin").read_bytes()

    with pytest.raises(EvidenceMalformed):
        parse_event_log(raw[:-7])
