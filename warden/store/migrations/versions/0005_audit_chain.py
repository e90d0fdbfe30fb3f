"""Tamper-evident audit log: hash columns on audit_log and the one-row chain head.

Rows already in the log keep NULL hashes (an unchained legacy prefix); the chain starts after them.
The append-only triggers of 0001 stay as they are (ADD COLUMN does not rebuild the table).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out (not imported): must stay equal to warden.store.audit_chain.GENESIS.
GENESIS = "0" * 64


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on SQLite too: batch mode would copy the table and drop its triggers.
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_chain_head_single_row"),
    )
    op.execute(
        "INSERT INTO audit_chain_head (id, last_id, last_hash) "
        f"SELECT 1, COALESCE(MAX(id), 0), '{GENESIS}' FROM audit_log"
    )


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    # SQLite 3.35+ drops columns in place (no table copy), so the triggers survive here too.
    op.drop_column("audit_log", "row_hash")
    op.drop_column("audit_log", "prev_hash")
