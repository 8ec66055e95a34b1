"""The incident diary as CSV: detection, column synonyms, dates and times as typed, provenance.

Fixtures are written by tests/fixtures/diary/make_fixtures.py (exact encodings
and line ends); each test names the behaviour it checks.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import diary_csv
from parsers.base import ParseOptions
from parsers.diary_common import match_diary_header, read_time, resolve_date, split_date
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, EventRecord
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of, source_of

PARSER = diary_csv.PARSER
DIARY = FIXTURES / "diary"
DIARY_CSVS = ("paladin_template.csv", "own_headers.csv", "semicolon.csv", "cp1252.csv",
              "no_time_column.csv", "ambiguous_dates.csv", "month_first.csv", "bad_rows.csv",
              "unicode_text.txt", "truncated.csv")


def data_of(name: str) -> bytes:
    return (DIARY / name).read_bytes()


def parse(name: str, options: ParseOptions | None = None,
          siblings: dict[str, str] | None = None) -> list:
    return parse_all(PARSER, data_of(name), name, options, siblings)


def note_codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


def note(items: list, code: str) -> str:
    return next(n.message for n in notes(items) if n.code == code)


def locals_of(records: list[EventRecord]) -> list[datetime | None]:
    return [r.time.local for r in records]


# -- identity and detection -----------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.format, PARSER.version) == ("diary_csv", "diary_csv", "1.0.0")


@pytest.mark.parametrize("name", DIARY_CSVS)
def test_detects_every_diary_layout(name: str) -> None:
    assert PARSER.detect(probe_of(data_of(name), name))


def test_detection_works_on_the_probe_head_of_a_large_diary() -> None:
    body = b"".join(b"%d/03/2024,22:15,Home,He was outside again\n" % (d % 28 + 1)
                    for d in range(5000))
    probe = probe_of(b"Date,Time,Location,What happened\n" + body)
    assert len(probe.head) == 64 * 1024
    assert PARSER.detect(probe)


@pytest.mark.parametrize("name", ["not_bank_statement.csv", "not_calendar_export.csv",
                                  "not_dated_notes.csv", "date_cells.xlsx", "not_xlsx.zip"])
def test_does_not_claim_other_tables(name: str) -> None:
    assert not PARSER.detect(probe_of(data_of(name), name))


@pytest.mark.parametrize("path", sorted(
    p.relative_to(FIXTURES).as_posix()
    for folder in ("whatsapp", "email", "generic_csv")
    for p in (FIXTURES / folder).iterdir() if p.suffix != ".py"))
def test_does_not_claim_other_formats_fixtures(path: str) -> None:
    assert not PARSER.detect(probe_of((FIXTURES / path).read_bytes(), path))


@pytest.mark.parametrize("data", [
    b"",
    b"Date: Tue, 12 Mar 2024 22:15:00 +0000\nFrom: a@example.org\nSubject: What happened\n\n",
    b'{"date": "12/03/2024", "what happened": "x", "location": "home"}',
    b"<table><tr><th>Date</th><th>What happened</th></tr></table>",
    b"Date,Time,From,To,Message\n12/03/2024,22:15,Alex,Jane,hi\n",
    b"Date,What happened,Amount\n12/03/2024,x,1.00\n",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
], ids=["empty", "eml", "json", "html", "message-log", "amount-column", "png"])
def test_does_not_claim_other_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_detection_never_raises(data: bytes) -> None:
    for head in (data, b"Date,What happened\n" + data, b"\xff\xfe" + data):
        PARSER.detect(probe_of(head))


# -- header matching ------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "fields"), [
    (["Date", "Time", "Location", "Description", "Witnesses"],
     {"date": 0, "time": 1, "location": 2, "description": 3, "witnesses": 4}),
    (["DATE OF INCIDENT", "time of incident", "Address", "Details of incident"],
     {"date": 0, "time": 1, "location": 2, "description": 3}),
    (["When?", "What happened?"], {"date": 0, "description": 1}),
    (["Date (dd/mm/yyyy)", "Time (hh:mm)", "Where", "Incident"],
     {"date": 0, "time": 1, "location": 2, "description": 3}),
    # An exact "Date" beats "Date reported"; "What happened" beats a generic "Notes".
    (["Date reported", "Date", "Notes", "What happened", "Crime ref"],
     {"date": 1, "description": 3, "reported_to": 4}),
])
def test_headers_are_matched_loosely_with_synonyms(headers: list[str],
                                                   fields: dict[str, int]) -> None:
    columns = match_diary_header(headers)
    assert columns is not None
    assert dict(columns.fields) == fields


@pytest.mark.parametrize("headers", [
    ["Date", "Description"],                       # a bank statement has these too
    ["Date", "Description", "Amount", "Balance"],
    ["Time", "What happened"],                     # no date column
    ["Date", "Location", "Witnesses"],             # no description column
    ["Date: Tue", "What happened"],                # an e-mail header line cut at a comma
])
def test_a_row_without_the_diary_columns_is_not_a_header(headers: list[str]) -> None:
    assert match_diary_header(headers) is None


# -- dates and times as typed ---------------------------------------------------------


@pytest.mark.parametrize(("text", "clock", "flags"), [
    ("22:15", time(22, 15), ()),
    ("22.15", time(22, 15), ()),
    ("10.15pm", time(22, 15), ()),
    ("10:15 pm", time(22, 15), ()),
    ("10:15\u202fp.m.", time(22, 15), ()),
    ("12am", time(0, 0), ()),
    ("2215hrs", time(22, 15), ()),
    ("midnight", time(0, 0), ()),
    ("about 10pm", time(22, 0), ("approximate_time",)),
    ("approx. 22:15", time(22, 15), ("approximate_time",)),
    ("at around 9.30pm", time(21, 30), ("approximate_time",)),
    ("22:15?", time(22, 15), ("approximate_time",)),
    ("21:00-23:00", time(21, 0), ("time_range",)),
    ("9-11pm", time(21, 0), ("time_range",)),
])
def test_times_as_people_type_them(text: str, clock: time, flags: tuple[str, ...]) -> None:
    found = read_time(text)
    assert found is not None
    assert (found.clock, found.precision, found.flags) == (clock, "minute", flags)


def test_seconds_are_kept_when_written_and_never_invented() -> None:
    found = read_time("22:15:07")
    assert found is not None and (found.clock, found.precision) == (time(22, 15, 7), "second")


@pytest.mark.parametrize("text", ["evening", "10", "about 10", "13pm", "24:00", "22:61", ""])
def test_what_is_not_a_time_of_day(text: str) -> None:
    assert read_time(text) is None


@pytest.mark.parametrize(("text", "day", "rest"), [
    ("12/03/2024", (2024, 3, 12), ""),
    ("3/4/24", (2024, 4, 3), ""),
    ("12.03.2024 22:15", (2024, 3, 12), "22:15"),
    ("2024-03-12T22:15:00", (2024, 3, 12), "22:15:00"),
    ("12 March 2024", (2024, 3, 12), ""),
    ("12th Mar 2024", (2024, 3, 12), ""),
    ("Tuesday 12th March 2024, about 10pm", (2024, 3, 12), "about 10pm"),
    ("March 12, 2024", (2024, 3, 12), ""),
    ("12-Mar-24", (2024, 3, 12), ""),
])
def test_dates_as_people_type_them_read_day_first(text: str, day: tuple[int, int, int],
                                                   rest: str) -> None:
    parts, left = split_date(text)
    assert parts is not None
    found = resolve_date(parts, "dmy")
    assert found is not None and (found.year, found.month, found.day) == day
    assert left == rest


@pytest.mark.parametrize("text", ["12 March", "sometime in March", "31/02/2024", "12/13/2024"])
def test_dates_that_name_no_real_day_are_not_read(text: str) -> None:
    parts, _ = split_date(text)
    assert parts is None or resolve_date(parts, "dmy") is None


def test_a_two_digit_leading_year_is_read_when_the_officer_says_ymd() -> None:
    parts, _ = split_date("24/03/12")
    assert parts is not None
    assert resolve_date(parts, "ymd") == datetime(2024, 3, 12).date()
    assert resolve_date(parts, "dmy") == datetime(2012, 3, 24).date()


# -- the Paladin-style template ---------------------------------------------------------


def test_template_records_are_incidents_reported_by_the_victim() -> None:
    records = events(parse("paladin_template.csv"))
    assert len(records) == 3
    assert all(r.kind == "incident" and r.channel == "diary" and r.time_basis == "reported"
               for r in records)
    assert all(r.sender is None and r.sender_id is None and r.direction == "unknown"
               for r in records)
    assert all(r.conversation is None and r.participants == () for r in records)


def test_template_times_are_local_wall_clock_with_the_precision_written() -> None:
    records = events(parse("paladin_template.csv"))
    assert locals_of(records) == [datetime(2024, 3, 12, 22, 15), datetime(2024, 3, 15, 7, 40),
                                  datetime(2024, 3, 16)]
    assert [(r.time.text, r.time.precision, r.time.flags, r.time.instant) for r in records] == [
        ("12/03/2024 22:15", "minute", (), None),
        ("15/03/2024 07:40", "minute", (), None),
        ("16/03/2024", "day", ("day_precision",), None),
    ]


def test_template_text_keeps_line_breaks_and_quotes_exactly() -> None:
    records = events(parse("paladin_template.csv"))
    assert [r.text for r in records] == [
        "He was standing across the road watching my window.\n"
        "When I opened the curtains he waved.",
        "He got on the same bus and sat behind me.",
        'A bunch of white roses on the doorstep with a card: "Always watching"',
    ]


def test_template_columns_go_to_extra_with_the_raw_cells() -> None:
    first = events(parse("paladin_template.csv"))[0]
    assert first.extra == {
        "location": "Outside my flat (14 Elm Road)",
        "witnesses": "Neighbour at no. 16",
        "reported_to": "Police 101 - ref CAD 1234 12/03/24",
        "evidence": "IMG_0412.jpg; IMG_0413.jpg",
        "feelings": "Terrified",
        "date_raw": "12/03/2024",
        "time_raw": "22:15",
    }


def test_template_locators_give_the_physical_lines_of_each_row() -> None:
    records = events(parse("paladin_template.csv"))
    assert [(r.locator.line, r.locator.line_end) for r in records] == [(5, 6), (7, 7), (8, 8)]


def test_evidence_file_names_become_attachments_linked_when_delivered() -> None:
    records = events(parse("paladin_template.csv", siblings={"IMG_0412.jpg": "a" * 64}))
    assert records[0].attachments == (AttachmentRef("IMG_0412.jpg", "a" * 64),
                                      AttachmentRef("IMG_0413.jpg", None))
    assert records[2].attachments == (AttachmentRef("roses.heic", None),)


def test_template_notes_say_what_was_not_made_into_records() -> None:
    items = parse("paladin_template.csv")
    assert note_codes(items) == ["bom", "rows_before_header", "diary_columns", "date_order",
                                 "rows_dated_but_empty"]
    assert note(items, "rows_before_header") == (
        "2 row(s) above the header row were not read as records: "
        "line 1: 'Stalking Incident Diary'; line 2: 'Name: Jane Doe'")
    assert "lines 9." in note(items, "rows_dated_but_empty")
    assert "How it made me feel" in note(items, "diary_columns")


# -- a victim's own headers -------------------------------------------------------------


def test_own_headers_with_synonyms_month_names_and_loose_times() -> None:
    items = parse("own_headers.csv")
    records = events(items)
    assert [(r.time.local, r.time.precision, r.time.flags) for r in records] == [
        (datetime(2024, 3, 12, 22, 15), "minute", ()),
        (datetime(2024, 3, 13, 22, 0), "minute", ("approximate_time",)),
        (datetime(2024, 3, 14, 21, 0), "minute", ("time_range",)),
        (datetime(2024, 3, 18, 0, 0), "minute", ()),
    ]
    assert [r.time.text for r in records] == [
        "Tuesday 12th March 2024 10.15pm", "13 Mar 2024 about 10pm", "14th March 2024 9-11pm",
        "March 18, 2024 midnight"]
    # Month names leave no day/month doubt, so there is no order note at all.
    assert note_codes(items) == ["diary_columns"]


def test_unmatched_columns_are_kept_under_their_own_header() -> None:
    records = events(parse("own_headers.csv"))
    assert records[0].extra == {
        "location": "Tesco car park", "witnesses": "My sister", "category": "Following",
        "date_raw": "Tuesday 12th March 2024", "time_raw": "10.15pm",
        "other:Car reg": "AB12 CDE",
    }
    assert records[1].extra["other:Notes"] == "Security guard has CCTV"
    assert records[1].text == "Waiting by the gate when I left"


# -- delimiters and encodings -------------------------------------------------------------


def test_semicolon_delimited_file_with_dotted_dates_and_commas_in_text() -> None:
    records = events(parse("semicolon.csv"))
    assert locals_of(records) == [datetime(2024, 3, 12, 22, 15), datetime(2024, 3, 13, 8, 5)]
    assert records[0].text == 'He rang 14 times in a row, then texted "pick up"'
    assert records[1].extra["witnesses"] == "Colleague (Priya)"


def test_windows_1252_file_is_read_with_a_note_and_exact_characters() -> None:
    items = parse("cp1252.csv")
    records = events(items)
    assert note_codes(items)[0] == "encoding_cp1252"
    assert records[0].text == "He left a £20 note and a letter on my table"
    assert records[0].extra["location"] == "Café Nero"
    assert records[1].text == 'Card through the door: "Je t\u2019aime"'


def test_excel_unicode_text_is_utf16_and_tab_separated() -> None:
    items = parse("unicode_text.txt")
    records = events(items)
    assert note_codes(items)[0] == "encoding_utf16"
    assert [(r.time.local, r.text) for r in records] == [
        (datetime(2024, 3, 22, 21, 45), "He sent a taxi to my address that I did not order")]


def test_bytes_undefined_in_windows_1252_are_replaced_and_counted() -> None:
    data = "Date,What happened\n12/03/2024,Caf\u00e9 \x81 sign\n".encode("latin-1")
    items = parse_all(PARSER, data)
    assert note_codes(items)[:2] == ["encoding_cp1252", "undecodable_bytes"]
    assert events(items)[0].text == "Café \ufffd sign"


# -- no time, day/month order --------------------------------------------------------------


def test_no_time_column_gives_day_precision_not_midnight() -> None:
    records = events(parse("no_time_column.csv"))
    assert [(r.time.local, r.time.precision) for r in records] == [
        (datetime(2024, 4, 1), "day"), (datetime(2024, 4, 2), "day")]
    assert all("day_precision" in r.time.flags for r in records)


def test_ambiguous_file_is_read_day_first_and_flags_the_swappable_dates() -> None:
    items = parse("ambiguous_dates.csv")
    records = events(items)
    assert locals_of(records) == [datetime(2024, 4, 3, 21, 0), datetime(2024, 4, 5, 22, 30),
                                  datetime(2024, 5, 5, 20, 0)]
    # 05/05 reads the same either way round, so it is not flagged.
    assert [r.time.flags for r in records] == [("ambiguous_day_month",),
                                               ("ambiguous_day_month",), ()]
    assert note_codes(items) == ["diary_columns", "date_order", "ambiguous_day_month"]
    assert "2 date(s)" in note(items, "ambiguous_day_month")


def test_officer_given_order_overrides_and_clears_the_ambiguity() -> None:
    items = parse("ambiguous_dates.csv", ParseOptions(date_order="mdy"))
    records = events(items)
    assert locals_of(records) == [datetime(2024, 3, 4, 21, 0), datetime(2024, 5, 4, 22, 30),
                                  datetime(2024, 5, 5, 20, 0)]
    assert all(r.time.flags == () for r in records)
    assert note_codes(items) == ["diary_columns", "date_order_set_by_officer"]


def test_a_file_that_shows_month_first_is_read_month_first() -> None:
    items = parse("month_first.csv")
    records = events(items)
    assert locals_of(records) == [datetime(2024, 3, 15, 21, 30), datetime(2024, 4, 2, 22, 0)]
    assert all(r.time.flags == () for r in records)
    assert "Dates read as mdy" in note(items, "date_order")
    assert "'03/15/2024' on line 2" in note(items, "date_order")


# -- bad rows and damage ------------------------------------------------------------------


def test_bad_rows_are_kept_with_defects_or_listed_never_dropped_silently() -> None:
    items = parse("bad_rows.csv")
    records = events(items)
    assert [(r.locator.line, r.text, r.time.precision, r.defects) for r in records] == [
        (2, "Good row", "minute", ()),
        (7, "Unreadable time", "day", ("unreadable_time",)),
        (8, None, "minute", ("no_description",)),
        (10, "Too many cells", "minute", ("cells_beyond_header",)),
    ]
    assert records[1].extra["time_raw"] == "evening"
    assert records[3].extra["other:column 5"] == "extra one"
    assert note(items, "rows_without_date").startswith("3 row(s)")
    assert "lines 3 ('not sure'), 5, 6 ('31/02/2024')." in note(items, "rows_without_date")
    assert "lines 9." in note(items, "rows_dated_but_empty")


def test_truncated_file_keeps_the_records_before_the_cut_then_reports_damage() -> None:
    source_items: list = []
    with pytest.raises(DamagedInput, match="ends inside a quoted cell begun on line 3"):
        for item in PARSER.parse(source_of(data_of("truncated.csv"), "truncated.csv"),
                                 ParseOptions()):
            source_items.append(item)
    records = events(source_items)
    assert [(r.text, r.defects) for r in records] == [
        ("He knocked for ten minutes", ()),
        ("He stood at the door and said that if I", ("truncated",)),
    ]


def test_a_file_claimed_but_without_a_header_is_damaged() -> None:
    with pytest.raises(DamagedInput, match="no diary header row"):
        parse_all(PARSER, b"just,some\ncells,here\n")


def test_a_quote_inside_an_unquoted_cell_is_not_a_truncation() -> None:
    data = b'Date,What happened\n12/03/2024,He is 6" tall'
    records = events(parse_all(PARSER, data))
    assert [(r.text, r.defects) for r in records] == [('He is 6" tall', ())]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=400), text=st.text(max_size=200))
def test_no_input_raises_anything_but_a_parser_error(body: bytes, text: str) -> None:
    for data in (b"Date,Time,What happened\n" + body,
                 ("Date;Time;What happened\n" + text).encode("utf-8", "surrogatepass")):
        with contextlib.suppress(ParserError):
            parse_all(PARSER, data)
