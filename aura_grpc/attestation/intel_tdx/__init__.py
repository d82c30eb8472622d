"""'intel_tdx' evidence: Intel TDX DCAP quotes verified against Intel's collateral."""

from aura_grpc.attestation.intel_tdx.verifier import TDXVerifier

__all__ = ["TDXVerifier"]
