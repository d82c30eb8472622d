"""Structured log field names, kept in one place so every module spells them alike."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
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

# The x-request-id of the call being served (set by api.status), so every line
# logged while serving it carries the id without each call site passing it.
current_request: ContextVar[str] = ContextVar("aura_request_id", default="")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request.get()
        if request_id and not hasattr(record, REQUEST):
            setattr(record, REQUEST, request_id)
        return True


class FieldFormatter(logging.Formatter):
    """Appends the structured fields a record carries as `key=value` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{f}={getattr(record, f)}" for f in FIELDS if hasattr(record, f)]
        return f"{line} {' '.join(extras)}" if extras else line


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the fields.

    Only the names in FIELDS are copied from a record, so nothing a caller put
    in `extra=` by mistake (a key, a token) reaches the log.
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                line[name] = str(getattr(record, name))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"))


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call, dropping empty values."""
    return {k: v for k, v in values.items() if v not in (None, "")}


# Bearer tokens, in any shape a library might echo them (grpcio logs a header it
# cannot decode, value and all).
_SECRETS = re.compile(r"(?i)(bearer\s+|aura_tok_)[^\s'\"]+")


class RedactingFilter(logging.Filter):
    """Blanks anything that looks like a bearer token, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRETS.search(message):
            record.msg = _SECRETS.sub(r"\1<redacted>", message)
            record.args = ()
        if record.exc_text and _SECRETS.search(record.exc_text):
            record.exc_text = _SECRETS.sub(r"\1<redacted>", record.exc_text)
        return True


def configure(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        JSONFormatter()
        if log_format == "json"
        else FieldFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Envoy's readiness is polled with httpx at start: one line per poll is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
