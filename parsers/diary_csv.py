"""The victim's incident diary kept as CSV (Suzy Lamplugh Trust / Paladin style logs).

Victims are advised to log every incident, offline ones included (following,
loitering, gifts, damage, turning up). The file is whatever their spreadsheet
program saved: comma, semicolon or tab separated, UTF-8 or Windows-1252, a
title row or two above the header, descriptions running over several lines.
Columns are found by loose names (parsers.diary_common); the file is read
three times, streaming: encoding, day/month order, records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.diary_common import (
    DELIMITERS,
    HEADER_SEARCH_ROWS,
    DiaryColumns,
    DiaryRow,
    DiaryTable,
    Preamble,
    TextEncoding,
    choose_encoding,
    decode_head,
    diary_items,
    find_diary_header,
    head_rows,
    read_csv_rows,
)
from parsers.errors import DamagedInput
from parsers.records import ParsedItem

# What other formats start with: JSON, XML/HTML, mbox, ZIP containers.
_OTHER_OPENINGS = ("{", "[", "<", "From ")


@dataclass(frozen=True, slots=True)
class _Layout:
    delimiter: str
    header_index: int  # rows (blank ones included) above the header row
    columns: DiaryColumns
    preamble: Preamble


def _best_header(rows_by_delimiter: dict[str, list[list[str]]]
                 ) -> tuple[str, int, DiaryColumns] | None:
    """The delimiter whose reading gives a diary header with the most known columns."""
    best: tuple[str, int, DiaryColumns] | None = None
    for delimiter, rows in rows_by_delimiter.items():
        found = find_diary_header(rows)
        if found is not None and (best is None or len(found[1].fields) > len(best[2].fields)):
            best = (delimiter, *found)
    return best


class DiaryCsvParser:
    name = "diary_csv"
    version = "1.0.0"
    format = "diary_csv"

    def detect(self, probe: Probe) -> bool:
        if probe.head.startswith(b"PK\x03\x04"):
            return False
        text = decode_head(probe.head)
        if text is None or text.lstrip().startswith(_OTHER_OPENINGS):
            return False
        return _best_header({d: head_rows(text, d) for d in DELIMITERS}) is not None

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        encoding = choose_encoding(source)
        layout = _layout(source, encoding)
        yield from encoding.notes
        if (note := layout.preamble.note()) is not None:
            yield note
        cut: list[int] = []
        table = DiaryTable(layout.columns, lambda: _rows(source, encoding, layout, cut))
        yield from diary_items([table], options, source.siblings)
        if cut:
            # Records up to the cut, the partial one included, are kept; the file is damaged.
            raise DamagedInput(f"{source.name}: the file ends inside a quoted cell begun on "
                               f"line {cut[-1]}: it was cut short")


def _first_rows(source: SourceFile, encoding: TextEncoding, delimiter: str) -> list[list[str]]:
    try:
        return [row.cells for row in islice(read_csv_rows(source, encoding, delimiter),
                                            HEADER_SEARCH_ROWS)]
    except DamagedInput:
        return []


def _layout(source: SourceFile, encoding: TextEncoding) -> _Layout:
    found = _best_header({d: _first_rows(source, encoding, d) for d in DELIMITERS})
    if found is None:
        raise DamagedInput(f"{source.name}: no diary header row (a date and a description "
                           f"column) in the first {HEADER_SEARCH_ROWS} rows")
    delimiter, header_index, columns = found
    preamble = Preamble()
    for row in islice(read_csv_rows(source, encoding, delimiter), header_index):
        preamble.add(row.line, row.cells)
    return _Layout(delimiter, header_index, columns, preamble)


def _rows(source: SourceFile, encoding: TextEncoding, layout: _Layout, cut: list[int]
          ) -> Iterator[DiaryRow]:
    """The rows below the header; the line of a row the file ends inside goes into cut."""
    rows = read_csv_rows(source, encoding, layout.delimiter)
    for row in islice(rows, layout.header_index + 1, None):
        defects: tuple[str, ...] = ()
        if row.truncated:
            cut.append(row.line)
            defects = ("truncated",)
        yield DiaryRow(row.line, row.cells, line_end=row.line_end, defects=defects)


PARSER = DiaryCsvParser()
