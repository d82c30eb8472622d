"""Schema-driven fuzzing of the JSON API through the real Envoy.

Every transcoded route of the API listener gets requests built from its request
message (tests/ops/request_strategies.py): hostile path text, query parameters
and bodies with the right names and values of any type, unknown fields, an
admin token, a made-up one or none. Whatever comes in, the answer is never a
5xx, never shows Python internals, and every error body names its reason.

CI runs AURA_API_FUZZ_EXAMPLES (default 50) requests per route; `make fuzz`
runs many more.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_grpc.auth.scopes import CERTIFICATE_METHODS, Scope
from tests.harness import Stack, make_stack
from tests.ops.request_strategies import FuzzRequest, requests
from tests.ops.routes import routes

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("AURA_API_FUZZ_EXAMPLES", "50"))
LEAKS = ("Traceback", 'File "/', "sqlalchemy", "<class", '.py"')
# The device listener's service is not routed on the API listener at all.
API_ROUTES = sorted(m for m in routes() if m not in CERTIFICATE_METHODS)


@dataclass(frozen=True)
class Target:
    stack: Stack
    admin: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    stack = make_stack(tmp_path_factory.mktemp("aura-api-fuzz")).start()
    try:
        stack.create_org("fuzz")
        yield Target(stack, stack.create_token("fuzz", Scope.ADMIN))
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def clients(target: Target) -> Iterator[dict[str, httpx.Client]]:
    made = {
        "admin": target.stack.client(target.admin),
        "none": target.stack.client(),
        "forged": target.stack.client("aura_" + "A" * 40),
    }
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def send(client: httpx.Client, request: FuzzRequest) -> httpx.Response:
    url = client.base_url.copy_with(raw_path=request.raw_path.encode("ascii"))
    headers = {"content-type": "application/json"} if request.body is not None else {}
    return client.request(request.verb, url, content=request.body, headers=headers)


def problems_of(response: httpx.Response) -> list[str]:
    """What is wrong with an answer to hostile input; empty when it is fine."""
    found = []
    if response.status_code >= 500:
        found.append(f"status {response.status_code}")
    found += [f"leaks {marker!r}" for marker in LEAKS if marker in response.text]
    if not response.is_success:
        found += _details_problems(response)
    return found


def _details_problems(response: httpx.Response) -> list[str]:
    try:
        body: Any = response.json()
    except ValueError:
        return []  # the edge's own plain-text refusals carry no details
    details = body.get("details") if isinstance(body, dict) else None
    if not isinstance(details, list):
        return []
    reasons = [d.get("reason") for d in details if "reason" in d]
    if not reasons or not all(isinstance(r, str) and r for r in reasons):
        return [f"details without a reason: {details}"]
    return []


@pytest.mark.parametrize("method", API_ROUTES, ids=lambda m: m.rsplit("/", 1)[-1])
def test_hostile_requests_get_clean_answers(
    method: str, clients: dict[str, httpx.Client]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        request=requests(routes()[method]),
        who=st.sampled_from(["admin", "admin", "admin", "none", "forged"]),
    )
    def check(request: FuzzRequest, who: str) -> None:
        response = send(clients[who], request)
        assert not problems_of(response), (
            who,
            request,
            response.status_code,
            response.text[:500],
        )

    check()


# -- crashes the fuzzing found, kept as regressions ------------------------------


def test_path_between_8_and_12_kib_is_answered_never_refused_as_429(
    clients: dict[str, httpx.Client],
) -> None:
    # grpc-core refused a random share of calls whose headers passed its 8 KiB
    # soft limit, as 429 listing internal header names and no reason; Envoy's
    # 12 KiB limit (431) is now the only one clients meet.
    for size in range(8_000, 12_400, 400):
        response = clients["admin"].get("/v2/devices/" + "a" * size)
        assert response.status_code in (404, 431), (size, response.text[:300])
        assert not problems_of(response), (size, response.text[:300])


def test_long_non_ascii_value_quoted_in_an_error_gets_a_clean_400(
    clients: dict[str, httpx.Client],
) -> None:
    # An error message quoting 9,000 'é' overran the trailers: a reset (503).
    response = clients["admin"].post(
        "/v2/admin/tokens", json={"scopes": ["\u00e9" * 9_000]}
    )
    assert response.status_code == 400, response.text[:300]
    assert not problems_of(response)
    assert len(response.json()["message"]) < 2_000


def test_gateway_and_backend_still_serve_after_the_fuzzing(
    clients: dict[str, httpx.Client],
) -> None:
    assert clients["admin"].get("/v2/version").status_code == 200
    assert clients["admin"].get("/v2/certs").status_code == 200
