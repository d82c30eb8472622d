"""'aws_nitro' evidence: AWS Nitro Enclaves attestation documents."""

from aura_grpc.attestation.aws_nitro.verifier import NitroVerifier

__all__ = ["NitroVerifier"]
