"""'azure_snp' evidence: not implemented yet."""

from aura_grpc.attestation.unimplemented import UnimplementedVerifier


class AzureSNPVerifier(UnimplementedVerifier):
    type_name = "azure_snp"
