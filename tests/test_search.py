"""Full-text search and keyset timeline pages: every event once, in order, ties
included; words found whatever the user types; the index caught up without triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from evidence_store import cases, persons
from evidence_store.events import EventWriter
from evidence_store.models import Event, Exhibit
from evidence_store.search import (
    PageFilter,
    SearchError,
    catch_up,
    parse_cursor,
    search,
    timeline_page,
)
from evidence_store.timeline import iter_events
from parsers.records import EventRecord, Locator, WallClock

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SAM, JO = "+447700900461", "+447700900999"


def _exhibit(session, case, ref):
    cases.ensure_blob(session, "a" * 64, 10, "text/plain")
    exhibit = Exhibit(case_id=case.id, ref=ref, sha256="a" * 64, original_name=f"{ref}.txt",
                      size=10, media_type="text/plain", status="parsed",
                      received_by="Jane Smith", received_at=datetime.now(UTC), description="x",
                      notes="[]", event_count=0)
    session.add(exhibit)
    session.flush()
    return exhibit


def _record(at, text, channel="sms", sender=SAM, kind="message", flags=()):
    return EventRecord(kind=kind, time=WallClock(text=at.isoformat(), instant=at),
                       time_basis="sent", channel=channel, locator=Locator(line=1),
                       sender=sender, sender_id=sender, direction="incoming", text=text,
                       flags=flags)


def _write(store, ref, records, case_ref="OP-1"):
    with store.session() as session:
        case = cases.get_case(session, case_ref)
        exhibit = _exhibit(session, case, ref)
        writer = EventWriter(session, case.id, exhibit.id, "Europe/London", "test/1")
        writer.add_all(records)
        writer.close()


@pytest.fixture
def case_with_ties(store):
    """Two exhibits interleaved in time, 60 events sharing one instant, several channels."""
    with store.session() as session:
        case = cases.create_case(session, "OP-1", "t", "Jane Smith", "JS")
        persons.add_person(session, case, "Sam Taylor", "suspect", [SAM], "t")
        persons.add_person(session, case, "Jo Bloggs", "witness", [JO], "t")
    tie = START + timedelta(hours=5)
    first = [_record(START + timedelta(minutes=7 * n), f"first {n} knife" if n % 10 == 0
                     else f"first {n}") for n in range(100)]
    first += [_record(tie, f"tie {n}", channel="whatsapp") for n in range(60)]
    second = [_record(START + timedelta(minutes=5 * n), f"second {n}", channel="call",
                      kind="call", flags=("missed",) if n % 3 == 0 else ()) for n in range(80)]
    second += [_record(tie, f"tie b{n}", sender=JO) for n in range(20)]
    _write(store, "JS/1", first)
    _write(store, "JS/2", second)
    return store


def _all_pages(session, case, filters=None, limit=7):
    seen, cursor = [], None
    while True:
        rows, cursor = timeline_page(session, case, filters, after=cursor, limit=limit)
        seen += rows
        if cursor is None:
            return seen


def test_pages_return_every_event_once_in_timeline_order_ties_included(case_with_ties):
    with case_with_ties.session() as session:
        case = cases.get_case(session, "OP-1")
        paged = _all_pages(session, case)
        whole = list(iter_events(session, case))
    assert [r["id"] for r in paged] == [e["id"] for e in whole]
    assert len(paged) == 260 and len({r["id"] for r in paged}) == 260
    assert paged == whole  # the same JSON rows as the timeline


@pytest.mark.parametrize("filters, wanted", [
    (PageFilter(channel="whatsapp"), lambda e: e["channel"] == "whatsapp"),
    (PageFilter(kind="call"), lambda e: e["kind"] == "call"),
    (PageFilter(flag="missed"), lambda e: "missed" in e["flags"]),
    (PageFilter(start=START + timedelta(hours=2), end=START + timedelta(hours=5, seconds=1)),
     lambda e: "2024-03-01T14:00:00Z" <= e["occurred_at"] <= "2024-03-01T17:00:00Z"),
    ("witness", lambda e: e["sender_id"] == JO),
])
def test_filtered_pages_hold_exactly_the_matching_events(case_with_ties, filters, wanted):
    with case_with_ties.session() as session:
        case = cases.get_case(session, "OP-1")
        if filters == "witness":
            witness = next(p.id for p, _ in persons.persons_of(session, case)
                           if p.role == "witness")
            filters = PageFilter(person_id=witness)
        paged = [r["id"] for r in _all_pages(session, case, filters, limit=4)]
        expected = [e["id"] for e in iter_events(session, case) if wanted(e)]
    assert paged == expected and expected


def test_a_cursor_past_the_end_of_a_date_range_gives_an_empty_last_page(case_with_ties):
    with case_with_ties.session() as session:
        case = cases.get_case(session, "OP-1")
        rows, cursor = timeline_page(session, case, PageFilter(end=START),
                                     after="2024-03-02T00:00:00.000000Z_1")
    assert (rows, cursor) == ([], None)


@pytest.mark.parametrize("cursor", ["", "yesterday", "2024-03-01T12:00:00Z_5",
                                    "2024-13-01T12:00:00.000000Z_5", "2024-03-01_5",
                                    "2024-03-01T12:00:00.000000Z_"])
def test_a_bad_cursor_is_one_clear_error(case_with_ties, cursor):
    with case_with_ties.session() as session:
        case = cases.get_case(session, "OP-1")
        with pytest.raises(SearchError, match="not a cursor"):
            timeline_page(session, case, after=cursor)


def test_a_cursor_names_the_last_row_of_its_page(case_with_ties):
    with case_with_ties.session() as session:
        case = cases.get_case(session, "OP-1")
        rows, cursor = timeline_page(session, case, limit=3)
    assert parse_cursor(cursor) == (datetime.fromisoformat(
        rows[-1]["occurred_at"].replace("Z", "+00:00")), rows[-1]["id"])


# ---------------------------------------------------------------------- search


@pytest.fixture
def case_with_words(store):
    with store.session() as session:
        case = cases.create_case(session, "OP-1", "t", "Jane Smith", "JS")
        persons.add_person(session, case, "Sam Taylor", "suspect", [SAM], "t")
        other = cases.create_case(session, "OP-2", "t", "Jane Smith", "JS")
        persons.add_person(session, other, "Sam Taylor", "suspect", [SAM], "t")
    texts = ["I know where you LIVE", "Where are you?", "knife", "the station at nine",
             "Stationery shop", "you live alone", "O'Brien said hello", "naïve question",
             "where you live now", None]
    _write(store, "JS/1", [_record(START + timedelta(minutes=n), t) for n, t in enumerate(texts)])
    _write(store, "JS/1", [_record(START, "knife in the other case")], case_ref="OP-2")
    return store


def _found(store, query, ref="OP-1", limit=50):
    with store.session() as session:
        page = search(session, cases.get_case(session, ref), query, limit=limit)
    return [r["text"] for r in page.rows]


@pytest.mark.parametrize("query, expected", [
    ("live", ["I know where you LIVE", "you live alone", "where you live now"]),
    ("WHERE you", ["I know where you LIVE", "Where are you?", "where you live now"]),
    ('"where you live"', ["I know where you LIVE", "where you live now"]),
    ("stat*", ["the station at nine", "Stationery shop"]),
    ("knife", ["knife"]),
    ("o'brien", ["O'Brien said hello"]),
    ("naïve", ["naïve question"]),
    ("elephant", []),
])
def test_search_finds_words_phrases_and_prefixes_in_time_order(case_with_words, query,
                                                                expected):
    assert _found(case_with_words, query) == expected


def test_search_stays_inside_its_case(case_with_words):
    assert _found(case_with_words, "knife", "OP-2") == ["knife in the other case"]


def test_search_pages_continue_by_cursor(case_with_words):
    with case_with_words.session() as session:
        case = cases.get_case(session, "OP-1")
        first = search(session, case, "where", limit=2)
        second = search(session, case, "where", limit=2, after=first.next_cursor)
    assert [r["text"] for r in first.rows + second.rows] == [
        "I know where you LIVE", "Where are you?", "where you live now"]
    assert second.next_cursor is None
    assert "where" in first.rows[0]["excerpt"].casefold()


def test_common_and_rare_words_give_the_same_results_by_every_plan(case_with_words,
                                                                   monkeypatch):
    import evidence_store.search as search_module

    queries = ["live", '"where you live"', "stat*", "where you", "knife"]
    sparse = {q: _found(case_with_words, q) for q in queries}
    monkeypatch.setattr(search_module, "DENSE_MATCHES", 0)
    assert {q: _found(case_with_words, q) for q in queries} == sparse


@pytest.mark.parametrize("query", [
    '"', '""', "*", "***", "(", ")", "-", "^", ":", "\\", "%_", "   ", "🙂", "'", "\"'\"",
    "--", "\x00", "\ud800",
])
def test_text_without_a_word_is_one_clear_error(case_with_words, query):
    with pytest.raises(SearchError, match="nothing to search for"):
        _found(case_with_words, query)


@pytest.mark.parametrize("query", [
    '"unbalanced knife', 'kn"ife', "knife*", "kni*", "text:knife", "knife OR live",
    "NEAR(knife live)", "-knife", "knife AND", "(knife)", "^knife", "knife NOT live",
    "{text}: knife", "knife\x00", "knife\ud800", "knife'", "🙂 knife", "k*n*i*f*e",
    '"knife" *', "NOT", "AND OR NEAR",
])
def test_odd_input_is_searched_as_text_never_as_syntax(case_with_words, query):
    _found(case_with_words, query)  # no exception: whatever it finds, it refuses nothing


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40))
def test_any_text_either_searches_or_says_there_is_no_word(case_with_words, query):
    try:
        _found(case_with_words, query)
    except SearchError as exc:
        assert "search" in str(exc)


def test_the_index_catches_up_with_events_added_later(case_with_words):
    with case_with_words.session() as session:
        assert catch_up(session) == 11  # every event of both cases, once
    with case_with_words.session() as session:
        assert catch_up(session) == 0
    _write(case_with_words, "JS/2", [_record(START + timedelta(days=1), "a later knife")])
    assert _found(case_with_words, "knife") == ["knife", "a later knife"]
    with case_with_words.session() as session:
        assert catch_up(session) == 0


def test_ingest_adds_no_trigger_to_events(store):
    dialect = store.engine.dialect.name
    query = ("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'" if dialect == "sqlite"
             else "SELECT count(*) FROM information_schema.triggers "
                  "WHERE event_object_table = 'events'")
    with store.engine.connect() as connection:
        assert connection.execute(text(query)).scalar_one() == 0


def test_postgres_catch_up_never_skips_events_of_a_transaction_still_open(case_with_words):
    """An ingest holding ids below ones already visible: the mark must not pass them."""
    store = case_with_words
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; the race exists on PostgreSQL only")
    _found(store, "knife")
    with store.engine.connect() as slow:
        slow_tx = slow.begin()
        with store.session() as session:
            case_id = cases.get_case(session, "OP-1").id
            exhibit_id = session.query(Exhibit.id).filter(Exhibit.case_id == case_id).scalar()
        slow_event = Event(case_id=case_id, exhibit_id=exhibit_id, seq=99, kind="message",
                           occurred_at=START, time_basis="sent", precision="second",
                           channel="sms", direction="incoming", text="slow knife",
                           locator="{}", parser="test/1")
        slow.execute(Event.__table__.insert().values(
            {c.name: getattr(slow_event, c.name) for c in Event.__table__.columns
             if c.name != "id" and getattr(slow_event, c.name) is not None}))
        _write(store, "JS/3", [_record(START + timedelta(days=2), "quick knife")])
        assert _found(store, "knife") == ["knife", "quick knife"]
        slow_tx.commit()
    assert _found(store, "knife") == ["slow knife", "knife", "quick knife"]


@pytest.mark.parametrize("query", ["(knife)", "^knife", "-knife", "knife*", "kni*", "knife'",
                                   "🙂 knife", '"knife" *', "knife\x00"])
def test_punctuation_around_a_word_does_not_change_what_it_finds(case_with_words, query):
    assert _found(case_with_words, query) == ["knife"]
