"""'intel_tdx' evidence: not implemented yet."""

from aura_grpc.attestation.unimplemented import UnimplementedVerifier


class TDXVerifier(UnimplementedVerifier):
    type_name = "intel_tdx"
