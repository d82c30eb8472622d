"""Size limits on what clients send, in one place (docs/hardening.md).

Envoy refuses any request body past `MAX_REQUEST_BYTES` with 413 on both
listeners (envoy.yaml's buffer filters carry the same number), and the JSON
transcoder's output is held to the same buffer limit: a body of small numbers,
which grows about 5.5 times as a `google.protobuf.Struct`, also gets 413. So
nothing larger reaches the backend; its own cap is a backstop with room to
spare, because its refusal (RESOURCE_EXHAUSTED) would read as 429 to a client.
"""

from __future__ import annotations

MAX_REQUEST_BYTES = 1 << 20
MAX_BACKEND_MESSAGE = 2 * MAX_REQUEST_BYTES

# gRPC metadata (headers) the backend accepts. grpc-core's default soft limit is
# 8 KiB, past which it refuses a random share of calls with RESOURCE_EXHAUSTED
# (a 429 through Envoy, listing header names): Envoy's own 12 KiB header limit
# (envoy.yaml, 431) must be the one clients meet, so the backend's is higher,
# with room for what Envoy adds (client certificate, x-envoy-*) and grpc-core's
# 32 bytes per header.
MAX_BACKEND_METADATA = 24 << 10
