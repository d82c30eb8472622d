"""The `aura` command's API-backed and maintenance commands (see aura_grpc.cli)."""
