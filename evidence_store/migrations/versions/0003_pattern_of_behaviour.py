"""pattern of behaviour: identifier links, notices, behaviour flags, occurrences

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import evidence_store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_UTC = evidence_store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "identifier_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.Column("suggested_at", _UTC(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _UTC(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "value", "person_id"),
    )
    op.create_index("ix_identifier_links_case_id", "identifier_links", ["case_id"])

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("given_at", _UTC(timezone=True), nullable=False),
        sa.Column("given_by", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("identifier", sa.String(length=320), nullable=True),
        sa.Column("source_event_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", _UTC(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["source_event_id"], ["events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "source_event_id", "kind"),
    )
    op.create_index("ix_notices_case_id", "notices", ["case_id"])

    op.create_table(
        "behaviour_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("rule_version", sa.String(length=40), nullable=False),
        sa.Column("rule_hash", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("group_key", sa.String(length=400), nullable=False),
        sa.Column("s2a3", sa.Text(), nullable=False),
        sa.Column("four", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.Column("citations", sa.Text(), nullable=False),
        sa.Column("first_at", _UTC(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("dismissed_by", sa.String(length=200), nullable=True),
        sa.Column("dismissed_at", _UTC(timezone=True), nullable=True),
        sa.Column("dismissed_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "rule_id", "group_key"),
    )
    op.create_index("ix_behaviour_flags_case_id", "behaviour_flags", ["case_id"])

    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("canonical_event_id", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=30), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["canonical_event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_occurrences_case_id", "occurrences", ["case_id"])

    op.create_table(
        "occurrence_members",
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("canonical", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["exhibit_id"], ["exhibits.id"]),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrences.id"]),
        sa.PrimaryKeyConstraint("occurrence_id", "event_id"),
    )
    op.create_index("ix_occurrence_members_case_event", "occurrence_members",
                    ["case_id", "event_id"])

    op.create_table(
        "analysis_marks",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("analysis_marks")
    op.drop_index("ix_occurrence_members_case_event", table_name="occurrence_members")
    op.drop_table("occurrence_members")
    op.drop_index("ix_occurrences_case_id", table_name="occurrences")
    op.drop_table("occurrences")
    op.drop_index("ix_behaviour_flags_case_id", table_name="behaviour_flags")
    op.drop_table("behaviour_flags")
    op.drop_index("ix_notices_case_id", table_name="notices")
    op.drop_table("notices")
    op.drop_index("ix_identifier_links_case_id", table_name="identifier_links")
    op.drop_table("identifier_links")
