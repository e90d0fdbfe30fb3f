"""Review bandit: logged leases with propensities and rewards.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_bandit_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("reviewer", sa.String(), nullable=False),
        sa.Column("policy", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("fallback_reason", sa.String(), nullable=False),
        sa.Column("propensity", sa.Double(), nullable=False),
        sa.Column("chosen", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("reward", sa.Double(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("rewarded_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_bandit_events"),
    )
    op.create_index("ix_review_bandit_events_queue", "review_bandit_events", ["queue"])
    op.create_index("ix_review_bandit_events_task_id", "review_bandit_events", ["task_id"])
    op.create_index("ix_review_bandit_events_created_at", "review_bandit_events", ["created_at"])


def downgrade() -> None:
    op.drop_table("review_bandit_events")
