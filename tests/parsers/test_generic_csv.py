"""A CSV of messages read through the officer's column mapping (--csv-map FIELD=Header).

Fixtures are written by tests/fixtures/generic_csv/make_fixtures.py.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import generic_csv
from parsers.base import ParseOptions
from parsers.errors import DamagedInput, ParserError
from parsers.generic_csv import ColumnMapError
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of, source_of

PARSER = generic_csv.PARSER
GENERIC = FIXTURES / "generic_csv"

PHONE_MAP = (("time", "Date Sent"), ("sender", "From"), ("recipient", "To"),
             ("text", "Message"), ("direction", "Direction"), ("channel", "Service"))
EMAIL_MAP = (("time", "Timestamp (ms)"), ("sender", "Sender Name"),
             ("sender_id", "Sender Address"), ("recipient", "Recipients"),
             ("subject", "Subject"), ("text", "Body"), ("channel_name", "email"))
TYPED_MAP = (("time", "Date"), ("sender", "Name"), ("sender_id", "Number"), ("text", "Text"),
             ("channel_name", "SMS"))


def data_of(name: str) -> bytes:
    return (GENERIC / name).read_bytes()


def parse(name: str, column_map: tuple[tuple[str, str], ...], **options: object) -> list:
    return parse_all(PARSER, data_of(name), name,
                     ParseOptions(column_map=column_map, **options))  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def note_codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


# -- identity and detection -----------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.format, PARSER.version) == ("generic_csv", "generic_csv",
                                                            "1.0.0")


@pytest.mark.parametrize("path", sorted(
    p.relative_to(FIXTURES).as_posix()
    for folder in ("generic_csv", "diary", "whatsapp", "email")
    for p in (FIXTURES / folder).iterdir() if p.suffix != ".py"))
def test_never_detects_anything_it_is_chosen_by_the_officers_mapping(path: str) -> None:
    assert not PARSER.detect(probe_of((FIXTURES / path).read_bytes(), path))


def test_does_not_detect_empty_bytes() -> None:
    assert not PARSER.detect(probe_of(b""))


# -- ISO times with offsets ----------------------------------------------------------------


def test_iso_times_with_offsets_become_utc_instants() -> None:
    records = events(parse("phone_export.csv", PHONE_MAP))
    assert [(r.time.instant, r.time.local, r.time.precision) for r in records] == [
        (utc(2024, 3, 12, 22, 15, 3), None, "second"),
        (utc(2024, 3, 12, 22, 16, 40), None, "second"),
        (utc(2024, 3, 31, 0, 30), None, "second"),
        (utc(2024, 3, 31, 9, 0), None, "second"),
    ]
    assert [r.time.text for r in records] == [
        "2024-03-12T22:15:03+00:00", "2024-03-12T22:16:40+00:00", "2024-03-31T01:30:00+01:00",
        "2024-03-31T09:00:00Z"]


def test_senders_keep_their_text_and_get_e164_ids_only_from_numbers() -> None:
    records = events(parse("phone_export.csv", PHONE_MAP))
    assert [(r.sender, r.sender_id, r.recipients) for r in records] == [
        ("+44 7700 900123", "+447700900123", ("+447700900456",)),
        ("+44 7700 900456", "+447700900456", ("+447700900123",)),
        ("07700 900123", "+447700900123", ("+447700900456",)),
        ("Alex", None, ("+447700900456",)),
    ]


def test_direction_channel_text_and_locators_come_from_the_mapped_columns() -> None:
    records = events(parse("phone_export.csv", PHONE_MAP))
    assert [(r.direction, r.channel, r.kind, r.defects) for r in records] == [
        ("incoming", "sms", "message", ()),
        ("outgoing", "sms", "message", ()),
        ("incoming", "imessage", "message", ()),
        ("unknown", "whatsapp", "message", ("unrecognised_direction",)),
    ]
    assert records[2].text == "You can't hide\nI know where you are"
    assert [(r.locator.line, r.locator.line_end) for r in records] == [
        (2, 2), (3, 3), (4, 5), (6, 6)]
    assert records[3].extra["direction_raw"] == "sideways"


def test_conversation_is_the_set_of_people_so_both_directions_share_it() -> None:
    records = events(parse("phone_export.csv", PHONE_MAP))
    pair = "+447700900123|+447700900456"
    assert [r.conversation for r in records] == [pair, pair, pair, "+447700900456"]
    assert records[0].participants == ("+447700900123", "+447700900456")


def test_unmapped_columns_are_kept_in_extra() -> None:
    records = events(parse("phone_export.csv", PHONE_MAP))
    assert records[0].extra == {"recipient": "+44 7700 900456", "direction_raw": "Incoming",
                                "other:Status": "Read"}


def test_notes_record_the_mapping_used_and_the_assumed_time_basis() -> None:
    items = parse("phone_export.csv", PHONE_MAP)
    assert note_codes(items) == ["column_map", "time_basis_assumed"]
    assert notes(items)[0].message == (
        "Columns read as mapped by the officer: time='Date Sent', sender='From', "
        "recipient='To', text='Message', direction='Direction', channel='Service'.")
    assert all(r.time_basis == "sent" for r in events(items))


# -- epoch milliseconds, e-mail identities --------------------------------------------------


def test_epoch_milliseconds_become_instants_with_subsecond_precision() -> None:
    records = events(parse("email_log.csv", EMAIL_MAP))
    assert [(r.time.text, r.time.instant, r.time.precision) for r in records] == [
        ("1710281703000", utc(2024, 3, 12, 22, 15, 3), "subsecond"),
        ("1710368100500", datetime(2024, 3, 13, 22, 15, 0, 500000, tzinfo=UTC), "subsecond"),
    ]


def test_email_ids_are_lower_cased_and_the_constant_channel_makes_emails() -> None:
    records = events(parse("email_log.csv", EMAIL_MAP))
    assert [(r.kind, r.channel, r.sender, r.sender_id, r.recipients, r.subject)
            for r in records] == [
        ("email", "email", "Alex", "alex@example.org",
         ("jane@example.org", "police@example.org"), "You again"),
        ("email", "email", "Alex", "alex@example.org", ("jane@example.org",), None),
    ]


def test_epoch_seconds_are_second_precision() -> None:
    data = b"t,msg\n1710281700,hello\n"
    records = events(parse_all(PARSER, data, options=ParseOptions(
        column_map=(("time", "t"), ("text", "msg")))))
    assert [(r.time.instant, r.time.precision, r.channel) for r in records] == [
        (utc(2024, 3, 12, 22, 15), "second", "unknown")]


# -- typed local times -------------------------------------------------------------------


def test_typed_dates_without_a_zone_stay_local_wall_clock() -> None:
    items = parse("typed_local.csv", TYPED_MAP)
    records = events(items)
    assert [(r.time.local, r.time.instant, r.time.precision) for r in records] == [
        (datetime(2024, 3, 12, 22, 15), None, "minute"),
        (datetime(2024, 3, 13, 22, 5), None, "minute"),
    ]
    assert [(r.sender, r.sender_id, r.channel, r.conversation, r.participants)
            for r in records] == [
        ("Mum", "+447700900789", "sms", None, ("+447700900789",)),
        ("Unknown", "+447700900123", "sms", None, ("+447700900123",)),
    ]
    assert records[1].text == "I\u2019m outside"


def test_rows_without_a_readable_time_are_listed_not_dropped_silently() -> None:
    items = parse("typed_local.csv", TYPED_MAP)
    message = next(n.message for n in notes(items) if n.code == "rows_without_time")
    assert message == ("1 row(s) have content but no readable time and were not made into "
                       "records: lines 4 ('not a date').")


def test_ambiguous_typed_dates_are_flagged_and_the_officer_order_wins() -> None:
    data = b"When,What\n03/04/2024 10:00,a\n05/05/2024 11:00,b\n"
    mapping = (("time", "When"), ("text", "What"))
    records = events(parse_all(PARSER, data, options=ParseOptions(column_map=mapping)))
    assert [(r.time.local, r.time.flags) for r in records] == [
        (datetime(2024, 4, 3, 10, 0), ("ambiguous_day_month",)),
        (datetime(2024, 5, 5, 11, 0), ())]
    records = events(parse_all(PARSER, data, options=ParseOptions(
        column_map=mapping, date_order="mdy")))
    assert [(r.time.local, r.time.flags) for r in records] == [
        (datetime(2024, 3, 4, 10, 0), ()), (datetime(2024, 5, 5, 11, 0), ())]


def test_a_typed_time_with_an_offset_is_an_instant() -> None:
    data = b"When,What\n12/03/2024 22:15 +01:00,a\n12/03/2024,b\n"
    records = events(parse_all(PARSER, data, options=ParseOptions(
        column_map=(("time", "When"), ("text", "What")))))
    assert [(r.time.instant, r.time.local, r.time.precision) for r in records] == [
        (utc(2024, 3, 12, 21, 15), None, "minute"),
        (None, datetime(2024, 3, 12), "day")]


def test_a_title_above_the_header_row_is_noted_and_skipped() -> None:
    data = b"Export of phone 1,\n\nt,msg\n1710281700,hello\n"
    items = parse_all(PARSER, data, options=ParseOptions(
        column_map=(("time", "t"), ("text", "msg"))))
    assert [(r.locator.line, r.text) for r in events(items)] == [(4, "hello")]
    assert notes(items)[0].message == (
        "1 row(s) above the header row were not read as records: line 1: 'Export of phone 1'")


def test_headers_match_ignoring_case_and_spacing() -> None:
    records = events(parse("phone_export.csv", (("time", "date  sent"), ("text", "MESSAGE"))))
    assert len(records) == 4 and records[0].text == "Are you home?"


# -- mapping and file errors -------------------------------------------------------------


def test_a_missing_mapped_column_names_it_and_the_headers_present() -> None:
    with pytest.raises(DamagedInput) as raised:
        parse("phone_export.csv", (("time", "Date Sent"), ("text", "Body"),
                                   ("sender", "Sender")))
    assert str(raised.value) == (
        "phone_export.csv: mapped column(s) not in the header row: text='Body', "
        "sender='Sender'; headers present: 'Date Sent', 'From', 'To', 'Message', "
        "'Direction', 'Service', 'Status'")


@pytest.mark.parametrize(("mapping", "message"), [
    ((("time", "Date Sent"),), "must name the text column"),
    ((("text", "Message"),), "must name the time column"),
    ((("time", "Date Sent"), ("text", "Message"), ("colour", "x")), "unknown field 'colour'"),
    ((("time", "Date Sent"), ("time", "From"), ("text", "Message")), "mapped twice"),
])
def test_an_unusable_mapping_is_a_parser_error(mapping: tuple, message: str) -> None:
    with pytest.raises(ColumnMapError, match=message):
        parse("phone_export.csv", mapping)


def test_short_and_long_rows_are_kept_with_defects() -> None:
    data = b"t,msg,x\n1710281700,short\n1710281760,long,x,extra\n"
    records = events(parse_all(PARSER, data, options=ParseOptions(
        column_map=(("time", "t"), ("text", "msg")))))
    assert [(r.text, r.defects) for r in records] == [
        ("short", ("short_row",)), ("long", ("cells_beyond_header",))]
    assert records[1].extra == {"other:x": "x", "other:column 4": "extra"}


def test_a_truncated_file_keeps_the_records_then_reports_damage() -> None:
    data = b't,msg\n1710281700,first\n1710281760,"second cut sh'
    kept: list = []
    with pytest.raises(DamagedInput, match="cut short"):
        for item in PARSER.parse(source_of(data), ParseOptions(
                column_map=(("time", "t"), ("text", "msg")))):
            kept.append(item)
    assert [(r.text, r.defects) for r in events(kept)] == [
        ("first", ()), ("second cut sh", ("truncated",))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=400))
def test_no_input_raises_anything_but_a_parser_error(body: bytes) -> None:
    options = ParseOptions(column_map=(("time", "t"), ("text", "msg"), ("sender", "s")))
    for data in (body, b"t,msg,s\n" + body):
        with contextlib.suppress(ParserError):
            parse_all(PARSER, data, options=options)
