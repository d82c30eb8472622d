"""'gcp_cc' evidence: Confidential Space / Confidential VM attestation tokens."""

from aura_grpc.attestation.gcp_cc.verifier import GCPConfidentialVerifier

__all__ = ["GCPConfidentialVerifier"]
