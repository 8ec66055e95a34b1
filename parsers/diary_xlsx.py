"""The victim's incident diary kept as an Excel workbook (.xlsx).

The same logs as parsers.diary_csv, saved from Excel, LibreOffice or Google
Sheets. Dates are usually real date cells (no day/month ambiguity), but typed
text dates and times are read like the CSV ones. Every sheet whose header row
is a diary's is read, in workbook order (victims often keep a sheet a month);
other sheets are named in a note.

openpyxl reads the workbook in read-only mode (rows streamed from the sheet XML,
defusedxml guarding the parser); whatever it raises on a malformed workbook
becomes DamagedInput.
"""

from __future__ import annotations

import html
import re
import shutil
import struct
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import IO, Any, TypeGuard

import openpyxl
from openpyxl.utils.datetime import from_excel

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.diary_common import (
    HEADER_SEARCH_ROWS,
    Cell,
    DiaryColumns,
    DiaryRow,
    DiaryTable,
    Preamble,
    diary_items,
    find_diary_header,
    strings_look_like_diary,
)
from parsers.errors import DamagedInput
from parsers.records import FileNote, ParsedItem

_ZIP_LOCAL = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
# Members whose text holds cell strings: shared strings (Excel, LibreOffice) and
# sheets with inline strings (openpyxl and some generators).
_STRING_MEMBERS = re.compile(r"xl/(?:sharedStrings\.xml|worksheets/sheet\d+\.xml)\Z")
_CELL_TEXT = re.compile(rb"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t>")
_MAX_INFLATED = 1 << 20
# Excel serial days from 1 Jan 1990 to 31 Dec 2100: a number in a date column in
# this range is a date cell whose format was lost; outside it, it is not a date.
_SERIAL_RANGE = (32874, 73415)


def _cell_strings_in_head(head: bytes) -> list[str] | None:
    """Cell strings from the workbook members that lie within the probe, or None.

    Only the probe's bytes are available, so the ZIP's local headers are walked
    and each string member is inflated as far as the probe goes.
    """
    strings: list[str] | None = None
    budget = _MAX_INFLATED  # for all members together: detection must stay cheap
    pos = head.find(_ZIP_LOCAL)
    while pos != -1 and pos + _LOCAL_HEADER.size <= len(head) and budget > 0:
        fields = _LOCAL_HEADER.unpack_from(head, pos)
        method, compressed, name_len, extra_len = fields[3], fields[7], fields[9], fields[10]
        start = pos + _LOCAL_HEADER.size + name_len + extra_len
        name = head[pos + _LOCAL_HEADER.size: pos + _LOCAL_HEADER.size + name_len]
        if _STRING_MEMBERS.match(name.decode("cp437")):
            body = head[start: start + compressed] if compressed else head[start:]
            xml = _inflated(body, method, budget)
            budget -= len(xml)
            strings = (strings or []) + _texts(xml)
        # Sizes can be zero here (data descriptor); then scan on for the next header.
        pos = head.find(_ZIP_LOCAL, start + compressed if compressed else start)
    return strings


def _inflated(body: bytes, method: int, limit: int) -> bytes:
    if method == 0:
        return body[:limit]
    if method != 8:
        return b""
    inflater = zlib.decompressobj(-15)
    try:
        return inflater.decompress(body, limit)
    except zlib.error:
        return b""  # cut mid-block or not deflate: no strings from this member


def _texts(xml: bytes) -> list[str]:
    return [html.unescape(m.decode("utf-8", "replace")) for m in _CELL_TEXT.findall(xml)]


class DiaryXlsxParser:
    name = "diary_xlsx"
    version = "1.0.0"
    format = "diary_xlsx"

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        if not head.startswith(_ZIP_LOCAL) or not probe.name.casefold().endswith(".xlsx"):
            return False
        if b"xl/" not in head and b"[Content_Types].xml" not in head:
            return False
        strings = _cell_strings_in_head(head)
        # A large workbook keeps its strings beyond the probe: then the name and
        # the workbook members are all there is to go on.
        return True if strings is None else strings_look_like_diary(strings)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        with ExitStack() as stack:
            workbook = _open_workbook(source, stack)
            tables, notes = _diary_sheets(source, workbook)
            yield from notes
            yield from diary_items(tables, options, source.siblings)


def _open_workbook(source: SourceFile, stack: ExitStack) -> Any:
    fh: IO[bytes] = stack.enter_context(source.open())
    if not fh.seekable():
        # openpyxl needs to seek in the ZIP; spool to disk beyond a few MB.
        spool = stack.enter_context(tempfile.SpooledTemporaryFile(8 << 20))  # noqa: SIM115 - the ExitStack closes it
        shutil.copyfileobj(fh, spool)
        spool.seek(0)
        fh = spool
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it skips (styles, validation,
            # extensions); none touches cell values, and stderr is no place for them.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) on bad input
        raise DamagedInput(f"{source.name}: not a readable .xlsx workbook: {exc}") from exc
    stack.callback(workbook.close)
    return workbook


def _sheet_ref(title: str) -> str:
    """The sheet as Excel writes it in a reference: quoted unless a plain word."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _diary_sheets(source: SourceFile, workbook: Any) -> tuple[list[DiaryTable], list[FileNote]]:
    tables: list[DiaryTable] = []
    notes: list[FileNote] = []
    skipped: list[str] = []
    for sheet in workbook.worksheets:
        try:
            # Some writers record a wrong used range; read-only mode would trust it.
            sheet.reset_dimensions()
            top = [list(r) for r in sheet.iter_rows(max_row=HEADER_SEARCH_ROWS,
                                                    values_only=True)]
        except Exception as exc:  # as in _open_workbook
            raise DamagedInput(f"{source.name}: sheet {sheet.title!r} unreadable: {exc}"
                               ) from exc
        found = find_diary_header(top)
        if found is None:
            skipped.append(sheet.title)
            continue
        header_index, columns = found
        preamble = Preamble(unit="row")
        for number, cells in enumerate(top[:header_index], 1):
            preamble.add(number, cells)
        if (note := preamble.note()) is not None:
            notes.append(FileNote(note.code, f"Sheet {sheet.title!r}: {note.message}"))
        tables.append(_table(source, workbook, sheet, header_index + 1, columns))
    if not tables:
        raise DamagedInput(f"{source.name}: no sheet has a diary header row (a date and a "
                           f"description column) in its first {HEADER_SEARCH_ROWS} rows")
    if skipped:
        notes.append(FileNote("sheets_not_read", "Sheets without a diary header row, not "
                              f"read: {', '.join(map(repr, skipped))}."))
    return tables, notes


def _table(source: SourceFile, workbook: Any, sheet: Any, header_row: int,
           columns: DiaryColumns) -> DiaryTable:
    ref = _sheet_ref(sheet.title)
    label = f"Sheet {sheet.title!r} (header on row {header_row}): "

    def rows() -> Iterator[DiaryRow]:
        first = header_row + 1
        try:
            for number, values in enumerate(sheet.iter_rows(min_row=first, values_only=True),
                                            first):
                cells: list[Cell] = list(values)
                raw: dict[int, str] = {}
                flags = _serial_numbers(cells, raw, columns, workbook.epoch)
                yield DiaryRow(number, cells, json_path=f"{ref}!A{number}", flags=flags,
                               raw=raw)
        except Exception as exc:  # as in _open_workbook
            raise DamagedInput(f"{source.name}: sheet {sheet.title!r} unreadable after row "
                               f"{header_row}: {exc}") from exc

    return DiaryTable(columns, rows, where=f"sheet {sheet.title!r} rows",
                      unit=f"sheet {sheet.title!r} row", label=label)


def _serial_numbers(cells: list[Cell], raw: dict[int, str], columns: DiaryColumns,
                    epoch: datetime) -> tuple[str, ...]:
    """Turn date and time numbers whose cell format was lost back into dates and times.

    The numbers as stored go into ``raw``, so the record still shows what the cell held.
    """
    flags: tuple[str, ...] = ()
    date_at, time_at = columns.fields["date"], columns.fields.get("time")
    if (date_at < len(cells) and _is_number(value := cells[date_at])
            and _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]):
        raw[date_at] = str(value)
        cells[date_at] = from_excel(value, epoch)
        flags += ("excel_serial_date",)
    if (time_at is not None and time_at < len(cells) and _is_number(value := cells[time_at])
            and 0 <= value < 1):
        raw[time_at] = str(value)
        cells[time_at] = from_excel(value, epoch)
        flags += ("excel_serial_time",)
    return flags


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


PARSER = DiaryXlsxParser()
