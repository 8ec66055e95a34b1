"""Events as the store writes and reads them, on either database."""

from datetime import UTC, datetime

from evidence_store import cases
from evidence_store.events import EventWriter
from evidence_store.models import Exhibit
from evidence_store.timeline import iter_events
from parsers.records import EventRecord, Locator, WallClock


def _exhibit(session):
    case = cases.create_case(session, "OP-1", "t", "Jane Smith", "JS")
    cases.ensure_blob(session, "a" * 64, 10, "text/plain")
    exhibit = Exhibit(case_id=case.id, ref="JS/1", sha256="a" * 64, original_name="x.txt",
                      size=10, media_type="text/plain", status="parsed", received_by="Jane Smith",
                      received_at=datetime.now(UTC), description="x", notes="[]",
                      event_count=0)
    session.add(exhibit)
    session.flush()
    return case, exhibit


def _record(text, **fields):
    return EventRecord(kind="message", time=WallClock(text="12/03/2024, 22:15",
                                                      local=datetime(2024, 3, 12, 22, 15),
                                                      precision="minute"),
                       time_basis="sent", channel="whatsapp", locator=Locator(line=7),
                       text=text, **fields)


def _write_and_read(store, *records):
    with store.session() as session:
        case, exhibit = _exhibit(session)
        writer = EventWriter(session, case.id, exhibit.id, "Europe/London", "test/1")
        writer.add_all(records)
        writer.close()
    with store.session() as session:
        return list(iter_events(session, cases.get_case(session, "OP-1")))


def test_a_nul_character_is_shown_as_a_symbol_and_flagged(store):
    [event] = _write_and_read(store, _record("Are you\x00home?"))
    assert (event["text"], event["defects"]) == ("Are you\u2400home?",
                                                  ["nul_in_text_shown_as_u2400"])


def test_text_is_stored_exactly_without_normalisation(store):
    decomposed = "gelo\u0308scht \u200e<attached: a.jpg>\n\nline three  "
    [event] = _write_and_read(store, _record(decomposed))
    assert event["text"] == decomposed


def test_ties_keep_file_order(store):
    events = _write_and_read(store, *[_record(f"message {n}") for n in range(5)])
    assert [e["text"] for e in events] == [f"message {n}" for n in range(5)]
    assert {e["occurred_at"] for e in events} == {"2024-03-12T22:15:00Z"}


def test_structured_fields_round_trip(store):
    from parsers.records import AttachmentRef

    [event] = _write_and_read(store, _record(
        "hi", recipients=("a@example.org",), flags=("edited",), extra={"gmail_labels": "Inbox"},
        attachments=(AttachmentRef("a.jpg", "b" * 64, "image/jpeg"),)))
    assert (event["recipients"], event["flags"], event["extra"], event["attachments"],
            event["locator"]) == (
        ["a@example.org"], ["edited"], {"gmail_labels": "Inbox"},
        [{"name": "a.jpg", "sha256": "b" * 64, "media_type": "image/jpeg"}], {"line": 7})


def test_an_undecodable_byte_kept_as_a_surrogate_is_shown_and_flagged(store):
    [event] = _write_and_read(store, _record("caf\udce9 au lait"))
    assert (event["text"], event["defects"]) == ("caf\ufffd au lait",
                                                  ["undecodable_in_text_shown_as_ufffd"])
