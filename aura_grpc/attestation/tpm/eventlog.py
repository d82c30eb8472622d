"""The TCG PC Client crypto-agile event log: parsing, replay and boot facts.

Layout (TCG PC Client Platform Firmware Profile, 10.2): one SHA-1-format
TCG_PCClientPCREvent whose data is the "Spec ID Event03" header listing the
banks and their digest sizes, then TCG_PCR_EVENT2 entries, all little-endian.
Replaying the digests must reproduce the quoted PCRs; only then are the facts
read from the log's event data worth anything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aura_grpc.attestation.tpm import wire
from aura_grpc.attestation.tpm.wire import Reader
from aura_grpc.errors import ClaimMismatch, EvidenceMalformed

EV_NO_ACTION = 0x00000003
EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001
EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003

_SPEC_ID = b"Spec ID Event03\x00"
_STARTUP_LOCALITY = b"StartupLocality\x00"
_MAX_BANKS = 8
_MAX_EVENTS = 20000
_PCR_COUNT = 24


@dataclass(frozen=True)
class TCGEvent:
    pcr_index: int
    event_type: int
    digests: Mapping[int, bytes]
    data: bytes


@dataclass(frozen=True)
class TCGEventLog:
    digest_sizes: Mapping[int, int]
    events: tuple[TCGEvent, ...]
    startup_locality: int


def _read_spec_header(reader: Reader) -> dict[int, int]:
    reader.u32(), reader.u32()  # PCR index and EV_NO_ACTION: the header's shape
    reader.take(20)
    header = Reader(reader.take(reader.u32()), "event log header", little_endian=True)
    if header.take(len(_SPEC_ID)) != _SPEC_ID:
        raise EvidenceMalformed("event log is not in the crypto-agile format")

    header.take(8)  # platform class, spec version, errata, uintn size
    count = header.u32()
    if not 0 < count <= _MAX_BANKS:
        raise EvidenceMalformed(f"event log lists {count} digest algorithms")
    sizes = {}
    for _ in range(count):
        alg, size = header.u16(), header.u16()
        if size > 64:
            raise EvidenceMalformed("event log digest size is over 64 bytes")
        sizes[alg] = size
    return sizes


def _read_event(reader: Reader, sizes: Mapping[int, int]) -> TCGEvent:
    pcr_index, event_type, count = reader.u32(), reader.u32(), reader.u32()
    if pcr_index >= _PCR_COUNT or count > len(sizes):
        raise EvidenceMalformed("event log entry has a bad PCR index or digest count")

    digests = {}
    for _ in range(count):
        alg = reader.u16()
        if alg not in sizes:
            raise EvidenceMalformed(f"event log entry uses undeclared alg 0x{alg:04x}")
        digests[alg] = reader.take(sizes[alg])
    return TCGEvent(pcr_index, event_type, digests, reader.take(reader.u32()))


def parse_event_log(data: bytes) -> TCGEventLog:
    reader = Reader(data, "TCG event log", little_endian=True)
    sizes = _read_spec_header(reader)

    events: list[TCGEvent] = []
    locality = 0
    while reader.remaining():
        if len(events) >= _MAX_EVENTS:
            raise EvidenceMalformed("event log has too many entries")
        event = _read_event(reader, sizes)
        if event.event_type == EV_NO_ACTION and event.data.startswith(
            _STARTUP_LOCALITY
        ):
            # Firmware started from another locality: PCR0 starts there, not at 0.
            tail = event.data[len(_STARTUP_LOCALITY) :]
            locality = tail[0] if tail else 0
        events.append(event)
    return TCGEventLog(sizes, tuple(events), locality)


def replay(log: TCGEventLog, hash_alg: int) -> dict[int, bytes]:
    """The PCR values the log's measurements produce in one bank."""
    if hash_alg not in log.digest_sizes or hash_alg not in wire.HASH_NAMES:
        raise EvidenceMalformed("event log does not cover the quoted PCR bank")

    name, size = wire.HASH_NAMES[hash_alg], log.digest_sizes[hash_alg]
    values: dict[int, bytes] = {}
    for event in log.events:
        if event.event_type == EV_NO_ACTION:
            continue
        digest = event.digests.get(hash_alg)
        if digest is None:
            raise EvidenceMalformed("event log entry lacks the quoted PCR bank")
        initial = bytes(size - 1) + bytes(
            [log.startup_locality * (event.pcr_index == 0)]
        )
        current = values.get(event.pcr_index, initial)
        values[event.pcr_index] = hashlib.new(name, current + digest).digest()
    return values


def check_replay(log: TCGEventLog, hash_alg: int, pcrs: Mapping[int, bytes]) -> None:
    """Raise ClaimMismatch unless every quoted PCR the log touches replays to its
    quoted value."""
    for index, value in replay(log, hash_alg).items():
        quoted = pcrs.get(index)
        if quoted is not None and not hmac.compare_digest(quoted, value):
            raise ClaimMismatch(
                f"event log does not reproduce PCR {index}",
                reason="TPM_EVENT_LOG_MISMATCH",
            )


def _variable(data: bytes) -> tuple[str, bytes]:
    """UEFI_VARIABLE_DATA: GUID, name length, data length, UTF-16 name, data."""
    reader = Reader(data, "UEFI variable event", little_endian=True)
    reader.take(16)
    name_length, data_length = reader.u64(), reader.u64()
    if name_length > 1024 or data_length > len(data):
        raise EvidenceMalformed("UEFI variable event has impossible lengths")
    name = reader.take(name_length * 2).decode("utf-16-le", errors="replace")
    return name, reader.take(data_length)


def _secure_boot(log: TCGEventLog, hash_alg: int) -> bool | None:
    state = None
    name = wire.HASH_NAMES[hash_alg]
    for event in log.events:
        if event.event_type != EV_EFI_VARIABLE_DRIVER_CONFIG:
            continue
        variable, value = _variable(event.data)
        if variable != "SecureBoot":
            continue
        # The digest covers the event data here, so the replay vouches for it.
        if not hmac.compare_digest(
            hashlib.new(name, event.data).digest(), event.digests.get(hash_alg, b"")
        ):
            raise ClaimMismatch(
                "SecureBoot event data does not match its digest",
                reason="TPM_EVENT_LOG_MISMATCH",
            )
        state = value[:1] == b"\x01"
    return state


def boot_facts(log: TCGEventLog, hash_alg: int) -> dict[str, Any]:
    """Posture facts from a log whose replay matched the quote."""
    applications = [
        event.digests[hash_alg].hex()
        for event in log.events
        if event.event_type == EV_EFI_BOOT_SERVICES_APPLICATION
        and hash_alg in event.digests
    ]
    return {
        "secure_boot": _secure_boot(log, hash_alg),
        "event_count": len(log.events),
        "boot_applications": applications,
    }
