"""Full-text search over a case's events, and the timeline a page at a time.

The word index is FTS5 on SQLite (an external-content table over the events'
text, subject and sender) and a tsvector table with a GIN index on
PostgreSQL. Neither is kept current by triggers, which would slow every ingest:
``catch_up`` indexes the events added since it last ran, in one INSERT ...
SELECT, before each search. Both use plain word matching without stemming or
accent folding ('simple' / unicode61 remove_diacritics 0), so a search finds the
same events on either database. Events are never deleted or rewritten (the store
is append-only), which is what lets the index only ever grow; anything that one
day removes events must remove their index entries in the same transaction.

What the user types is never passed on as query syntax: every term is quoted
(a word, a "quoted phrase", or word* for words beginning so), and terms must
all match. Results come in timeline order, a page at a time, continued by an
opaque cursor holding the last (occurred_at, id) seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    true,
    tuple_,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from evidence_store.contact_scope import ContactScope, resolve
from evidence_store.models import Case, Event, Exhibit, UTCDateTime
from evidence_store.persons import attribution_map
from evidence_store.timeline import attribute, event_dict

#: Tables of the word index, outside the models (database-specific; see migration 0004).
SEARCH_TABLES = frozenset({
    "events_fts", "events_fts_data", "events_fts_idx", "events_fts_docsize", "events_fts_config",
    "event_search",
})
_STATE = "events"
_MAX_TERMS = 32
_MAX_QUERY = 1000
#: PostgreSQL refuses a tsvector over 1 MB: longer texts are indexed up to here.
PG_INDEXED_CHARS = 200_000
_PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, left(coalesce(e.text, ''), 200000) || ' ' || "
    "left(coalesce(e.subject, ''), 10000) || ' ' || left(coalesce(e.sender, ''), 1000))"
)
_LOCK_NOT_AVAILABLE = "55P03"


def is_search_table(name: str | None) -> bool:
    return name in SEARCH_TABLES


class SearchError(ValueError):
    """A search or page request that cannot be run (one clear line)."""


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    prefix: bool = False


_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_HAS_WORD = re.compile(r"[^\W_]")
_PREFIX = re.compile(r"([^\W_]+)\*+")


def parse_query(query: str) -> list[Term]:
    """Terms of what the user typed; anything that is not a word is just text."""
    if len(query) > _MAX_QUERY:
        raise SearchError(f"search text is too long ({len(query)} characters, at most "
                          f"{_MAX_QUERY})")
    # Neither database takes NUL or a lone surrogate in a query: they are not words.
    query = query.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
    terms = []
    for match in _TERM.finditer(query):
        phrase, word = match.groups()
        if phrase is not None:
            term = Term(phrase)
        elif prefix := _PREFIX.fullmatch(word):
            term = Term(prefix.group(1), prefix=True)
        else:
            term = Term(word)
        if _HAS_WORD.search(term.text):
            terms.append(term)
    if not terms:
        raise SearchError("nothing to search for: give at least one word (letters or digits)")
    if len(terms) > _MAX_TERMS:
        raise SearchError(f"too many search terms ({len(terms)}, at most {_MAX_TERMS})")
    return terms


def fts5_query(terms: Sequence[Term]) -> str:
    """An FTS5 expression in which every term is a quoted string (so never syntax)."""
    quoted = ['"' + t.text.replace('"', '""') + '"' + (" *" if t.prefix else "") for t in terms]
    return " ".join(quoted)


def _pg_tsquery(terms: Sequence[Term]) -> ColumnElement[Any]:
    config: ColumnElement[Any] = literal_column("'simple'::regconfig")
    query: ColumnElement[Any] | None = None
    for term in terms:
        # A prefix term is letters and digits only (see _PREFIX), so quoting it is safe.
        part = (func.to_tsquery(config, literal(f"'{term.text}':*")) if term.prefix
                else func.phraseto_tsquery(config, literal(term.text)))
        query = part if query is None else query.op("&&")(part)
    assert query is not None
    return query


# ---------------------------------------------------------------------- catch-up


def catch_up(session: Session) -> int:
    """Index every event added since the last catch-up; returns how many were added.

    Costs one query when nothing is new. On SQLite the FTS5 index of a million
    events takes about 17 s, paid by the first search after a large ingest rather
    than by the ingest (see bench/analyse_bench.py).
    """
    last, top = session.execute(text(
        "SELECT (SELECT last_event_id FROM search_index_state WHERE name = :name), "
        "(SELECT max(id) FROM events)"), {"name": _STATE}).one()
    last, top = int(last or 0), int(top or 0)
    if top <= last:
        return 0
    if session.connection().dialect.name == "sqlite":
        return _catch_up_sqlite(session, last)
    return _catch_up_postgres(session, last)


def _set_last_indexed(session: Session, last: int) -> None:
    session.execute(text(
        "INSERT INTO search_index_state (name, last_event_id) VALUES (:name, :last) "
        "ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id"),
        {"name": _STATE, "last": last})


def _catch_up_sqlite(session: Session, last: int) -> int:
    # SQLite has one writer at a time: once this INSERT holds the write lock, every
    # committed event is visible and none can appear below the new mark.
    added = session.connection().execute(text(
        "INSERT INTO events_fts (rowid, text, subject, sender) "
        "SELECT id, text, subject, sender FROM events WHERE id > :last "
        "AND (text IS NOT NULL OR subject IS NOT NULL OR sender IS NOT NULL)"),
        {"last": last}).rowcount
    top = session.execute(text("SELECT max(id) FROM events")).scalar_one_or_none() or 0
    _set_last_indexed(session, max(top, last))
    return max(added, 0)


#: After adding this many rows the planner's statistics of the index and of events
#: are renewed, so that it starts from the GIN index for rare words (autovacuum would,
#: but minutes later: until then a fresh bulk load looks empty to the planner).
_PG_ANALYSE_AFTER = 5000


def _catch_up_postgres(session: Session, last: int) -> int:
    """PostgreSQL hands out ids before commit, so an ingest still running may hold
    ids below ones already visible. The mark advances only while no other
    transaction is writing events (a SHARE lock taken without waiting); otherwise
    the events above the mark are checked one by one and the mark stays."""
    exclusive = True
    try:
        with session.begin_nested():
            session.execute(text("LOCK TABLE events IN SHARE MODE NOWAIT"))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        exclusive = False
    added = session.connection().execute(text(
        "INSERT INTO event_search (event_id, case_id, document) "  # noqa: S608 (constant)
        f"SELECT e.id, e.case_id, {_PG_DOCUMENT} FROM events e WHERE e.id > :last "
        "AND NOT EXISTS (SELECT 1 FROM event_search s WHERE s.event_id = e.id) "
        "ON CONFLICT (event_id) DO NOTHING"), {"last": last}).rowcount
    if exclusive:
        top = session.execute(text("SELECT max(id) FROM events")).scalar_one_or_none() or 0
        _set_last_indexed(session, max(top, last))
    if added >= _PG_ANALYSE_AFTER:
        session.execute(text("ANALYZE events"))
        session.execute(text("ANALYZE event_search"))
    return max(added, 0)


# ---------------------------------------------------------------------- cursors


_CURSOR = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z_(\d{1,18})")


def make_cursor(occurred_at: datetime, event_id: int) -> str:
    return f"{occurred_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%f')}Z_{event_id}"


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    match = _CURSOR.fullmatch(cursor.strip())
    if match is None:
        raise SearchError(f"not a cursor from a previous page: {cursor!r}")
    try:
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SearchError(f"not a cursor from a previous page: {cursor!r}") from exc
    return moment, int(match.group(2))


def _after(cursor: str | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    moment, event_id = parse_cursor(cursor)
    # The row-value comparison walks ix_events_case_time from the cursor on.
    return [tuple_(Event.occurred_at, Event.id)
            > tuple_(literal(moment, UTCDateTime()), literal(event_id))]


# ---------------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def search(session: Session, case: Case, query: str, limit: int = 50,
           after: str | None = None) -> Page:
    """Events of ``case`` whose text, subject or sender hold every term of ``query``,
    in timeline order; each row is the timeline's JSON row plus an ``excerpt``."""
    terms = parse_query(query)
    _check_limit(limit)
    catch_up(session)
    found: Sequence[Any]
    if session.connection().dialect.name == "sqlite":
        found = _sqlite_matches(session, case, terms, after, limit + 1)
    else:
        found = _postgres_matches(session, case, terms, after, limit + 1)
    rows = _rows(session, case, [r[0] for r in found[:limit]])
    for row in rows:
        row["excerpt"] = excerpt(row, terms)
    return Page(rows, _next_cursor(found, limit))


#: Up to this many matches a search sorts the matches (cost grows with them); above
#: it, it walks the case in time order until the page is full (cost shrinks as the
#: matches grow denser). Near here both cost about the same; see bench/analyse_bench.py.
DENSE_MATCHES = 20_000


def _sqlite_matches(session: Session, case: Case, terms: Sequence[Term], after: str | None,
                    limit: int) -> list[Any]:
    """(id, occurred_at) of the page's matches, by the cheapest of three plans."""
    match = fts5_query(terms)
    many = session.execute(text(
        "SELECT count(*) FROM (SELECT 1 FROM events_fts WHERE events_fts MATCH :match "
        "LIMIT :cap)"), {"match": match, "cap": DENSE_MATCHES + 1}).scalar_one()
    params: dict[str, Any] = {"match": match, "case": case.id, "limit": limit}
    keyset = ""
    if after is not None:
        moment, event_id = parse_cursor(after)
        keyset = "AND (e.occurred_at, e.id) > (:after_time, :after_id) "
        params.update(after_time=moment, after_id=event_id)
    if many <= DENSE_MATCHES:
        # Rare words: the matches first (CROSS JOIN fixes that order), then sorted.
        sql = _SPARSE
    elif not any(t.prefix for t in terms):
        # Common words: events in time order, each checked in the index; the page
        # fills after a few hundred.
        sql = _DENSE_PROBE
    else:
        # A prefix makes each check costly (every word so beginning is looked up):
        # the matches are gathered once into a temporary set, and the case walked in
        # time order against it.
        sql = _DENSE_SET
    statement = text(sql.format(keyset=keyset)).columns(
        column("id", Integer), column("occurred_at", UTCDateTime()))
    if after is not None:
        statement = statement.bindparams(bindparam("after_time", type_=UTCDateTime()))
    return list(session.execute(statement, params).all())


def _postgres_matches(session: Session, case: Case, terms: Sequence[Term], after: str | None,
                      limit: int) -> list[Any]:
    """As _sqlite_matches: few matches are joined and sorted; many are found by
    walking the case in time order, each event checked in the index (a correlated
    subquery, which the planner leaves as a per-row check instead of a hash join
    over every match)."""
    index = table("event_search", column("event_id"), column("case_id"), column("document"))
    query = _pg_tsquery(terms)
    matching = select(literal(1)).select_from(index).where(index.c.document.op("@@")(query))
    if any(t.prefix for t in terms):
        # The planner cannot estimate a prefix: count, up to the threshold.
        many = session.execute(select(func.count()).select_from(
            matching.limit(DENSE_MATCHES + 1).subquery())).scalar_one()
    else:
        # The planner's estimate, from the index's word statistics: counting even a
        # capped number of matches makes the GIN bitmap gather every one of them first.
        compiled = matching.compile(dialect=session.connection().dialect)
        [[plan]] = session.connection().exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).all()
        many = plan[0]["Plan"]["Plan Rows"]
    if many <= DENSE_MATCHES:
        statement = (select(Event.id, Event.occurred_at)
                     .join(index, index.c.event_id == Event.id)
                     .where(index.c.case_id == case.id, index.c.document.op("@@")(query)))
    else:
        matches = (select(index.c.document.op("@@")(query))
                   .where(index.c.event_id == Event.id).scalar_subquery())
        statement = select(Event.id, Event.occurred_at).where(Event.case_id == case.id,
                                                              matches.is_(true()))
    return list(session.execute(statement.where(*_after(after))
                                .order_by(Event.occurred_at, Event.id).limit(limit)).all())


# Constant SQL; {keyset} is either empty or the fixed keyset condition above.
_SPARSE = (
    "SELECT e.id, e.occurred_at FROM events_fts CROSS JOIN events AS e "
    "ON e.id = events_fts.rowid WHERE events_fts MATCH :match AND e.case_id = :case "
    "{keyset}ORDER BY e.occurred_at, e.id LIMIT :limit")
_DENSE_PROBE = (
    "SELECT e.id, e.occurred_at FROM events AS e WHERE e.case_id = :case {keyset}"
    "AND EXISTS (SELECT 1 FROM events_fts WHERE events_fts.rowid = e.id "
    "AND events_fts MATCH :match) ORDER BY e.occurred_at, e.id LIMIT :limit")
_DENSE_SET = (
    "SELECT e.id, e.occurred_at FROM events AS e WHERE e.case_id = :case {keyset}"
    "AND e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH :match) "
    "ORDER BY e.occurred_at, e.id LIMIT :limit")


def excerpt(row: dict[str, Any], terms: Sequence[Term], width: int = 160) -> str:
    """The stretch of the text (or subject, or sender) around the first term found."""
    for field_name in ("text", "subject", "sender"):
        value = row.get(field_name) or ""
        lowered = value.casefold()
        for term in terms:
            words = re.findall(r"[^\W_]+", term.text.casefold())
            at = lowered.find(words[0]) if words else -1
            if at >= 0:
                start = max(at - width // 3, 0)
                piece = value[start:start + width].replace("\n", " ")
                return ("…" if start else "") + piece + ("…" if start + width < len(value)
                                                         else "")
    return (row.get("text") or row.get("subject") or "")[:width].replace("\n", " ")


# ---------------------------------------------------------------------- timeline pages


@dataclass(frozen=True, slots=True)
class PageFilter:
    start: datetime | None = None
    end: datetime | None = None
    channel: str | None = None
    kind: str | None = None
    #: Events sent by this person (see evidence_store.contact_scope).
    person_id: int | None = None
    #: Events carrying this flag (missed, withheld, edited, ...).
    flag: str | None = None


def timeline_page(session: Session, case: Case, filters: PageFilter | None = None,
                  after: str | None = None, limit: int = 100
                  ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the timeline after ``after``, and the cursor of the next page
    (None at the end). Pages never skip or repeat an event, ties included."""
    _check_limit(limit)
    filters = filters or PageFilter()
    where: list[ColumnElement[bool]] = [Event.case_id == case.id]
    # One lower bound only, the tighter of the cursor and the start: given both, the
    # planner would bound the index scan by one and filter by the other.
    start = filters.start
    if after is not None:
        moment, _ = parse_cursor(after)
        if filters.end is not None and moment >= filters.end:
            return [], None
        if start is None or moment >= start:
            where += _after(after)
            start = None
    if start is not None:
        where.append(Event.occurred_at >= start)
    if filters.end is not None:
        where.append(Event.occurred_at < filters.end)
    if filters.channel is not None:
        where.append(Event.channel == filters.channel)
    if filters.kind is not None:
        where.append(Event.kind == filters.kind)
    if filters.flag is not None:
        where.append(Event.flags.like(f"%{_json_string(filters.flag)}%", escape="\\"))
    if filters.person_id is not None:
        where.append(resolve(session, case, ContactScope("person", filters.person_id)
                             ).condition)
    found = session.execute(
        select(Event.id, Event.occurred_at).where(*where)
        .order_by(Event.occurred_at, Event.id).limit(limit + 1)).all()
    rows = _rows(session, case, [r[0] for r in found[:limit]])
    return rows, _next_cursor(found, limit)


def _json_string(value: str) -> str:
    """A flag as it appears inside the stored JSON list, escaped for LIKE."""
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next_cursor(found: Sequence[Any], limit: int) -> str | None:
    """One row more than the page was read: if it came, the page's last row is the cursor."""
    if len(found) <= limit:
        return None
    event_id, occurred_at = found[limit - 1]
    return make_cursor(occurred_at, event_id)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 10_000:
        raise SearchError(f"the page size must be from 1 to 10000, not {limit}")


def _rows(session: Session, case: Case, ids: list[int]) -> list[dict[str, Any]]:
    """The timeline's JSON rows of ``ids``, in that order. Core rows rather than ORM
    objects: event_dict reads attributes, which a Row has, at a fraction of the cost."""
    if not ids:
        return []
    people = attribution_map(session, case)
    rows: Any = session.connection().execute(
            select(*Event.__table__.columns, Exhibit.ref.label("exhibit_ref"),
                   Exhibit.sha256.label("exhibit_sha256"))
            .join(Exhibit, Exhibit.id == Event.exhibit_id)
            # One expanding parameter: a hundred literals would each be coerced and keyed.
            .where(Event.id.in_(bindparam("ids", expanding=True))), {"ids": ids})
    loaded = {row.id: attribute(event_dict(row, row.exhibit_ref, row.exhibit_sha256), people)
              for row in rows}
    return [loaded[i] for i in ids]
