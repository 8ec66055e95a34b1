"""derived facts

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["exhibit_id"], ["exhibits.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_facts_case_id", "facts", ["case_id"])
    op.create_index("ix_facts_exhibit_seq", "facts", ["exhibit_id", "event_seq"])


def downgrade() -> None:
    op.drop_index("ix_facts_exhibit_seq", table_name="facts")
    op.drop_index("ix_facts_case_id", table_name="facts")
    op.drop_table("facts")
