"""Logs never carry bearer tokens, whoever writes the line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from aura_grpc import logfields


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logfields.configure("INFO")
    stream = io.StringIO()
    root.handlers[0].stream = stream  # type: ignore[attr-defined]
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]


def test_a_library_echoing_an_authorization_header_is_redacted(
    captured: io.StringIO,
) -> None:
    logging.getLogger("grpc._cython.cygrpc").error(
        "Invalid encoding on b'Bearer aura_tok_0123456789abcdef.s3cr3t'"
    )
    assert "s3cr3t" not in captured.getvalue()
    assert "Bearer <redacted>" in captured.getvalue()


def test_a_token_passed_as_an_argument_is_redacted(captured: io.StringIO) -> None:
    logging.getLogger("aura").warning("saw %s", "aura_tok_0123456789abcdef.s3cr3t")
    assert "s3cr3t" not in captured.getvalue()
