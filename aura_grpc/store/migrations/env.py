"""Alembic environment: runs on the connection AURA hands it (see store.db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from aura_grpc.store.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    # `alembic` run by hand (e.g. to autogenerate a revision) with -x url=...
    url = context.get_x_argument(as_dictionary=True).get(
        "url", "sqlite:///.aura/aura.db"
    )
    engine = engine_from_config({"sqlalchemy.url": url}, poolclass=pool.NullPool)
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
