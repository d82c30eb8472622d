"""Attestation: one verifier per evidence type behind one interface."""
