"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from evidence_store.models import Base
from evidence_store.search import is_search_table


def _modelled(name, type_, parent_names):
    # The word index is database-specific (FTS5 / tsvector) and kept out of the models.
    return not (type_ == "table" and is_search_table(name))


def test_migrated_database_matches_the_models(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": _modelled})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_init_is_idempotent(store_dir):
    from evidence_store.store import init_store

    first = init_store(store_dir)
    first.close()
    second = init_store(store_dir)
    from evidence_store import custody

    with second.session() as session:
        assert [e.action for e in custody.entries_of(session, "store")] == ["store_initialised"]
    second.close()


def test_the_postgres_run_really_uses_postgres(store):
    import os

    expected = "postgresql" if os.environ.get("CONDUCT_DATABASE_URL") else "sqlite"
    assert store.engine.dialect.name == expected
