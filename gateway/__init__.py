"""Everything Envoy needs: protobuf descriptors, bootstrap and the dev PKI."""
