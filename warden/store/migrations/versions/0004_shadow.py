"""Shadow mode: a candidate's decisions on sampled live items.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shadow_decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("candidate", sa.String(), nullable=False),
        sa.Column("content_id", sa.String(), nullable=False),
        sa.Column("live_decision_id", sa.String(), nullable=False),
        sa.Column("live_action", sa.String(), nullable=False),
        sa.Column("shadow_action", sa.String(), nullable=False),
        sa.Column("flagged", sa.JSON(), nullable=False),
        sa.Column("live_ms_per_item", sa.Double(), nullable=False),
        sa.Column("shadow_ms_per_item", sa.Double(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shadow_decisions"),
        sa.UniqueConstraint("candidate", "content_id", name="uq_shadow_decisions_candidate"),
    )
    op.create_index("ix_shadow_decisions_candidate", "shadow_decisions", ["candidate"])
    op.create_index("ix_shadow_decisions_created_at", "shadow_decisions", ["created_at"])


def downgrade() -> None:
    op.drop_table("shadow_decisions")
