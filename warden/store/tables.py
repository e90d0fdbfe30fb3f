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
    # The hash chain (warden.store.audit_chain); NULL on rows written before it existed.
    prev_hash: Mapped[str | None] = mapped_column(String)
    row_hash: Mapped[str | None] = mapped_column(String)


class AuditChainHeadRow(Base):
    """The audit chain's last link (one row): every appending transaction locks it first."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String)
    key_id: Mapped[str | None] = mapped_column(String)  # names the key the chain was written with


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


class ReviewTaskRow(Base):
    """One item waiting for (or done with) human review in one queue. `snapshot` keeps what the reviewer
    is shown (text, media refs, scores, evidence) because the decisions table never stores content.
    The epoch columns let the database order by aged priority (see warden.review.priority)."""

    __tablename__ = "review_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="status"),
        Index("ix_review_tasks_queue_status", "queue", "status"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    queue: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    gold: Mapped[bool] = mapped_column(Boolean)
    content_id: Mapped[str] = mapped_column(String, index=True)
    decision_id: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String)
    language: Mapped[str | None] = mapped_column(String)
    category: Mapped[str | None] = mapped_column(String)
    severity: Mapped[str] = mapped_column(String)
    probability: Mapped[float]
    reach: Mapped[float]
    base_priority: Mapped[float]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    created_epoch: Mapped[float]
    due_epoch: Mapped[float]
    reviews_required: Mapped[int] = mapped_column(Integer)
    reviews_done: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]]
    gold_answer: Mapped[dict[str, Any] | None]
    appeal_id: Mapped[str | None] = mapped_column(String)
    completed_at: Mapped[datetime | None]
    # Set while a duplicate must be refused (same decision in the same queue, one open relabel per item).
    dedupe_key: Mapped[str | None] = mapped_column(String, unique=True)
    created_by: Mapped[str] = mapped_column(String)


class ReviewAssignmentRow(Base):
    """One review slot of a task (reviews_required rows per task), or one reviewer's slot on a gold
    task. Leasing is a conditional UPDATE of a free slot; `excluded` rows bar a reviewer (e.g. the one
    whose label is being re-checked). The unique pair stops a reviewer taking two slots of one task."""

    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("task_id", "reviewer", name="uq_review_assignments_task_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(
        String, ForeignKey("review_tasks.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str | None] = mapped_column(String, index=True)
    leased_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    done: Mapped[bool] = mapped_column(Boolean)
    excluded: Mapped[bool] = mapped_column(Boolean)


class ReviewLabelRow(Base):
    """A reviewer's judgement of one task: the labels training and quality metrics are built from."""

    __tablename__ = "review_labels"
    __table_args__ = (UniqueConstraint("task_id", "reviewer", name="uq_review_labels_task_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(
        String, ForeignKey("review_tasks.id", ondelete="CASCADE"), index=True
    )
    queue: Mapped[str] = mapped_column(String)
    content_id: Mapped[str] = mapped_column(String, index=True)
    decision_id: Mapped[str] = mapped_column(String, index=True)
    reviewer: Mapped[str] = mapped_column(String, index=True)
    action: Mapped[str] = mapped_column(String)
    categories: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String)  # review | appeal | gold
    outcome: Mapped[str | None] = mapped_column(String)  # appeals: uphold | reverse
    created_at: Mapped[datetime]


class AppealRow(Base):
    """A user's appeal of a decision. `open_key` holds the decision id while the appeal is open, so the
    unique constraint refuses a second open appeal of the same decision on every backend."""

    __tablename__ = "appeals"
    __table_args__ = (CheckConstraint("status IN ('open', 'upheld', 'reversed')", name="status"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    decision_id: Mapped[str] = mapped_column(String, index=True)
    content_id: Mapped[str] = mapped_column(String, index=True)
    appellant: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String)
    original_action: Mapped[str] = mapped_column(String)
    outcome_action: Mapped[str | None] = mapped_column(String)
    task_id: Mapped[str | None] = mapped_column(String)
    resolved_by: Mapped[str | None] = mapped_column(String)
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String)
    open_key: Mapped[str | None] = mapped_column(String, unique=True)


class ShadowDecisionRow(Base):
    """A candidate's decision on a sampled live item (shadow mode): never acted on, never shown to
    clients; one row per candidate and content id."""

    __tablename__ = "shadow_decisions"
    __table_args__ = (UniqueConstraint("candidate", "content_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    candidate: Mapped[str] = mapped_column(String, index=True)
    content_id: Mapped[str] = mapped_column(String)
    live_decision_id: Mapped[str] = mapped_column(String)
    live_action: Mapped[str] = mapped_column(String)
    shadow_action: Mapped[str] = mapped_column(String)
    # {"live": [flagged categories], "shadow": [...]}
    flagged: Mapped[dict[str, Any]]
    live_ms_per_item: Mapped[float]
    shadow_ms_per_item: Mapped[float]
    payload: Mapped[dict[str, Any]]  # the candidate's full Decision
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ReviewBanditEventRow(Base):
    """One lease served from a bandit-logged queue: the candidates it was chosen from, the one served
    and its propensity, and (once the label arrives) the reward. Training and offline policy
    evaluation read these (warden.review.bandit, warden.review.ope)."""

    __tablename__ = "review_bandit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String, index=True)
    task_id: Mapped[str] = mapped_column(String, index=True)
    reviewer: Mapped[str] = mapped_column(String)
    policy: Mapped[str] = mapped_column(String)
    model_version: Mapped[str] = mapped_column(String)
    fallback_reason: Mapped[str] = mapped_column(String)
    propensity: Mapped[float]
    chosen: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reward: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
