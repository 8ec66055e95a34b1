"""Shared by the incident-diary parsers (CSV, XLSX) and the generic message CSV.

Four concerns live here, each in its own section:

* header matching: finding the diary's columns by loose, synonym-based names;
* CSV text: choosing the encoding and delimiter, and reading rows with their
  physical line numbers, streaming;
* dates and times as people type them ("12th Mar 2024", "about 10pm"), with
  day/month order decided once for the whole file;
* diary rows to records, the same for CSV cells and spreadsheet cells.

A diary is what the victim wrote, not a machine log: times stay naive local
wall-clock values (the store applies the case zone), a missing time is a
day-precision record rather than midnight, and nothing typed is dropped
without a note.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice

from parsers.base import DateOrder, ParseOptions, SourceFile
from parsers.errors import DamagedInput
from parsers.records import (
    AttachmentRef,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    Precision,
    WallClock,
)

# =============================================================================
# Header matching
# =============================================================================

#: Header names per diary field, compared after header_key(). The Suzy Lamplugh
#: Trust / Paladin templates and the free-form headers victims type themselves.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "date": ("date", "day", "date of incident", "incident date", "when", "date and time",
             "date time", "datetime", "date of event", "event date", "dated", "date occurred"),
    "time": ("time", "time of incident", "approx time", "approximate time", "time approx",
             "incident time", "what time", "time of event", "times"),
    "location": ("location", "place", "where", "address", "location of incident",
                 "where it happened", "where did it happen", "venue", "place of incident"),
    "description": ("description", "what happened", "details", "incident", "notes",
                    "description of incident", "incident description", "details of incident",
                    "incident details", "description of what happened", "what happened details",
                    "summary", "account", "event", "events", "note"),
    "witnesses": ("witnesses", "witness", "who saw", "witness details", "witnesses if any",
                  "witness names", "anyone else present", "who else was there"),
    "category": ("type", "category", "incident type", "type of incident", "kind",
                 "nature of incident", "type of behaviour", "behaviour"),
    "reported_to": ("reported to", "crime reference", "crime ref", "crime reference number",
                    "crime number", "police reference", "reference number", "ref", "ref no",
                    "reported", "reported to police", "reported to whom", "who reported to",
                    "incident number", "log number", "police log number"),
    "evidence": ("evidence", "photos", "photo", "photos evidence", "evidence photos",
                 "evidence collected", "screenshots", "proof", "evidence gathered"),
    "feelings": ("how it made me feel", "how did it make you feel", "how i felt", "feelings",
                 "feeling", "impact", "effect on me", "how did you feel", "how you felt"),
    "person": ("who", "perpetrator", "suspect", "person", "name of person", "who was involved",
               "who did it", "person involved"),
    "action_taken": ("action taken", "what i did", "what did you do", "action", "response"),
}

#: Description headers that only an incident log would use: a bare "Date,
#: Description" pair is also a bank statement.
DIARY_ONLY_DESCRIPTIONS = frozenset({
    "what happened", "incident", "description of incident", "incident description",
    "details of incident", "incident details", "description of what happened",
    "what happened details",
})

#: Headers of money tables: words no diary cell holds on its own either.
FINANCE_HEADERS = frozenset({
    "amount", "balance", "debit", "credit", "paid in", "paid out", "money in", "money out",
    "transaction", "transaction type", "transaction date", "payee", "currency", "price",
    "quantity", "total", "sort code", "account number",
})
#: Exact headers of other kinds of table (statements, message and call logs): one of
#: them in the header row means the file is not a diary, whatever else matches.
FOREIGN_HEADERS = FINANCE_HEADERS | frozenset({
    "from", "to", "sender", "recipient", "recipients", "message", "messages", "body",
    "subject", "duration", "phone number", "number", "contents", "timestamp", "message id",
    "thread id", "direction",
})

_FIELD_OF: Mapping[str, str] = {syn: f for f, syns in SYNONYMS.items() for syn in syns}
# Longest first, so "date of incident" is tried before "date".
_PREFIXES = sorted(_FIELD_OF, key=len, reverse=True)
_PARENTHESISED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_WORD = re.compile(r"[\W_]+")
# "Date: Tue" is an e-mail header cut at a comma, not a column name.
_LABEL_WITH_VALUE = re.compile(r":\s*\S")
_MAX_HEADER_CHARS = 60
#: How many rows from the top a header row may be preceded by (titles, blanks).
HEADER_SEARCH_ROWS = 20


def header_key(text: str) -> str:
    """Case- and punctuation-insensitive form of a header ("Date (dd/mm)" -> "date")."""
    text = _PARENTHESISED.sub(" ", text.casefold())
    return " ".join(_NON_WORD.sub(" ", text).split())


def _field_of(key: str) -> tuple[str, bool] | None:
    """(field, exact) for a header key; prefix matches ("time he arrived") are not exact."""
    found = _FIELD_OF.get(key)
    if found is not None:
        return found, True
    for prefix in _PREFIXES:
        if key.startswith(prefix + " "):
            return _FIELD_OF[prefix], False
    return None


@dataclass(frozen=True, slots=True)
class DiaryColumns:
    """Where each diary field sits in a row; headers kept as written."""

    fields: Mapping[str, int]
    headers: tuple[str, ...]

    def other_columns(self) -> list[int]:
        """Named columns matched to no field: their cells are kept in extra."""
        taken = set(self.fields.values())
        return [i for i, h in enumerate(self.headers) if h.strip() and i not in taken]

    def describe(self) -> str:
        read = ", ".join(f"{name}={self.headers[i]!r}" for name, i in self.fields.items())
        others = ", ".join(repr(self.headers[i]) for i in self.other_columns())
        return f"Columns read: {read}" + (f"; kept as they are: {others}" if others else "")


def match_diary_header(cells: Sequence[object]) -> DiaryColumns | None:
    """The columns of a diary header row, or None when the row is not one.

    Needs a date-like and a description-like column, plus evidence that this is
    an incident log (a diary-only description header or a third diary column),
    and no column that belongs to another kind of table. When two columns fit a
    field, an exact name beats a prefix ("Date" over "Date reported"), a
    diary-only description beats a generic one ("What happened" over "Notes"),
    then the leftmost wins; the loser is kept as an other column.
    """
    headers = tuple(c.strip() if isinstance(c, str) else "" for c in cells)
    best: dict[str, tuple[tuple[bool, bool, int], int]] = {}
    for index, header in enumerate(headers):
        bare = _PARENTHESISED.sub(" ", header)
        if not header or len(header) > _MAX_HEADER_CHARS or _LABEL_WITH_VALUE.search(bare):
            continue
        key = header_key(header)
        if key in FOREIGN_HEADERS:
            return None
        found = _field_of(key)
        if found is None:
            continue
        name, exact = found
        score = (exact, key in DIARY_ONLY_DESCRIPTIONS, -index)
        if name not in best or score > best[name][0]:
            best[name] = (score, index)
    if "date" not in best or "description" not in best:
        return None
    diary_only = best["description"][0][1]
    if not diary_only and len(best) < 3:
        return None
    fields = {name: index for name, (_, index) in sorted(best.items(), key=lambda i: i[1][1])}
    return DiaryColumns(fields, headers)


def find_diary_header(rows: Iterable[Sequence[object]]) -> tuple[int, DiaryColumns] | None:
    """(index among the rows, columns) of the first diary header in the first rows."""
    for index, row in enumerate(islice(rows, HEADER_SEARCH_ROWS)):
        columns = match_diary_header(row)
        if columns is not None:
            return index, columns
    return None


def strings_look_like_diary(strings: Iterable[str]) -> bool:
    """True when loose cell strings (a workbook's strings, row structure unknown)
    include a diary's date and description headers and no money-table header.

    Message-log words ("Message", "From") are not held against it: without rows
    they may be a diary's own cells (a Type column saying "Message").
    """
    seen: set[str] = set()
    diary_only = False
    for text in strings:
        text = text.strip()
        if not text or len(text) > _MAX_HEADER_CHARS:
            continue
        key = header_key(text)
        if key in FINANCE_HEADERS:
            return False
        found = _FIELD_OF.get(key)
        if found is not None:
            seen.add(found)
            diary_only = diary_only or key in DIARY_ONLY_DESCRIPTIONS
    return {"date", "description"} <= seen and (diary_only or len(seen) >= 3)


# =============================================================================
# CSV text: encoding, delimiter, rows with line numbers
# =============================================================================

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
# Windows-1252 leaves these five bytes undefined.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


@dataclass(frozen=True, slots=True)
class TextEncoding:
    name: str
    errors: str = "strict"
    notes: tuple[FileNote, ...] = ()


def choose_encoding(source: SourceFile) -> TextEncoding:
    """UTF-8 (with or without BOM) or UTF-16 with BOM, else Windows-1252 with a note.

    One streaming pass: spreadsheet programs on Windows still save CSV as
    Windows-1252, so "£" and "é" arrive as single bytes that are not UTF-8.
    """
    with source.open() as fh:
        first = fh.read(_CHUNK)
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return TextEncoding("utf-16", notes=(FileNote(
                "encoding_utf16", "The file is UTF-16 text with a byte order mark "
                "(as Excel's 'Unicode Text' saves it)."),))
        bom = first.startswith(codecs.BOM_UTF8)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            chunk = first
            while chunk:
                decoder.decode(chunk)
                chunk = fh.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            pass
        else:
            if bom:
                return TextEncoding("utf-8-sig", notes=(FileNote(
                    "bom", "The file starts with a UTF-8 byte order mark; it was skipped "
                    "and is not part of any cell."),))
            return TextEncoding("utf-8")
    undefined = _count_cp1252_undefined(source)
    notes = [FileNote("encoding_cp1252", "The file is not valid UTF-8; it was read as "
                      "Windows-1252 (the usual encoding of CSV saved by Excel on Windows).")]
    if undefined:
        notes.append(FileNote("undecodable_bytes", f"{undefined} byte(s) are undefined in "
                              "Windows-1252 and show as U+FFFD in the text."))
        return TextEncoding("cp1252", "replace", tuple(notes))
    return TextEncoding("cp1252", notes=tuple(notes))


def _count_cp1252_undefined(source: SourceFile) -> int:
    count = 0
    with source.open() as fh:
        while chunk := fh.read(_CHUNK):
            count += len(_CP1252_UNDEFINED.findall(chunk))
    return count


def decode_head(head: bytes) -> str | None:
    """The probe's bytes as text for detection, or None when they are not text."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head[: len(head) // 2 * 2].decode("utf-16", "ignore")
    if b"\x00" in head:
        return None
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    try:
        # Not final: a character cut by the end of the probe is not an error.
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return head.decode("cp1252", "replace")


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    line_end: int
    cells: list[str]
    #: The file ends inside this row's quoted cell: it was cut short there.
    truncated: bool = False


class _RowLines:
    """The text lines csv reads, remembering those of the current row.

    Python's csv, when not strict, silently closes a quoted cell left open at
    the end of the file; the raw lines let the last row be checked for that.
    """

    def __init__(self, text: Iterator[str]) -> None:
        self.text = text
        self.current: list[str] = []

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        line = next(self.text)
        self.current.append(line)
        return line


def _ends_inside_quotes(raw: str, delimiter: str) -> bool:
    """Whether a row's text leaves a quoted cell open, as csv's default dialect reads it."""
    inside, at_cell_start, i = False, True, 0
    while i < len(raw):
        char = raw[i]
        if inside:
            if char == '"':
                if raw.startswith('"', i + 1):  # "" is a quote inside the cell
                    i += 1
                else:
                    inside = False
        elif char == '"' and at_cell_start:
            inside = True
        at_cell_start = not inside and char in (delimiter, "\n", "\r")
        i += 1
    return inside


def read_csv_rows(source: SourceFile, encoding: TextEncoding, delimiter: str
                  ) -> Iterator[CsvRow]:
    """Rows with the physical lines they span (quoted cells may hold line breaks).

    Raises DamagedInput at the first row the csv module or the decoder cannot read;
    rows before it have been yielded. A last row that ends inside a quoted cell
    comes with ``truncated`` set.
    """
    with source.open() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding.name, errors=encoding.errors,
                                newline="")
        lines = _RowLines(text)
        reader = csv.reader(lines, delimiter=delimiter)
        last = 0
        while True:
            lines.current.clear()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise DamagedInput(f"{source.name}: unreadable from line {last + 1}: "
                                   f"{exc}") from exc
            end = lines.current[-1] if lines.current else "\n"
            truncated = (not end.endswith(("\n", "\r"))
                         and _ends_inside_quotes("".join(lines.current), delimiter))
            yield CsvRow(last + 1, reader.line_num, cells, truncated)
            last = reader.line_num


def head_rows(text: str, delimiter: str, limit: int = HEADER_SEARCH_ROWS) -> list[list[str]]:
    """The first rows of decoded text (detection); [] when csv cannot read them."""
    try:
        return list(islice(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter),
                           limit))
    except csv.Error:
        return []


def is_blank(cells: Iterable[object]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# =============================================================================
# Dates and times as typed
# =============================================================================

MONTHS: Mapping[str, int] = {
    **{name: i for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)},
    **{name: i for i, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"), 1)},
    "sept": 9,
}
_MIN_YEAR, _MAX_YEAR = 1900, 2100
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
# A year must not be the hour of a following time ("12 March 22:15").
_YEAR_END = r"(?!\d|[:.]\d)"
_NUMERIC_DATE = re.compile(_WEEKDAY + r"(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})(?!\d)", re.I)
_DAY_MONTH = re.compile(_WEEKDAY + r"(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?[\s\-/.]*"
                        r"([a-z]{3,9})\.?,?[\s\-/.]*(\d{4}|\d{2})" + _YEAR_END, re.I)
_MONTH_DAY = re.compile(_WEEKDAY + r"([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
                        + _YEAR_END, re.I)
_DATE_TIME_GLUE = re.compile(r"^(?:[\s,;@]+|t(?=\d)|at\s+)+", re.I)


@dataclass(frozen=True, slots=True)
class DateParts:
    """A typed date before the day/month order is applied.

    ``fixed`` dates (a month name, a leading four-digit year) need no order;
    numeric ones keep their three fields and the digit counts of the outer two.
    """

    first: int
    second: int
    third: int
    first_digits: int
    third_digits: int
    fixed: bool = False

    @property
    def year_last(self) -> bool:
        return not self.fixed and self.first_digits <= 2 and self.third_digits in (2, 4)

    @property
    def swappable(self) -> bool:
        """Reads as two different real days day-first and month-first."""
        return (self.year_last and self.first != self.second
                and self.first <= 12 and self.second <= 12)


@lru_cache(maxsize=4096)  # diaries and logs repeat their dates row after row
def split_date(text: str) -> tuple[DateParts | None, str]:
    """The date at the start of text, and what follows it (maybe a time)."""
    text = text.strip()
    parts: DateParts | None = None
    end = 0
    if m := _NUMERIC_DATE.match(text):
        a, b, c = m.group(1), m.group(3), m.group(4)
        year_first = len(a) == 4
        parts = DateParts(int(a), int(b), int(c), len(a), len(c), fixed=year_first)
        end = m.end()
    elif (m := _DAY_MONTH.match(text)) and m.group(2).casefold() in MONTHS:
        year = _full_year(m.group(3))
        parts = DateParts(year, MONTHS[m.group(2).casefold()], int(m.group(1)), 4, 2, True)
        end = m.end()
    elif (m := _MONTH_DAY.match(text)) and m.group(1).casefold() in MONTHS:
        parts = DateParts(int(m.group(3)), MONTHS[m.group(1).casefold()], int(m.group(2)),
                          4, 2, True)
        end = m.end()
    if parts is None:
        return None, text
    return parts, _DATE_TIME_GLUE.sub("", text[end:]).strip()


def _full_year(text: str) -> int:
    # Two-digit years are this century: diaries are kept about recent events.
    return 2000 + int(text) if len(text) == 2 else int(text)


def resolve_date(parts: DateParts, order: DateOrder) -> date | None:
    """The calendar day under ``order``, or None when there is no such day.

    A leading four-digit year is always year-month-day. Officer order "ymd"
    reads a leading two-digit field as the year; a trailing four-digit year is
    the year whatever the order, and then "ymd" leaves day-first (UK) reading.
    """
    if parts.fixed:
        year, month, day = parts.first, parts.second, parts.third
    elif parts.first_digits > 2 or parts.third_digits not in (2, 4):
        return None
    elif order == "ymd" and parts.third_digits == 2:
        year, month, day = 2000 + parts.first, parts.second, parts.third
    else:
        year = 2000 + parts.third if parts.third_digits == 2 else parts.third
        if order == "mdy":
            month, day = parts.first, parts.second
        else:
            day, month = parts.first, parts.second
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if _MIN_YEAR <= found.year <= _MAX_YEAR else None


@dataclass(frozen=True, slots=True)
class TimeRead:
    clock: time
    precision: Precision
    flags: tuple[str, ...] = ()


_APPROX_PREFIX = re.compile(
    r"^(?:at\s+|@\s*)?(?:about|approx(?:imately|\.)?|around|roughly|circa|c\.|ca\.?|abt\.?|"
    r"est\.?|estimated|sometime|~|≈)\s*(?:at\s+)?", re.I)
_APPROX_SUFFIX = re.compile(r"\s*(?:-?\s*ish|\(?\s*approx(?:imately|\.)?\s*\)?|\?+|or so)$",
                            re.I)
_AT = re.compile(r"^(?:at\s+|@\s*)", re.I)
_RANGE = re.compile(r"^(.+?)\s*(?:-|–|—|\bto\b|\buntil\b|\btill?\b)\s*(.+)$", re.I)
_CLOCK = re.compile(
    r"(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?)?\s*"
    r"(?:(?P<mer>[ap])\.?\s?m\.?|(?P<hrs>hrs?\.?|hours|h))?", re.I)
_MILITARY = re.compile(r"(?P<h>\d{2})(?P<m>\d{2})\s*(?:hrs?\.?|hours|h)?", re.I)
_MERIDIEM_END = re.compile(r"([ap])\.?\s?m\.?$", re.I)
_WORD_TIMES: Mapping[str, time] = {
    "midnight": time(0, 0), "12 midnight": time(0, 0),
    "noon": time(12, 0), "midday": time(12, 0), "12 noon": time(12, 0),
}


@lru_cache(maxsize=4096)
def read_time(text: str) -> TimeRead | None:
    """A time of day as a person types it, or None when it is not one.

    "22:15", "10.15pm", "10:15 p.m.", "2215hrs", "midnight"; "about 10pm",
    "10pm-ish" and "22:15?" carry approximate_time; "21:00-23:00" and "9-11pm"
    give the start with time_range. A bare "10" or "10ish" is no time (morning
    or evening?), so the record keeps day precision and the cell in extra.
    """
    rest = " ".join(text.split())
    approx = False
    while True:
        cut = _APPROX_PREFIX.sub("", rest, count=1)
        cut = _APPROX_SUFFIX.sub("", cut, count=1)
        cut = _AT.sub("", cut, count=1).strip()
        if cut == rest:
            break
        approx = approx or _APPROX_PREFIX.match(rest) is not None or (
            _APPROX_SUFFIX.search(rest) is not None)
        rest = cut
    flags: tuple[str, ...] = ("approximate_time",) if approx else ()
    found = _clock(rest)
    if found is None and (m := _RANGE.match(rest)):
        start, end = m.group(1), m.group(2)
        found = _clock(start)
        meridiem = _MERIDIEM_END.search(end)
        if found is None and meridiem is not None:
            found = _clock(f"{start} {meridiem.group(1)}m")
        if found is not None and _clock(end) is not None:
            flags += ("time_range",)
        else:
            found = None
    if found is None:
        return None
    clock, precision = found
    return TimeRead(clock, precision, flags)


def _clock(text: str) -> tuple[time, Precision] | None:
    text = text.strip()
    if (word := _WORD_TIMES.get(text.casefold())) is not None:
        return word, "minute"
    m = _CLOCK.fullmatch(text) or _MILITARY.fullmatch(text)
    if m is None:
        return None
    groups = m.groupdict()
    hour, minute = int(groups["h"]), int(groups["m"] or 0)
    second = None if groups.get("s") is None else int(groups["s"])
    meridiem = groups.get("mer")
    if groups["m"] is None and meridiem is None and groups.get("hrs") is None:
        return None
    if minute > 59 or (second or 0) > 59:
        return None
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem in "pP" else 0)  # 12am is 00:xx
    elif hour > 23:
        return None
    if second is None:
        return time(hour, minute), "minute"
    return time(hour, minute, second), "second"


# -- day/month order for the whole file ----------------------------------------


@dataclass(frozen=True, slots=True)
class OrderChoice:
    """The day/month order applied to a whole file, and whether it is only assumed."""

    order: DateOrder
    ambiguous: bool
    notes: tuple[FileNote, ...] = ()


@dataclass(slots=True)
class DateSurvey:
    """What a file's numeric dates say about their day/month order."""

    dates: int = 0
    first_over_12: int = 0
    second_over_12: int = 0
    swappable: int = 0
    first_example: str = ""
    second_example: str = ""

    def add(self, parts: DateParts | None, text: str, where: str) -> None:
        """Count one date; ``where`` names its place for the note ("line 7")."""
        if parts is None or not parts.year_last:
            return
        self.dates += 1
        where = f"{text.strip()!r} on {where}"
        if parts.first > 12:
            self.first_over_12 += 1
            self.first_example = self.first_example or where
        if parts.second > 12:
            self.second_over_12 += 1
            self.second_example = self.second_example or where
        if parts.swappable:
            self.swappable += 1

    def decide(self, officer: DateOrder | None) -> OrderChoice:
        if officer is not None:
            return OrderChoice(officer, False, (FileNote(
                "date_order_set_by_officer", f"Dates read as {officer}, as set by the officer "
                f"({self._evidence()})."),))
        if not self.dates:
            return OrderChoice("dmy", False)
        first, second = self.first_over_12, self.second_over_12
        if first and not second:
            return self._settled("dmy", f"the first field exceeds 12 in {first} date(s), "
                                 f"e.g. {self.first_example}, so it is the day")
        if second and not first:
            return self._settled("mdy", f"the second field exceeds 12 in {second} date(s), "
                                 f"e.g. {self.second_example}, so it is the day")
        if first and second:
            order: DateOrder = "mdy" if second > first else "dmy"
            return self._unsettled(order, f"the file mixes orders ({self._evidence()}); "
                                   f"{order} leaves fewer impossible dates")
        if not self.swappable:
            return OrderChoice("dmy", False)
        return self._unsettled("dmy", "no day exceeds 12 anywhere in the file; day-first "
                               "(UK) assumed")

    def _evidence(self) -> str:
        return (f"the file's first field exceeds 12 in {self.first_over_12} date(s), "
                f"the second in {self.second_over_12}")

    @staticmethod
    def _settled(order: DateOrder, reason: str) -> OrderChoice:
        return OrderChoice(order, False, (FileNote("date_order",
                                                   f"Dates read as {order}: {reason}."),))

    def _unsettled(self, order: DateOrder, reason: str) -> OrderChoice:
        return OrderChoice(order, True, (
            FileNote("date_order", f"Dates read as {order}: {reason}."),
            FileNote("ambiguous_day_month",
                     f"Day and month order could not be established from the file; {order} "
                     f"was assumed and the {self.swappable} date(s) that would read as another "
                     "day the other way round are flagged ambiguous_day_month. Confirm with "
                     "the person who wrote it."),
        ))


# =============================================================================
# Diary rows to records
# =============================================================================

CHANNEL = "diary"
Cell = str | int | float | bool | datetime | date | time | timedelta | None
_ROWS_LISTED = 20
_EXTRA_FIELDS = ("location", "witnesses", "category", "reported_to", "evidence", "feelings",
                 "person", "action_taken")
_MEDIA_NAME = re.compile(
    r"[^\\:*?\"<>|\n]+\.(?:jpe?g|png|heic|heif|gif|webp|bmp|tiff?|mp4|mov|m4v|3gp|avi|"
    r"m4a|mp3|opus|ogg|wav|aac|amr|pdf|docx?|txt|eml|msg)", re.I)
_LIST_SPLIT = re.compile(r"[,;\n]")


@dataclass(slots=True)
class DiaryRow:
    """One row of a diary table, whatever the container."""

    line: int
    cells: Sequence[Cell]
    line_end: int | None = None
    json_path: str | None = None
    #: Facts about how a cell was read (e.g. excel_serial_date), put on the record.
    flags: tuple[str, ...] = ()
    #: Cells as stored when the reader converted them (an Excel serial number), by index.
    raw: Mapping[int, str] = field(default_factory=dict)
    #: What the container reader found wrong with the row (e.g. truncated).
    defects: tuple[str, ...] = ()


def cell_text(value: Cell) -> str:
    """A cell as text, for raw copies in extra and WallClock.text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        # Spreadsheets store a bare date as that day's midnight.
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _is_empty(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _time_of_cell(value: Cell) -> TimeRead | None:
    if isinstance(value, datetime):  # Excel keeps some times as 1899-12-30 hh:mm
        value = value.time()
    elif isinstance(value, timedelta) and timedelta(0) <= value < timedelta(days=1):
        seconds = int(value.total_seconds())
        value = time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    if isinstance(value, time):
        second = value.second or value.microsecond
        return TimeRead(value.replace(microsecond=0), "second" if second else "minute")
    if isinstance(value, str):
        return read_time(value)
    return None


@dataclass(slots=True)
class _When:
    """What a row's date and time cells say."""

    day: date
    clock: TimeRead | None
    defects: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


class DiaryBuilder:
    """Turns diary rows into incident records, keeping count of what it skipped."""

    def __init__(self, columns: DiaryColumns, choice: OrderChoice,
                 siblings: Mapping[str, str] | None = None, where: str = "lines") -> None:
        self.columns = columns
        self.choice = choice
        self.siblings = siblings or {}
        self.where = where
        self.undated = _RowList()
        self.dated_but_empty = _RowList()
        self.count = 0
        self._others = [(i, columns.headers[i]) for i in columns.other_columns()]
        self._width = len(columns.headers)

    def cell(self, row: DiaryRow, name: str) -> Cell:
        index = self.columns.fields.get(name)
        if index is None or index >= len(row.cells):
            return None
        return row.cells[index]

    def raw(self, row: DiaryRow, name: str) -> str:
        """A cell as the file stores it, before any conversion by the reader."""
        index = self.columns.fields.get(name)
        if index is not None and index in row.raw:
            return row.raw[index]
        return cell_text(self.cell(row, name))

    def record(self, row: DiaryRow) -> EventRecord | None:
        """The row's record; None for a blank row or one without a readable date."""
        if is_blank(row.cells):
            return None
        date_cell, time_cell = self.cell(row, "date"), self.cell(row, "time")
        when = self._when(date_cell, time_cell)
        if when is None:
            typed = self.raw(row, "date").strip()
            self.undated.add(row.line, f"{row.line} ({typed!r})" if typed else str(row.line))
            return None
        description = self.cell(row, "description")
        text = None if _is_empty(description) else cell_text(description)
        if text is None and self._only_when(row):
            # Templates come with dates filled down for days nothing happened.
            self.dated_but_empty.add(row.line, str(row.line))
            return None
        self.count += 1
        clock = self._wall_clock(when, self.raw(row, "date"), self.raw(row, "time"))
        defects = [*row.defects, *when.defects]
        if text is None:
            defects.append("no_description")
        if len(row.cells) > self._width and not is_blank(row.cells[self._width:]):
            defects.append("cells_beyond_header")
        return EventRecord(
            "incident", clock, "reported", CHANNEL,
            Locator(line=row.line, line_end=row.line_end, json_path=row.json_path),
            text=text, attachments=self._attachments(row), flags=row.flags,
            defects=tuple(defects), extra=self._extra(row),
        )

    def _only_when(self, row: DiaryRow) -> bool:
        when_columns = {self.columns.fields.get("date"), self.columns.fields.get("time")}
        return all(_is_empty(c) for i, c in enumerate(row.cells) if i not in when_columns)

    def _when(self, date_cell: Cell, time_cell: Cell) -> _When | None:
        day: date | None = None
        embedded: TimeRead | None = None
        defects: list[str] = []
        flags: tuple[str, ...] = ()
        if isinstance(date_cell, datetime):
            day = date_cell.date()
            # A date cell's midnight is how spreadsheets store a bare date, not a time.
            if date_cell.time() != time(0):
                embedded = _time_of_cell(date_cell)
        elif isinstance(date_cell, date):
            day = date_cell
        elif isinstance(date_cell, str):
            parts, rest = split_date(date_cell)
            if parts is None:
                return None
            day = resolve_date(parts, self.choice.order)
            if day is None:
                return None
            if self.choice.ambiguous and parts.swappable:
                flags = ("ambiguous_day_month",)
            if rest:
                embedded = read_time(rest)
                if embedded is None:
                    defects.append("unread_date_text")
        if day is None:
            return None
        clock = embedded
        if not _is_empty(time_cell):
            clock = _time_of_cell(time_cell)
            if clock is None:
                defects.append("unreadable_time")
        return _When(day, clock, tuple(defects), flags)

    @staticmethod
    def _wall_clock(when: _When, date_text: str, time_text: str) -> WallClock:
        text = " ".join(t for t in (date_text.strip(), time_text.strip()) if t)
        if when.clock is None:
            # No time written: the day is what is known (midnight would be a time).
            # Naive on purpose: a diary gives local wall-clock time; the store applies the zone.
            local = datetime.combine(when.day, time(0))
            return WallClock(text, local=local, precision="day",
                             flags=("day_precision", *when.flags))
        local = datetime.combine(when.day, when.clock.clock)  # naive: as above
        return WallClock(text, local=local, precision=when.clock.precision,
                         flags=(*when.clock.flags, *when.flags))

    def _extra(self, row: DiaryRow) -> dict[str, str]:
        extra: dict[str, str] = {}
        for name in _EXTRA_FIELDS:
            value = self.cell(row, name)
            if not _is_empty(value):
                extra[name] = cell_text(value)
        for name in ("date", "time"):
            if not _is_empty(self.cell(row, name)):
                extra[f"{name}_raw"] = self.raw(row, name)
        for index, header in self._others:
            if index < len(row.cells) and not _is_empty(row.cells[index]):
                extra[f"other:{header}"] = cell_text(row.cells[index])
        for index in range(self._width, len(row.cells)):
            if not _is_empty(row.cells[index]):
                extra[f"other:column {index + 1}"] = cell_text(row.cells[index])
        return extra

    def _attachments(self, row: DiaryRow) -> tuple[AttachmentRef, ...]:
        """File names listed in the evidence column, linked when they were delivered."""
        value = self.cell(row, "evidence")
        if not isinstance(value, str):
            return ()
        names = (part.strip() for part in _LIST_SPLIT.split(value))
        return tuple(AttachmentRef(name=name, sha256=self.siblings.get(name))
                     for name in names if _MEDIA_NAME.fullmatch(name))

    def closing_notes(self) -> Iterator[FileNote]:
        if self.dated_but_empty.count:
            yield FileNote("rows_dated_but_empty",
                           f"{self.dated_but_empty.count} row(s) have a date or time and "
                           f"nothing else and were not made into records: {self.where} "
                           f"{self.dated_but_empty}.")
        if self.undated.count:
            yield FileNote("rows_without_date",
                           f"{self.undated.count} row(s) have content but no readable date "
                           "and were not made into records (a blank date may mean the row "
                           f"continues the one above): {self.where} {self.undated}.")


@dataclass(slots=True)
class _RowList:
    """Rows skipped for one reason: counted, the first few described in the note."""

    count: int = 0
    shown: list[str] = field(default_factory=list)

    def add(self, line: int, text: str) -> None:
        self.count += 1
        if len(self.shown) < _ROWS_LISTED:
            self.shown.append(text)

    def __str__(self) -> str:
        return ", ".join(self.shown) + (", ..." if self.count > len(self.shown) else "")


@dataclass(frozen=True, slots=True)
class DiaryTable:
    """One table of incidents: a CSV file, or one sheet of a workbook.

    ``rows`` yields the rows below the header and is called twice: once to
    decide the day/month order, once to build the records, so nothing but
    counters is held in memory.
    """

    columns: DiaryColumns
    rows: Callable[[], Iterable[DiaryRow]]
    #: How notes name positions: "lines" / "line", "sheet 'Log' rows" / "sheet 'Log' row".
    where: str = "lines"
    unit: str = "line"
    label: str = ""


def survey_dates(tables: Iterable[DiaryTable]) -> DateSurvey:
    """Evidence on day/month order from every text date of every table.

    Reading stops quietly where a table turns out damaged: the record pass
    reaches the same point and reports it, after yielding what came before.
    """
    survey = DateSurvey()
    for table in tables:
        index = table.columns.fields["date"]
        try:
            for row in table.rows():
                if index < len(row.cells) and isinstance(value := row.cells[index], str):
                    survey.add(split_date(value)[0], value, f"{table.unit} {row.line}")
        except DamagedInput:
            continue
    return survey


def diary_items(tables: Sequence[DiaryTable], options: ParseOptions,
                siblings: Mapping[str, str] | None = None) -> Iterator[ParsedItem]:
    """Column and order notes, then a record per dated row, then what was skipped."""
    choice = survey_dates(tables).decide(options.date_order)
    for table in tables:
        yield FileNote("diary_columns", table.label + table.columns.describe() + ".")
    yield from choice.notes
    for table in tables:
        builder = DiaryBuilder(table.columns, choice, siblings, table.where)
        for row in table.rows():
            record = builder.record(row)
            if record is not None:
                yield record
        yield from builder.closing_notes()


@dataclass(slots=True)
class Preamble:
    """Non-blank rows above the header row (titles, the victim's name): noted, not lost."""

    unit: str = "line"
    lines: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def add(self, line: int, cells: Sequence[Cell]) -> None:
        if not is_blank(cells):
            self.lines.append(line)
            self.texts.append(" | ".join(cell_text(c) for c in cells if not _is_empty(c)))

    def note(self) -> FileNote | None:
        if not self.lines:
            return None
        return FileNote("rows_before_header",
                        f"{len(self.lines)} row(s) above the header row were not read as records: "
                        + "; ".join(f"{self.unit} {line}: {text!r}"
                                    for line, text in zip(self.lines, self.texts, strict=True)))
