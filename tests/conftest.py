"""Shared fixtures. Every store test runs on SQLite, or on PostgreSQL when
CONDUCT_DATABASE_URL is set (CI's second run): each test then gets a schema of
its own, and an unreachable server is an error, never a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_store.database import scratch_schema
from evidence_store.store import Store, init_store

DATABASE_ENV = "CONDUCT_DATABASE_URL"


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    base = os.environ.get(DATABASE_ENV)
    if not base:
        yield None
        return
    with scratch_schema(base, prefix="t") as url:
        monkeypatch.setenv(DATABASE_ENV, url)
        yield url


@pytest.fixture
def store_dir(tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("CONDUCT_STORE", str(root))
    monkeypatch.setenv("CONDUCT_USER", "test-officer")
    return root


@pytest.fixture
def store(store_dir: Path) -> Iterator[Store]:
    opened = init_store(store_dir, actor="test-officer")
    yield opened
    opened.close()
