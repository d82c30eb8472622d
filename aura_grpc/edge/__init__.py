"""The device edge: what Envoy needs to enforce mTLS (trust, CRLs, checks)."""
