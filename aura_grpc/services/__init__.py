"""Domain logic: knows the store, verifiers and CA; knows nothing of gRPC."""
