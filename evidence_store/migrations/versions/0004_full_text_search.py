"""full-text search over events

Revision ID: 0004
Revises: 0003

The index tables are database-specific and stay out of the models (see
evidence_store.search.SEARCH_TABLES): an FTS5 external-content table on SQLite,
a tsvector table with a GIN index on PostgreSQL. Neither has a trigger on
events; evidence_store.search catches the index up before each search.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_index_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # remove_diacritics 0: words match as PostgreSQL's 'simple' configuration
        # matches them, so a search finds the same events on either database.
        op.execute(
            "CREATE VIRTUAL TABLE events_fts USING fts5(text, subject, sender, "
            "content='events', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 0')"
        )
    else:
        op.execute(
            "CREATE TABLE event_search (event_id integer PRIMARY KEY, "
            "case_id integer NOT NULL, document tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX ix_event_search_document ON event_search USING gin (document)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE events_fts")
    else:
        op.execute("DROP TABLE event_search")
    op.drop_table("search_index_state")
