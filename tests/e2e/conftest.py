from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aura_grpc.auth.scopes import Scope
from tests.harness import Stack, make_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state: Path = tmp_path_factory.mktemp("aura")
    running = make_stack(state).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin_token(stack: Stack) -> str:
    stack.create_org("acme")
    return stack.create_token("acme", Scope.ADMIN)
