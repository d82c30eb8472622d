"""bigint row ids on postgresql

Revision ID: 0004
Revises: 0003

audit_events and attestations only ever grow; a 32-bit SERIAL runs out after
2^31 rows. SQLite's INTEGER PRIMARY KEY is 64-bit already, so this revision
changes nothing there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("audit_events", "attestations")


def _retype(old: sa.types.TypeEngine[int], new: sa.types.TypeEngine[int]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "id", type_=new, existing_type=old, nullable=False)
        # The SERIAL's sequence has its own type, which caps it too.
        sequence = bind.scalar(
            sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
        )
        op.execute(f"ALTER SEQUENCE {sequence} AS {new.compile(bind.dialect)}")


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())
