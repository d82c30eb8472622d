"""'azure_snp' evidence: AMD SEV-SNP reports, bare or from Azure confidential VMs."""

from aura_grpc.attestation.azure_snp.verifier import AzureSNPVerifier

__all__ = ["AzureSNPVerifier"]
