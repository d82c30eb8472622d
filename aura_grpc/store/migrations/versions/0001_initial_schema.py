"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import aura_grpc.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "at", aura_grpc.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("serial", sa.String(length=40), nullable=True),
        sa.Column("token_id", sa.String(length=40), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_org_id", ["org_id", "id"], unique=False)

    op.create_table(
        "orgs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("device_id_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "certificate_authorities",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("key_ref", sa.String(length=400), nullable=True),
        sa.Column(
            "not_after",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("crl_number", sa.BigInteger(), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=True),
        sa.Column(
            "crl_this_update",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "crl_next_update",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("certificate_authorities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_authorities_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("posture", sa.JSON(), nullable=False),
        sa.Column("posture_ok", sa.Boolean(), nullable=False),
        sa.Column(
            "last_attested_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("evidence_digest", sa.String(length=64), nullable=False),
        sa.Column("bound_key_spki", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "fingerprint"),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_org_id"), ["org_id"], unique=False)

    op.create_table(
        "nonces",
        sa.Column("nonce_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column(
            "expires_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "used_at", aura_grpc.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("nonce_sha256"),
    )
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nonces_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "reference_values",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("org_id", "type", "version"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "revoked_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_org_id"), ["org_id"], unique=False)

    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("posture", sa.JSON(), nullable=False),
        sa.Column("posture_ok", sa.Boolean(), nullable=False),
        sa.Column("evidence_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "attested_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attestations_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("ca_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("subject_cn", sa.String(length=64), nullable=False),
        sa.Column(
            "not_before",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "not_after",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("server_made_key", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column(
            "revoked_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["ca_id"],
            ["certificate_authorities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("serial"),
        sa.UniqueConstraint("org_id", "request_id", name="uq_certs_org_request"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificates_not_after"), ["not_after"], unique=False
        )
        batch_op.create_index(
            "ix_certs_ca_revoked", ["ca_id", "revoked_at"], unique=False
        )
        batch_op.create_index(
            "ix_certs_org_created", ["org_id", "created_at", "serial"], unique=False
        )
        batch_op.create_index(
            "ix_certs_org_device", ["org_id", "device_id", "created_at"], unique=False
        )

    op.create_table(
        "issue_tickets",
        sa.Column("ticket_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column(
            "expires_at",
            aura_grpc.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "used_at", aura_grpc.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("ticket_sha256"),
    )
    with op.batch_alter_table("issue_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issue_tickets_device_id"), ["device_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("issue_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_tickets_device_id"))

    op.drop_table("issue_tickets")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_certs_org_device")
        batch_op.drop_index("ix_certs_org_created")
        batch_op.drop_index("ix_certs_ca_revoked")
        batch_op.drop_index(batch_op.f("ix_certificates_not_after"))

    op.drop_table("certificates")
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestations_device_id"))

    op.drop_table("attestations")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_org_id"))

    op.drop_table("tokens")
    op.drop_table("reference_values")
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonces_expires_at"))

    op.drop_table("nonces")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_org_id"))

    op.drop_table("devices")
    with op.batch_alter_table("certificate_authorities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_authorities_org_id"))

    op.drop_table("certificate_authorities")
    op.drop_table("orgs")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_org_id")

    op.drop_table("audit_events")
