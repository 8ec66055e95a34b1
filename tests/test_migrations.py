"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from evidence_store.models import Base


def test_migrated_database_matches_the_models(store):
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
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
