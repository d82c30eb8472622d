"""The policy every org has until it uploads its own."""

from __future__ import annotations

# The hard requirements (posture_ok, fresh attestation) are checked before any
# policy runs, so the default only has to allow what passed them.
DEFAULT_POLICY = """package aura.issuance
import rego.v1

default decision := "allow"
"""
