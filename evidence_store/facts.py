"""Derived facts: written beside the events of an exhibit, read back for detail views.

Facts are few next to events (an e-mail's hops, a screenshot's OCR text), so they
go in with plain batched inserts rather than the events' background sink.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import canonical_json
from evidence_store.models import Exhibit, Fact
from parsers.records import DerivedFact

#: Pending facts are written once this many have gathered.
BATCH = 2_000
_SQLITE_INSERT = ("INSERT INTO facts (case_id, exhibit_id, event_seq, kind, value, locator, "
                  "source) VALUES (?, ?, ?, ?, ?, ?, ?)")
_POSTGRES_COPY = ("COPY facts (case_id, exhibit_id, event_seq, kind, value, locator, source) "
                  "FROM STDIN")


def encode_value(value: dict[str, Any]) -> str:
    # Canonical: a fact's value is evidence, so an unknown type must fail loudly
    # rather than be stringified into something that merely looks right.
    return canonical_json.dumps(value)


@dataclass
class FactWriter:
    """Collects an exhibit's facts and inserts them in batches.

    ``before_write`` runs before each insert: the event writer's ``wait`` while a
    parse is streaming events on its background thread over the same session.
    """

    session: Session
    case_id: int
    exhibit_id: int
    source: str
    before_write: Callable[[], None] = lambda: None
    count: int = 0
    _pending: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, fact: DerivedFact, event_seq: int | None) -> None:
        self._pending.append((
            self.case_id, self.exhibit_id, event_seq if fact.about == "record" else None,
            fact.kind, encode_value(fact.value),
            json.dumps(fact.locator.as_dict(), ensure_ascii=False, sort_keys=True),
            self.source,
        ))
        self.count += 1
        if len(self._pending) >= BATCH:
            self.flush()

    def add_as_parsed(self, fact: DerivedFact, last_seq: int) -> None:
        """A fact in a parser's output: about the file, or about the event just
        written (``last_seq``; 0 when there is none, and such a fact is dropped: it
        follows a record that was not kept)."""
        if fact.about == "file":
            self.add(fact, None)
        elif last_seq:
            self.add(fact, last_seq)

    def add_all(self, facts: Iterable[DerivedFact], event_seq: int | None) -> None:
        for fact in facts:
            self.add(fact, event_seq)

    def flush(self) -> None:
        # Straight to the driver, as events are (evidence_store.bulk): an e-mail
        # archive yields ten facts a message, and the ORM's per-row work would
        # cost more than parsing them.
        if not self._pending:
            return
        self.before_write()
        raw = self.session.connection().connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if self.session.get_bind().dialect.name == "postgresql":
                with cursor.copy(_POSTGRES_COPY) as copy:  # type: ignore[attr-defined]
                    for row in self._pending:
                        copy.write_row(row)
            else:
                cursor.executemany(_SQLITE_INSERT, self._pending)
        finally:
            cursor.close()
        self._pending = []


def fact_dict(fact: Fact, exhibit_ref: str) -> dict[str, Any]:
    return {
        "exhibit": exhibit_ref, "event_seq": fact.event_seq, "kind": fact.kind,
        "value": json.loads(fact.value), "locator": json.loads(fact.locator),
        "source": fact.source,
    }


def facts_of_event(session: Session, exhibit_id: int, seq: int) -> list[dict[str, Any]]:
    """The facts about one event plus those about its exhibit as a whole."""
    rows = session.execute(
        select(Fact, Exhibit.ref).join(Exhibit, Exhibit.id == Fact.exhibit_id)
        .where(Fact.exhibit_id == exhibit_id,
               (Fact.event_seq == seq) | Fact.event_seq.is_(None))
        .order_by(Fact.id))
    return [fact_dict(fact, ref) for fact, ref in rows]


def iter_case_facts(session: Session, case_id: int) -> Iterator[dict[str, Any]]:
    """Every fact of a case in a stable order (exhibit, then as written)."""
    query = (select(Fact, Exhibit.ref).join(Exhibit, Exhibit.id == Fact.exhibit_id)
             .where(Fact.case_id == case_id)
             .order_by(Fact.exhibit_id, Fact.id)
             .execution_options(yield_per=2000))
    for fact, ref in session.execute(query):
        yield fact_dict(fact, ref)
