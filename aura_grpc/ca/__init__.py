"""The per-org certificate authority: keys, certificate profile, CRLs."""
