"""'gcp_cc' evidence: not implemented yet."""

from aura_grpc.attestation.unimplemented import UnimplementedVerifier


class GCPConfidentialVerifier(UnimplementedVerifier):
    type_name = "gcp_cc"
