"""Table definitions (SQLAlchemy 2 declarative). The schema itself is created by Alembic migrations;
keep these in step with `migrations/versions/` (tests compare the two)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so later migrations can address them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; Postgres gets 64-bit ids for the append-only logs.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Always tz-aware UTC in Python. SQLite drops offsets, so values are stored as UTC and re-tagged."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Plain JSON (not JSONB) on Postgres keeps key order, so stored payloads round-trip byte-for-byte.
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class DecisionRow(Base):
    """The current decision per content id. `payload` is the full Decision; other columns serve queries."""

    __tablename__ = "decisions"

    decision_id: Mapped[str] = mapped_column(String, primary_key=True)
    content_id: Mapped[str] = mapped_column(String, index=True, unique=True)
    content_hash: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    flagged: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String)
    policy_version: Mapped[str] = mapped_column(String)
    pipeline_version: Mapped[str] = mapped_column(String)
    model_versions: Mapped[dict[str, Any]]
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class DecisionHistoryRow(Base):
    """Every version of a content id's decision, appended; no FK so superseded decision ids stay valid."""

    __tablename__ = "decision_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String, index=True)
    content_id: Mapped[str] = mapped_column(String, index=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('client', 'reviewer', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    key_prefix: Mapped[str] = mapped_column(String, index=True)  # display + lookup bucket
    key_hash: Mapped[str] = mapped_column(String, unique=True)  # sha256 hex; plaintext is never stored
    role: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class PolicyRow(Base):
    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String)
    version: Mapped[str] = mapped_column(String)
    full_version: Mapped[str] = mapped_column(String, unique=True)
    yaml_text: Mapped[str] = mapped_column(Text)
    activated_at: Mapped[datetime]


class AuditRow(Base):
    """Append-only: database triggers reject UPDATE and DELETE (see the initial migration)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    object_type: Mapped[str] = mapped_column(String)
    object_id: Mapped[str] = mapped_column(String, index=True)
    detail: Mapped[dict[str, Any]]


class BankRow(Base):
    """A named collection of known violating content and the category and action a match implies."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    category: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BankEntryRow(Base):
    """One fingerprint in a bank. Values are immutable; entries are enabled, disabled or deleted
    (soft: kept for the audit trail). `updated_at` drives incremental index refreshes."""

    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "value_key", name="uq_bank_entries_bank_id"),
        Index("ix_bank_entries_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(Integer, ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[str] = mapped_column(String)
    value: Mapped[str] = mapped_column(Text)
    value_key: Mapped[str] = mapped_column(String)  # sha256 of type + value: uniqueness on long values
    quality: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String)
    added_at: Mapped[datetime]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
