from sqlalchemy import delete, select, update

from evidence_store import cases, custody
from evidence_store.models import CustodyEntry
from evidence_store.verify import verify


def _case_with_entries(store, count=4):
    with store.session() as session:
        cases.create_case(session, "OP-1", "Test", "Jane Smith", "JS")
        for n in range(count - 1):
            custody.append(session, custody.case_chain("OP-1"), "Jane Smith", "tagged", f"JS/{n}",
                           {"tag": "threat"})


def _problems(store):
    with store.session() as session:
        return verify(session, store.blobs).problems


def test_an_untouched_chain_verifies(store):
    _case_with_entries(store)
    assert _problems(store) == []


def test_each_entry_links_to_the_hash_of_the_one_before(store):
    _case_with_entries(store)
    with store.session() as session:
        entries = custody.entries_of(session, "case:OP-1")
    assert entries[0].prev_hash == custody.GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]


def test_an_edited_entry_is_named(store):
    _case_with_entries(store)
    with store.session() as session:
        session.execute(update(CustodyEntry).where(CustodyEntry.chain == "case:OP-1",
                                                   CustodyEntry.seq == 2).values(actor="Mallory"))
    assert _problems(store) == ["custody case:OP-1 entry 2: entry altered (hash mismatch)"]


def test_a_deleted_middle_entry_is_named(store):
    _case_with_entries(store)
    with store.session() as session:
        session.execute(delete(CustodyEntry).where(CustodyEntry.chain == "case:OP-1",
                                                   CustodyEntry.seq == 2))
    problems = _problems(store)
    assert "custody case:OP-1 entry 2: missing (next entry present is 3)" in problems


def test_a_deleted_last_entry_is_named(store):
    _case_with_entries(store)
    with store.session() as session:
        session.execute(delete(CustodyEntry).where(CustodyEntry.chain == "case:OP-1",
                                                   CustodyEntry.seq == 4))
    assert _problems(store) == [
        "custody case:OP-1 entry 4: entries after 3 deleted (head records entry 4)"]


def test_details_must_be_plain_json(store):
    import pytest

    from evidence_store.canonical_json import CanonicalJSONError

    with store.session() as session, pytest.raises(CanonicalJSONError):
        custody.append(session, "store", "x", "odd", "y", {"when": object()})
    with store.session() as session:
        chain = session.execute(select(CustodyEntry.action).where(CustodyEntry.chain == "store"))
        assert list(chain.scalars()) == ["store_initialised"]
