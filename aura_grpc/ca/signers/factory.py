"""Choosing the key backend named in configuration."""

from __future__ import annotations

from aura_grpc.ca.signers.base import KeyBackend
from aura_grpc.config import Settings


def key_backend_from(settings: Settings) -> KeyBackend:
    """The sealed (dev) backend or a PKCS#11 token; Settings has already refused
    the sealed backend in the prod profile."""
    # TODO: a cloud KMS backend (AWS KMS via boto3, P-256 keys, tested against
    # moto's server on loopback); this line goes when ca/signers/kms.py lands.
    if settings.ca_key_backend == "pkcs11":
        # Imported here so the dev path needs no PKCS#11 module loaded.
        from aura_grpc.ca.signers.pkcs11 import Pkcs11Backend, read_pin
        from aura_grpc.ca.signers.pool import SessionPool

        assert settings.pkcs11_module is not None  # checked by Settings
        pin = read_pin(settings.pkcs11_pin.get_secret_value(), settings.pkcs11_pin_file)
        pool = SessionPool(
            str(settings.pkcs11_module),
            settings.pkcs11_token_label,
            pin,
            settings.pkcs11_pool_size,
        )
        return Pkcs11Backend(pool, settings.pkcs11_token_label)

    from aura_grpc.ca.sealing import MasterKey
    from aura_grpc.ca.signers.sealed import SealedBackend

    master_key = MasterKey.load(
        settings.resolved_master_key_file, create=settings.profile == "dev"
    )
    return SealedBackend(master_key)
