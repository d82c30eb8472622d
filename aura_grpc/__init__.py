"""AURA: a device-attestation certificate authority."""

__version__ = "0.1.0"
