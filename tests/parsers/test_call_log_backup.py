"""SMS Backup & Restore call log files: every call type, withheld numbers, damage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import call_log_backup, sms_backup
from parsers.base import ParseOptions
from parsers.errors import DamagedInput, ParserError
from parsers.records import EventRecord, ParsedItem
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of, source_of

HERE = FIXTURES / "sms_backup"
CALLS = (HERE / "calls.xml").read_bytes()
SAM = "+447700900123"
STRANGER = "+447700900456"


def utc(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 3, 14, hour, minute, second, tzinfo=UTC)


def call_events() -> list[EventRecord]:
    return events(parse_all(call_log_backup.PARSER, CALLS))


def parse_until_error(data: bytes) -> tuple[list[ParsedItem], ParserError | None]:
    items: list[ParsedItem] = []
    try:
        for item in call_log_backup.PARSER.parse(source_of(data), ParseOptions()):
            items.append(item)
    except ParserError as exc:
        return items, exc
    return items, None


# -- detection ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    CALLS,
    (HERE / "truncated_calls.xml").read_bytes(),
    (HERE / "external_entity.xml").read_bytes(),
    b'<calls count="0"/>',
    b'\xef\xbb\xbf<?xml version="1.0"?>\n<calls>\n<call number="1" date="1" type="1" />',
])
def test_detects_call_log_backups(data: bytes) -> None:
    assert call_log_backup.PARSER.detect(probe_of(data))


@pytest.mark.parametrize("data", [
    *((HERE / name).read_bytes() for name in ("messages.xml", "emoji.xml", "bare.xml")),
    *(path.read_bytes() for folder in sorted(FIXTURES.iterdir())
      if folder.is_dir() and folder.name != "sms_backup"
      for path in sorted(folder.iterdir()) if path.is_file() and path.suffix != ".py"),
    b"",
    b'<?xml version="1.0"?>\n<calls>\n  <entry caller="x"/>\n</calls>',  # another app's <calls>
    b'<?xml version="1.0"?>\n<callLog count="1"><call number="1"/></callLog>',
    b'{"calls": [{"number": "+447700900123"}]}',
    b"number,duration,date,type\n+447700900123,65,1710406800000,1\n",
])
def test_does_not_detect_other_files(data: bytes) -> None:
    assert not call_log_backup.PARSER.detect(probe_of(data))


def test_the_messages_parser_does_not_claim_a_call_log() -> None:
    assert not sms_backup.PARSER.detect(probe_of(CALLS))


# -- calls ----------------------------------------------------------------------------


def test_every_call_with_a_date_is_a_call_record_in_file_order() -> None:
    found = call_events()
    assert [e.locator.json_path for e in found] == [f"calls/call[{n}]" for n in range(1, 12)]
    assert {(e.kind, e.channel, e.time_basis) for e in found} == {
        ("call", "call", "call_started")}
    assert [e.time.instant for e in found] == [
        utc(9, 0), utc(9, 1, 40), utc(9, 3, 20), utc(9, 5), utc(9, 6, 40), utc(9, 8, 20),
        utc(9, 10), utc(9, 11, 40), utc(9, 13, 20), utc(9, 15), utc(9, 16, 40),
    ]
    assert all(e.text is None for e in found)


def test_an_answered_incoming_call_is_from_the_number_named_by_the_contact() -> None:
    first = call_events()[0]
    assert first.direction == "incoming"
    assert (first.sender, first.sender_id, first.recipients) == ("Sam Taylor", SAM, ())
    assert first.flags == () and first.defects == ()
    assert (first.conversation, first.participants) == (SAM, (SAM,))
    assert first.time.text == "1710406800000"
    assert first.extra == {
        "type": "1", "number": "+447700900123", "contact_name": "Sam Taylor",
        "readable_date": "14 Mar 2024 09:00:00", "presentation": "1",
        "subscription_id": "89440000000000000001", "duration_seconds": "65",
    }


def test_an_outgoing_call_is_from_the_owner_to_the_normalised_number() -> None:
    outgoing = call_events()[1]
    assert outgoing.direction == "outgoing"
    assert (outgoing.sender, outgoing.sender_id) == (None, None)
    assert outgoing.recipients == (SAM,)
    assert outgoing.conversation == SAM
    assert outgoing.extra["number"] == "07700 900123"
    assert outgoing.extra["duration_seconds"] == "12"


def test_missed_voicemail_rejected_and_blocked_calls_are_incoming_and_flagged() -> None:
    missed, voicemail, rejected, blocked = call_events()[2:6]
    assert [c.flags for c in (missed, voicemail, rejected, blocked)] == [
        ("missed", "not_in_contacts"), ("voicemail", "not_in_contacts"),
        ("rejected",), ("blocked",),
    ]
    assert {c.direction for c in (missed, voicemail, rejected, blocked)} == {"incoming"}
    assert [c.sender_id for c in (missed, voicemail, rejected, blocked)] == [
        STRANGER, STRANGER, SAM, SAM]
    assert missed.sender == "07700900456"  # not in contacts: the number as written


@pytest.mark.parametrize(("index", "number", "flags"), [
    (6, None, ("missed", "withheld", "not_in_contacts")),  # presentation 2, empty number
    (7, "-2", ("withheld", "not_in_contacts")),
    (8, "PRIVATE", ("rejected", "withheld", "not_in_contacts")),
    (9, "Unknown", ("missed", "withheld", "not_in_contacts")),
])
def test_withheld_numbers_are_kept_as_withheld_calls(index: int, number: str | None,
                                                     flags: tuple[str, ...]) -> None:
    call = call_events()[index]
    assert call.direction == "incoming"
    assert (call.sender, call.sender_id, call.recipients) == ("withheld", None, ())
    assert call.flags == flags
    assert (call.conversation, call.participants) == (None, ())
    assert call.extra.get("number") == number


def test_an_unknown_type_and_a_bad_duration_are_defects_on_a_kept_record() -> None:
    odd = call_events()[10]
    assert odd.direction == "unknown"
    assert (odd.sender, odd.sender_id) == (None, None)
    assert odd.conversation == SAM
    assert odd.defects == ("unknown_type", "bad_duration")
    assert odd.extra["duration"] == "abc"
    assert "duration_seconds" not in odd.extra


def test_a_call_without_a_date_is_a_note() -> None:
    found = [n.message for n in notes(parse_all(call_log_backup.PARSER, CALLS))
             if n.code == "no_date"]
    offset = CALLS.index(b'date="null"')
    start = CALLS.rindex(b"<call ", 0, offset)
    assert found == [
        f"The call at calls/call[12] (byte {start}) has no usable date (missing), so it has "
        "no timeline event; it is kept in the stored original."
    ]


def test_short_numbers_are_handles() -> None:
    data = (b'<calls count="1"><call number="999" duration="60" date="1710406800000" '
            b'type="2" presentation="1" contact_name="(Unknown)" /></calls>')
    (call,) = events(parse_all(call_log_backup.PARSER, data))
    assert call.recipients == ("call:999",)


def test_locators_point_at_each_call_element() -> None:
    for call in call_events():
        offset = call.locator.byte_offset
        assert offset is not None and CALLS[offset:offset + 6] == b"<call "
        assert CALLS[:offset].count(b"\n") + 1 == call.locator.line


def test_notes_give_the_backup_and_a_matching_count_is_not_a_mismatch() -> None:
    found = {n.code: n.message for n in notes(parse_all(call_log_backup.PARSER, CALLS))}
    assert set(found) == {"export_scope", "backup_info", "no_date"}
    assert found["backup_info"] == (
        "SMS Backup & Restore backup set 5c1d3b0e-8f7a-4c2e-9d61-2b7e0f4a9c13, "
        "made 2024-03-14T09:30:00.000+00:00 UTC."
    )
    assert "call log" in found["export_scope"]


# -- damage ---------------------------------------------------------------------------


def test_a_truncated_call_log_yields_the_calls_before_the_cut_then_fails() -> None:
    data = (HERE / "truncated_calls.xml").read_bytes()
    items, error = parse_until_error(data)
    assert [e.locator.json_path for e in events(items)] == [
        "calls/call[1]", "calls/call[2]", "calls/call[3]"]
    assert isinstance(error, DamagedInput)
    assert str(error).startswith(f"file truncated at byte {len(data)}: it ends after "
                                 "calls/call[3]")
    assert [n.message for n in notes(items) if n.code == "count_mismatch"] == [
        "The file says it holds 12 call records; 3 were found."]


def test_an_external_entity_is_refused_and_nothing_is_read() -> None:
    items, error = parse_until_error((HERE / "external_entity.xml").read_bytes())
    assert events(items) == []
    assert isinstance(error, DamagedInput)
    assert str(error).startswith("refused: the file has a DOCTYPE or entity declaration")


def test_a_messages_file_handed_to_the_call_parser_is_damaged_input() -> None:
    items, error = parse_until_error((HERE / "messages.xml").read_bytes())
    assert events(items) == []
    assert str(error) == "root element is <smses>, not <calls>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_exception_but_parser_errors_escape_for_any_damage(data: st.DataObject) -> None:
    damaged = bytearray(CALLS)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(damaged) - 1))
        damaged[position] = data.draw(st.integers(min_value=0, max_value=255))
    parse_until_error(bytes(damaged[:data.draw(st.integers(0, len(damaged)))]))


def test_a_payphone_has_no_number_and_says_so() -> None:
    data = (b'<calls count="1"><call number="-3" duration="9" date="1710406800000" type="1" '
            b'presentation="4" contact_name="(Unknown)" /></calls>')
    (call,) = events(parse_all(call_log_backup.PARSER, data))
    assert (call.sender, call.sender_id) == ("withheld", None)
    assert call.flags == ("withheld", "payphone", "not_in_contacts")
