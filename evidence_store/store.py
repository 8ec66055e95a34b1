"""Opening a store: one directory holding the blobs and (by default) the SQLite database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from evidence_store import custody
from evidence_store.blobs import BlobStore
from evidence_store.database import make_engine, schema_state, sqlite_url, upgrade

DEFAULT_STORE = Path("conduct-store")


class StoreNotInitialised(Exception):
    pass


def store_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("CONDUCT_STORE")
    return Path(env) if env else DEFAULT_STORE


def database_url(root: Path, explicit: str | None = None) -> str:
    return explicit or os.environ.get("CONDUCT_DATABASE_URL") or sqlite_url(root / "conduct.sqlite")


@dataclass
class Store:
    root: Path
    engine: Engine
    blobs: BlobStore

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        factory = sessionmaker(self.engine, expire_on_commit=False)
        with factory() as session, session.begin():
            yield session
            # Originals reach the disk before any row that refers to them is committed.
            self.blobs.sync()

    def close(self) -> None:
        self.engine.dispose()


def init_store(root: Path, url: str | None = None, actor: str = "conduct") -> Store:
    """Create (or bring up to date) a store; idempotent."""
    root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url(root, url))
    upgrade(engine)
    store = Store(root=root, engine=engine, blobs=BlobStore(root / "blobs", defer_sync=True))
    store.blobs.ensure()
    with store.session() as session:
        if not custody.entries_of(session, custody.STORE_CHAIN, upto_seq=1):
            custody.append(session, custody.STORE_CHAIN, actor, "store_initialised", str(root),
                           {"database": store.url})
    return store


def open_store(root: Path, url: str | None = None) -> Store:
    engine = make_engine(database_url(root, url))
    if url is None and "CONDUCT_DATABASE_URL" not in os.environ and not (
        root / "conduct.sqlite"
    ).exists():
        raise StoreNotInitialised(f"no Conduct store at {root}: run `conduct init` first")
    current, head = schema_state(engine)
    if current is None:
        raise StoreNotInitialised(f"the database for {root} is empty: run `conduct init` first")
    if current != head:
        raise StoreNotInitialised(
            f"the store schema is at {current}, this Conduct needs {head}: run `conduct init`"
        )
    return Store(root=root, engine=engine, blobs=BlobStore(root / "blobs", defer_sync=True))
