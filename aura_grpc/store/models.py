"""The schema. The Alembic revisions in `migrations/versions` must match it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aura_grpc.store.types import UTCDateTime

# Append-only tables outgrow 32-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY
# KEY is already 64-bit and must stay spelled INTEGER to autoincrement.
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Per-org secret that makes device ids unlinkable across orgs.
    device_id_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    scopes: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Nonce(Base):
    __tablename__ = "nonces"

    nonce_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    # Set for a credential-activation secret: SHA-256(EK fingerprint || AK name)
    # of the only TPM and AK whose quote may use this nonce.
    binding: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("org_id", "fingerprint"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    posture: Mapped[dict[str, Any]]
    posture_ok: Mapped[bool]
    last_attested_at: Mapped[datetime]
    evidence_digest: Mapped[str] = mapped_column(String(64))
    bound_key_spki: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class Attestation(Base):
    __tablename__ = "attestations"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    posture: Mapped[dict[str, Any]]
    posture_ok: Mapped[bool]
    evidence_digest: Mapped[str] = mapped_column(String(64))
    attested_at: Mapped[datetime]


class IssueTicket(Base):
    __tablename__ = "issue_tickets"

    ticket_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ReferenceValues(Base):
    __tablename__ = "reference_values"

    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40))


class AuditEvent(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_org_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(128), default="")
    org_id: Mapped[str | None] = mapped_column(String(40))
    device_id: Mapped[str | None] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(40))
    token_id: Mapped[str | None] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]]


class CertificateAuthority(Base):
    __tablename__ = "certificate_authorities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    # active: issues new certificates; retiring: trusted until its last expires.
    status: Mapped[str] = mapped_column(String(16))
    cert_pem: Mapped[str] = mapped_column(Text)
    # The private key sealed under the master key, or a reference to where it lives.
    key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_ref: Mapped[str | None] = mapped_column(String(400))
    not_after: Mapped[datetime]
    created_at: Mapped[datetime]
    crl_number: Mapped[int] = mapped_column(BigInteger, default=0)
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    crl_this_update: Mapped[datetime | None]
    crl_next_update: Mapped[datetime | None]


class IssuedCertificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certs_org_created", "org_id", "created_at", "serial"),
        Index("ix_certs_org_device", "org_id", "device_id", "created_at"),
        Index("ix_certs_ca_revoked", "ca_id", "revoked_at"),
        UniqueConstraint("org_id", "request_id", name="uq_certs_org_request"),
    )

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    ca_id: Mapped[str] = mapped_column(ForeignKey("certificate_authorities.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    subject_cn: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    cert_pem: Mapped[str] = mapped_column(Text)
    key_sha256: Mapped[str] = mapped_column(String(64))
    server_made_key: Mapped[bool] = mapped_column(Boolean, default=False)
    request_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(32))


class IssuancePolicy(Base):
    """One version of an org's Rego issuance policy; versions are never changed."""

    __tablename__ = "issuance_policies"

    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    # [{"name", "input", "expect"}]: every later version must pass them too.
    test_cases: Mapped[list[Any]] = mapped_column(JSON)
    # "revoke" or "keep": what happens to certificates when posture is lost.
    on_posture_loss: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40))


class Approval(Base):
    """An issuance the policy held for a person to approve or deny."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_org_status", "org_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    subject_cn: Mapped[str] = mapped_column(String(64))
    days: Mapped[int] = mapped_column(Integer)
    csr_pem: Mapped[str] = mapped_column(Text, default="")
    public_key_pem: Mapped[str] = mapped_column(Text, default="")
    key_sha256: Mapped[str] = mapped_column(String(64))
    # pending, approved, denied (expired is derived from expires_at).
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    policy_version: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(40))
    serial: Mapped[str | None] = mapped_column(String(40))
