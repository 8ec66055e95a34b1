"""The incident diary as an Excel workbook: detection from the ZIP head, date cells, sheets.

Workbooks are written by tests/fixtures/diary/make_fixtures.py (openpyxl, and
one laid out by hand the way Excel writes it, with a shared-strings table).
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import diary_xlsx
from parsers.base import ParseOptions
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, EventRecord
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

PARSER = diary_xlsx.PARSER
DIARY = FIXTURES / "diary"
WORKBOOKS = ("date_cells.xlsx", "text_dates.xlsx", "excel_style.xlsx")


def data_of(name: str) -> bytes:
    return (DIARY / name).read_bytes()


def parse(name: str, options: ParseOptions | None = None,
          siblings: dict[str, str] | None = None) -> list:
    return parse_all(PARSER, data_of(name), name, options, siblings)


def note_codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


def note(items: list, code: str) -> str:
    return next(n.message for n in notes(items) if n.code == code)


def summary(records: list[EventRecord]) -> list[tuple]:
    return [(r.locator.json_path, r.locator.line, r.time.local, r.time.precision, r.text)
            for r in records]


# -- identity and detection -----------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.format, PARSER.version) == ("diary_xlsx", "diary_xlsx", "1.0.0")


@pytest.mark.parametrize("name", WORKBOOKS)
def test_detects_diary_workbooks_from_the_strings_in_the_probe(name: str) -> None:
    data = data_of(name)
    assert diary_xlsx._cell_strings_in_head(data) is not None  # decided on content
    assert PARSER.detect(probe_of(data, name))
    assert PARSER.detect(probe_of(data, name.upper()))


@pytest.mark.parametrize(("name", "as_name"), [
    ("not_bank_statement.xlsx", "statement.xlsx"),   # a workbook, but not a diary
    ("not_xlsx.zip", "not_xlsx.zip"),                # a ZIP of other things
    ("not_xlsx.zip", "renamed.xlsx"),                # ... even when named .xlsx
    ("date_cells.xlsx", "diary.zip"),                # a diary workbook not named .xlsx
    ("paladin_template.csv", "paladin_template.xlsx"),
])
def test_does_not_claim_other_zips_or_files(name: str, as_name: str) -> None:
    assert not PARSER.detect(probe_of(data_of(name), as_name))


@pytest.mark.parametrize("path", sorted(
    p.relative_to(FIXTURES).as_posix()
    for folder in ("whatsapp", "email", "generic_csv")
    for p in (FIXTURES / folder).iterdir() if p.suffix != ".py"))
def test_does_not_claim_other_formats_fixtures(path: str) -> None:
    assert not PARSER.detect(probe_of((FIXTURES / path).read_bytes(), path))


def test_does_not_claim_empty_bytes() -> None:
    assert not PARSER.detect(probe_of(b"", "empty.xlsx"))


def test_message_log_words_in_a_diarys_own_cells_do_not_stop_detection() -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Date", "Type", "What happened"])
    workbook.active.append(["12/03/2024", "Message", "He messaged my sister"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert PARSER.detect(probe_of(buffer.getvalue(), "log.xlsx"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_detection_never_raises(data: bytes) -> None:
    for head in (data, b"PK\x03\x04" + data, data_of("excel_style.xlsx")[:300] + data):
        PARSER.detect(probe_of(head, "x.xlsx"))


def test_a_workbook_whose_strings_lie_beyond_the_probe_is_trusted_on_its_name() -> None:
    # As in a large workbook: the probe ends before the sheets and the strings table.
    data = data_of("excel_style.xlsx")
    head = data[:data.index(b"xl/worksheets/")]
    assert b"[Content_Types].xml" in head and b"xl/" in head
    assert diary_xlsx._cell_strings_in_head(head) is None
    assert PARSER.detect(probe_of(head, "diary.xlsx"))
    assert not PARSER.detect(probe_of(head, "diary.zip"))


# -- real date cells ---------------------------------------------------------------------


def test_date_and_time_cells_are_read_as_local_wall_clock() -> None:
    records = events(parse("date_cells.xlsx"))
    assert summary(records) == [
        ("Log!A4", 4, datetime(2024, 3, 12, 22, 15), "minute", "He was standing across the road"),
        ("Log!A5", 5, datetime(2024, 3, 13, 9, 30), "minute", "Waiting by my car at 9.30"),
        ("Log!A7", 7, datetime(2024, 3, 15, 21, 0), "minute",
         "Date cell that lost its date format"),
        ("Log!A8", 8, datetime(2024, 3, 25, 22, 0), "minute", "Typed text date in a date column"),
        ("'April 2024'!A2", 2, datetime(2024, 4, 2), "day", "Flowers left at work"),
    ]
    assert all(r.kind == "incident" and r.channel == "diary" and r.time_basis == "reported"
               and r.time.instant is None and r.sender is None for r in records)


def test_cells_are_shown_as_stored_in_the_clock_text_and_extra() -> None:
    records = events(parse("date_cells.xlsx"))
    assert [r.time.text for r in records] == [
        "2024-03-12 22:15:00", "2024-03-13 09:30:00", "45366 0.875", "25/03/2024 10pm",
        "2024-04-02"]
    assert records[0].extra == {
        "location": "Outside my flat", "witnesses": "Neighbour", "evidence": "IMG_0412.jpg",
        "date_raw": "2024-03-12", "time_raw": "22:15:00",
    }
    assert (records[2].extra["date_raw"], records[2].extra["time_raw"]) == ("45366", "0.875")


def test_numbers_that_lost_their_date_format_are_converted_and_flagged() -> None:
    records = events(parse("date_cells.xlsx"))
    assert records[2].flags == ("excel_serial_date", "excel_serial_time")
    assert all(r.flags == () for i, r in enumerate(records) if i != 2)


def test_a_bare_date_cell_is_day_precision_not_midnight() -> None:
    april = events(parse("date_cells.xlsx"))[-1]
    assert (april.time.precision, april.time.flags) == ("day", ("day_precision",))


def test_evidence_names_link_to_delivered_files() -> None:
    first = events(parse("date_cells.xlsx", siblings={"IMG_0412.jpg": "c" * 64}))[0]
    assert first.attachments == (AttachmentRef("IMG_0412.jpg", "c" * 64),)


def test_every_diary_sheet_is_read_and_the_others_named() -> None:
    items = parse("date_cells.xlsx")
    assert note_codes(items) == ["rows_before_header", "sheets_not_read", "diary_columns",
                                 "diary_columns", "date_order", "rows_without_date"]
    assert note(items, "sheets_not_read") == (
        "Sheets without a diary header row, not read: 'Contacts'.")
    assert note(items, "rows_before_header") == (
        "Sheet 'Log': 1 row(s) above the header row were not read as records: "
        "row 1: 'My incident log'")
    assert "sheet 'Log' rows 9." in note(items, "rows_without_date")
    assert "'25/03/2024' on sheet 'Log' row 8" in note(items, "date_order")


# -- text dates and Excel's own layout --------------------------------------------------


def test_text_dates_and_times_are_read_like_the_csv_diary() -> None:
    records = events(parse("text_dates.xlsx"))
    assert [(r.locator.json_path, r.time.local, r.time.precision, r.time.flags)
            for r in records] == [
        ("Sheet1!A2", datetime(2024, 3, 12, 22, 15), "minute", ()),
        ("Sheet1!A3", datetime(2024, 3, 13, 21, 0), "minute", ("approximate_time",)),
        ("Sheet1!A4", datetime(2024, 3, 14), "day", ("day_precision",)),
    ]
    assert [r.extra["location"] for r in records] == ["Home", "Park", "Work"]


def test_text_dates_follow_the_officer_order() -> None:
    records = events(parse("text_dates.xlsx", ParseOptions(date_order="mdy")))
    # 13/03 is no date month-first: that row is listed, not misread.
    assert [r.time.local for r in records] == [datetime(2024, 12, 3, 22, 15),
                                               datetime(2024, 3, 14)]


def test_excel_style_workbook_with_shared_strings_and_styled_cells() -> None:
    items = parse("excel_style.xlsx")
    records = events(items)
    assert summary(records) == [
        ("'Incident log'!A2", 2, datetime(2024, 3, 12, 8, 15), "minute",
         "Watched me drop the kids off"),
        ("'Incident log'!A3", 3, datetime(2024, 3, 13), "day",
         "Letter through the door & a photo of my car"),
    ]
    assert records[0].extra["reported_to"] == "AB/12345/24"
    assert note_codes(items) == ["diary_columns"]


# -- damage ------------------------------------------------------------------------------


def test_truncated_workbook_is_damaged_input() -> None:
    with pytest.raises(DamagedInput, match=r"not a readable \.xlsx workbook"):
        parse("truncated.xlsx")


def test_workbook_without_a_diary_sheet_is_damaged_input() -> None:
    with pytest.raises(DamagedInput, match="no sheet has a diary header row"):
        parse("not_bank_statement.xlsx")


def test_a_workbook_with_a_corrupt_sheet_member_is_damaged_input() -> None:
    source = zipfile.ZipFile(io.BytesIO(data_of("text_dates.xlsx")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # XML cut mid-element
            broken.writestr(info, data)
    with pytest.raises(DamagedInput):
        parse_all(PARSER, out.getvalue(), "broken.xlsx")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_corruption_raises_anything_but_a_parser_error(data: st.DataObject) -> None:
    original = bytearray(data_of("date_cells.xlsx"))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParserError):
        parse_all(PARSER, bytes(original), "fuzzed.xlsx")
