"""A test evidence type with a small payload limit, loaded by configuration."""

from __future__ import annotations

from tests.plugin_verifier import SerialNumberVerifier


class TinyVerifier(SerialNumberVerifier):
    """Serial-number evidence that must fit in 256 bytes of canonical JSON."""

    type_name = "tiny"
    max_payload_bytes = 256
