"""Issuance policy (Rego), its versions, the issuance gate and approvals."""
