"""Human review: tasks, their review slots (leases), reviewer labels and appeals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_tasks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("gold", sa.Boolean(), nullable=False),
        sa.Column("content_id", sa.String(), nullable=False),
        sa.Column("decision_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("reach", sa.Double(), nullable=False),
        sa.Column("base_priority", sa.Double(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("created_epoch", sa.Double(), nullable=False),
        sa.Column("due_epoch", sa.Double(), nullable=False),
        sa.Column("reviews_required", sa.Integer(), nullable=False),
        sa.Column("reviews_done", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("gold_answer", sa.JSON(), nullable=True),
        sa.Column("appeal_id", sa.String(), nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("dedupe_key", sa.String(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_tasks"),
        sa.UniqueConstraint("dedupe_key", name="uq_review_tasks_dedupe_key"),
        sa.CheckConstraint("status IN ('open', 'done')", name="ck_review_tasks_status"),
    )
    op.create_index("ix_review_tasks_content_id", "review_tasks", ["content_id"])
    op.create_index("ix_review_tasks_decision_id", "review_tasks", ["decision_id"])
    op.create_index("ix_review_tasks_queue_status", "review_tasks", ["queue", "status"])

    op.create_table(
        "review_assignments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("reviewer", sa.String(), nullable=True),
        sa.Column("leased_at", TZ, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["review_tasks.id"],
            name="fk_review_assignments_task_id_review_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_assignments"),
        sa.UniqueConstraint("task_id", "reviewer", name="uq_review_assignments_task_id"),
    )
    op.create_index("ix_review_assignments_task_id", "review_assignments", ["task_id"])
    op.create_index("ix_review_assignments_reviewer", "review_assignments", ["reviewer"])

    op.create_table(
        "review_labels",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("content_id", sa.String(), nullable=False),
        sa.Column("decision_id", sa.String(), nullable=False),
        sa.Column("reviewer", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["review_tasks.id"], name="fk_review_labels_task_id_review_tasks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_labels"),
        sa.UniqueConstraint("task_id", "reviewer", name="uq_review_labels_task_id"),
    )
    op.create_index("ix_review_labels_task_id", "review_labels", ["task_id"])
    op.create_index("ix_review_labels_content_id", "review_labels", ["content_id"])
    op.create_index("ix_review_labels_decision_id", "review_labels", ["decision_id"])
    op.create_index("ix_review_labels_reviewer", "review_labels", ["reviewer"])

    op.create_table(
        "appeals",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("decision_id", sa.String(), nullable=False),
        sa.Column("content_id", sa.String(), nullable=False),
        sa.Column("appellant", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("original_action", sa.String(), nullable=False),
        sa.Column("outcome_action", sa.String(), nullable=True),
        sa.Column("task_id", sa.String(), nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("open_key", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_appeals"),
        sa.UniqueConstraint("open_key", name="uq_appeals_open_key"),
        sa.CheckConstraint("status IN ('open', 'upheld', 'reversed')", name="ck_appeals_status"),
    )
    op.create_index("ix_appeals_decision_id", "appeals", ["decision_id"])
    op.create_index("ix_appeals_content_id", "appeals", ["content_id"])


def downgrade() -> None:
    for table in ("appeals", "review_labels", "review_assignments", "review_tasks"):
        op.drop_table(table)
