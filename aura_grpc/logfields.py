"""Structured log field names, kept in one place so every module spells them alike."""

from __future__ import annotations

import logging
import sys
from typing import Any

ORG = "org"
DEVICE = "device"
SERIAL = "serial"
TOKEN_ID = "token_id"  # noqa: S105  # a field name, not a secret
REQUEST = "request_id"
TYPE = "evidence_type"
REASON = "reason"
NOT_AFTER = "not_after"

FIELDS = (ORG, DEVICE, SERIAL, TOKEN_ID, REQUEST, TYPE, REASON, NOT_AFTER)


class FieldFormatter(logging.Formatter):
    """Appends the structured fields a record carries as `key=value` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{f}={getattr(record, f)}" for f in FIELDS if hasattr(record, f)]
        return f"{line} {' '.join(extras)}" if extras else line


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call, dropping empty values."""
    return {k: v for k, v in values.items() if v not in (None, "")}


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        FieldFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
