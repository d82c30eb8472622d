"""First start in the dev profile: a `default` org and an admin token."""

from __future__ import annotations

import os
from pathlib import Path

from aura_grpc.auth.scopes import Scope
from aura_grpc.errors import NotFound
from aura_grpc.services.orgs import OrgService

DEFAULT_ORG = "default"


async def ensure_default_org(orgs: OrgService, state_dir: Path) -> str | None:
    """Create the default org and an admin token once; return the new token, or
    None when they already exist (the token is then in `<state_dir>/dev-token`)."""
    try:
        await orgs.get_org(DEFAULT_ORG)
        return None
    except NotFound:
        pass

    await orgs.create_org(DEFAULT_ORG)
    token = await orgs.create_token(
        DEFAULT_ORG, frozenset({Scope.ADMIN}), label="dev admin"
    )
    path = state_dir / "dev-token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token.bearer + "\n")
    return token.bearer
