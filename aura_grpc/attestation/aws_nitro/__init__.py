"""'aws_nitro' evidence: not implemented yet."""

from aura_grpc.attestation.unimplemented import UnimplementedVerifier


class NitroVerifier(UnimplementedVerifier):
    type_name = "aws_nitro"
