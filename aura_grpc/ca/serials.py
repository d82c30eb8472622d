"""Certificate serial numbers: random, positive, 64 to 159 bits, shown as hex."""

from __future__ import annotations

import re
import secrets

from aura_grpc.errors import InvalidInput

_MIN = 1 << 64
_HEX = re.compile(r"^[0-9a-f]{1,40}$")


def new_serial() -> int:
    """At least 64 random bits, and at most 20 octets once DER-encoded."""
    while True:
        serial = secrets.randbits(159)
        if serial >= _MIN:
            return serial


def to_hex(serial: int) -> str:
    return format(serial, "x")


def normalise(text: str) -> str:
    """Accept any case, colons and leading zeros; answer the canonical form."""
    cleaned = text.strip().lower().replace(":", "").lstrip("0") or "0"
    if not _HEX.match(cleaned):
        raise InvalidInput("a serial is up to 40 hexadecimal digits")
    return cleaned
