"""Any CSV of messages, read through a column mapping the officer gives.

Phone tools, forensic extractions and hand-made tables all write message logs
as CSV, each with its own headers. No content sniffing can tell what a "Date"
or "Name" column means in such a file, so this parser is never chosen by
detection: ``detect()`` always says no, and the collector hands it a file only
when the officer passes ``--csv-map FIELD=Header`` (ParseOptions.column_map)
and no other parser claimed the file.

Fields: ``time`` and ``text`` (required), ``sender``, ``sender_id``,
``recipient``, ``direction``, ``subject``, ``channel`` and ``conversation``
name columns; the pseudo-field ``channel_name`` gives the channel itself
(``channel_name=sms``) for files with no channel column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from itertools import islice

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.diary_common import (
    DELIMITERS,
    HEADER_SEARCH_ROWS,
    CsvRow,
    DateSurvey,
    OrderChoice,
    Preamble,
    TextEncoding,
    choose_encoding,
    is_blank,
    read_csv_rows,
    read_time,
    resolve_date,
    split_date,
)
from parsers.errors import DamagedInput, ParserError
from parsers.identifiers import email_id, phone_e164
from parsers.records import (
    Direction,
    EventRecord,
    FileNote,
    Kind,
    Locator,
    ParsedItem,
    Precision,
    TimeBasis,
    WallClock,
)

COLUMN_FIELDS = ("time", "text", "sender", "sender_id", "recipient", "direction", "subject",
                 "channel", "conversation")
REQUIRED_FIELDS = ("time", "text")
CHANNEL_NAME = "channel_name"
DEFAULT_CHANNEL = "unknown"

_INCOMING = frozenset({"in", "incoming", "inbound", "received", "receive", "inbox", "rx"})
_OUTGOING = frozenset({"out", "outgoing", "outbound", "sent", "send", "outbox", "tx"})
_CALL_CHANNELS = frozenset({"call", "calls", "phone call", "voice call"})
_EMAIL_CHANNELS = frozenset({"email", "e-mail", "mail"})
_LIST_SPLIT = re.compile(r"[;,]")
_EPOCH = re.compile(r"\d{9,17}(?:\.\d+)?")
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")
_ZONE_SUFFIX = re.compile(r"\s*(?:(?P<utc>Z|UTC|GMT)|(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2}))$",
                          re.I)
_RFC_2822 = re.compile(r"[A-Za-z]{3},?\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")
_SECONDS = re.compile(r"\d:\d{2}:\d{2}(?P<fraction>[.,]\d+)?")
_MIN_YEAR, _MAX_YEAR = 1990, 2100
_ROWS_LISTED = 20


class ColumnMapError(ParserError):
    """The officer's column mapping cannot be used (unknown or missing fields)."""


@dataclass(frozen=True, slots=True)
class ColumnMap:
    headers: Mapping[str, str]  # field -> header as the officer typed it
    channel_name: str | None = None


def column_map(pairs: Sequence[tuple[str, str]]) -> ColumnMap:
    """Check the officer's (field, header) pairs; ColumnMapError says what is wrong."""
    headers: dict[str, str] = {}
    channel_name = None
    for name, header in pairs:
        if name == CHANNEL_NAME:
            channel_name = header.strip().casefold() or None
        elif name not in COLUMN_FIELDS:
            raise ColumnMapError(f"unknown field {name!r} in the column map; fields are "
                                 f"{', '.join((*COLUMN_FIELDS, CHANNEL_NAME))}")
        elif name in headers:
            raise ColumnMapError(f"field {name!r} is mapped twice in the column map")
        else:
            headers[name] = header
    missing = [name for name in REQUIRED_FIELDS if name not in headers]
    if missing:
        raise ColumnMapError(f"the column map must name the {' and '.join(missing)} column(s)")
    return ColumnMap(headers, channel_name)


def _loose(header: str) -> str:
    return " ".join(header.split()).casefold()


@dataclass(frozen=True, slots=True)
class _Layout:
    delimiter: str
    header_index: int  # rows (blank ones included) above the header row
    headers: tuple[str, ...]
    columns: Mapping[str, int]  # field -> index
    preamble: Preamble


def _match_headers(cells: Sequence[str], wanted: ColumnMap) -> dict[str, int]:
    """field -> index for the mapped headers found: exact first, then loosely."""
    exact = {cell.strip(): i for i, cell in reversed(list(enumerate(cells)))}
    loose = {_loose(cell): i for i, cell in reversed(list(enumerate(cells)))}
    found: dict[str, int] = {}
    for name, header in wanted.headers.items():
        index = exact.get(header.strip(), loose.get(_loose(header)))
        if index is not None:
            found[name] = index
    return found


def _header_in(source: SourceFile, encoding: TextEncoding, delimiter: str,
               wanted: ColumnMap) -> _Layout | None:
    """The top row holding the most mapped headers (ties: the first non-blank row).

    Hand-made tables may carry a title above the header row.
    """
    best: _Layout | None = None
    try:
        rows = list(islice(read_csv_rows(source, encoding, delimiter), HEADER_SEARCH_ROWS))
    except DamagedInput:
        return None
    for index, row in enumerate(rows):
        if is_blank(row.cells):
            continue
        found = _match_headers(row.cells, wanted)
        if best is None or len(found) > len(best.columns):
            preamble = Preamble()
            for above in rows[:index]:
                preamble.add(above.line, above.cells)
            best = _Layout(delimiter, index, tuple(row.cells), found, preamble)
    return best


def _layout(source: SourceFile, encoding: TextEncoding, wanted: ColumnMap) -> _Layout:
    best: _Layout | None = None
    for delimiter in DELIMITERS:
        layout = _header_in(source, encoding, delimiter, wanted)
        if layout is not None and (best is None or (len(layout.columns), len(layout.headers))
                                   > (len(best.columns), len(best.headers))):
            best = layout
    if best is None:
        raise DamagedInput(f"{source.name}: no header row in the first {HEADER_SEARCH_ROWS} "
                           "rows")
    missing = [f"{name}={header!r}" for name, header in wanted.headers.items()
               if name not in best.columns]
    if missing:
        present = ", ".join(repr(h) for h in best.headers) or "(none)"
        raise DamagedInput(f"{source.name}: mapped column(s) not in the header row: "
                           f"{', '.join(missing)}; headers present: {present}")
    return best


class GenericCsvParser:
    name = "generic_csv"
    version = "1.0.0"
    format = "generic_csv"

    def detect(self, probe: Probe) -> bool:
        """Always False: only the officer's column mapping says what a CSV's columns mean.

        The collector picks this parser explicitly when a mapping is given.
        """
        return False

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        wanted = column_map(options.column_map)
        encoding = choose_encoding(source)
        layout = _layout(source, encoding, wanted)
        yield from encoding.notes
        if (note := layout.preamble.note()) is not None:
            yield note
        yield FileNote("column_map", "Columns read as mapped by the officer: " + ", ".join(
            f"{name}={layout.headers[i]!r}" for name, i in layout.columns.items())
            + (f"; channel_name={wanted.channel_name!r}" if wanted.channel_name else "") + ".")
        yield FileNote("time_basis_assumed", "The CSV does not say whether its times are "
                       "sending or receiving times; they are recorded as sending times.")
        choice = _survey(source, encoding, layout).decide(options.date_order)
        yield from choice.notes
        reader = _RowReader(layout, choice, options.default_region, wanted.channel_name)
        cut = None
        for row in _rows(source, encoding, layout):
            record = reader.record(row)
            if record is not None:
                yield record
            cut = row.line if row.truncated else cut
        yield from reader.closing_notes()
        if cut is not None:
            # Records up to the cut, the partial one included, are kept; the file is damaged.
            raise DamagedInput(f"{source.name}: the file ends inside a quoted cell begun on "
                               f"line {cut}: it was cut short")


def _rows(source: SourceFile, encoding: TextEncoding, layout: _Layout) -> Iterator[CsvRow]:
    return islice(read_csv_rows(source, encoding, layout.delimiter), layout.header_index + 1,
                  None)


def _survey(source: SourceFile, encoding: TextEncoding, layout: _Layout) -> DateSurvey:
    """Day/month evidence from the time column, as far as the file reads."""
    survey = DateSurvey()
    index = layout.columns["time"]
    try:
        for row in _rows(source, encoding, layout):
            if index < len(row.cells):
                survey.add(split_date(row.cells[index])[0], row.cells[index], f"line {row.line}")
    except DamagedInput:
        pass  # the record pass reports it, after the rows before it
    return survey


# -- times ---------------------------------------------------------------------


def _precision_of(text: str) -> Precision:
    m = _SECONDS.search(text)
    if m is None:
        return "minute"
    return "subsecond" if m.group("fraction") else "second"


def _in_range(moment: datetime) -> bool:
    return _MIN_YEAR <= moment.year <= _MAX_YEAR


def _epoch_clock(text: str) -> WallClock | None:
    """Unix time in seconds, milliseconds or microseconds, chosen by magnitude."""
    value = float(text)
    scale = 1_000_000 if value >= 1e14 else 1_000 if value >= 1e11 else 1
    try:
        moment = datetime.fromtimestamp(value / scale, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not _in_range(moment):
        return None
    precision: Precision = "second" if scale == 1 and "." not in text else "subsecond"
    return WallClock(text, instant=moment, precision=precision)


def _iso_clock(text: str) -> WallClock | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not _in_range(moment):
        return None
    precision = _precision_of(text)
    if moment.tzinfo is None:
        return WallClock(text, local=moment, precision=precision)
    return WallClock(text, instant=moment.astimezone(UTC), precision=precision)


def _rfc_2822_clock(text: str) -> WallClock | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if not _in_range(moment):
        return None
    if moment.tzinfo is None:  # "-0000": the zone is explicitly unknown
        return WallClock(text, local=moment, precision=_precision_of(text))
    return WallClock(text, instant=moment.astimezone(UTC), precision=_precision_of(text))


def _zone(m: re.Match[str]) -> timezone:
    if m.group("utc"):
        return UTC
    offset = timedelta(hours=int(m.group("hh")), minutes=int(m.group("mm")))
    return timezone(-offset if m.group("sign") == "-" else offset)


def _typed_clock(text: str, choice: OrderChoice) -> tuple[WallClock | None, tuple[str, ...]]:
    """A date as people type it, with an optional time and zone; (None, ()) if no date."""
    body, zone = text.strip(), None
    # A zone only counts after a time ("12-03-2024" must not lose "-2024" as an offset).
    if (m := _ZONE_SUFFIX.search(body)) is not None:
        rest = split_date(body[:m.start()])[1]
        if rest and read_time(rest) is not None:
            body, zone = body[:m.start()], _zone(m)
    parts, rest = split_date(body)
    day = None if parts is None else resolve_date(parts, choice.order)
    if parts is None or day is None:
        return None, ()
    flags: tuple[str, ...] = ("ambiguous_day_month",) if (
        choice.ambiguous and parts.swappable) else ()
    clock = read_time(rest) if rest else None
    if clock is None:
        defects = ("unread_time_text",) if rest else ()
        # Naive on purpose: no zone in the cell, the store applies the case zone.
        local = datetime.combine(day, time(0))
        return WallClock(text, local=local, precision="day",
                         flags=("day_precision", *flags)), defects
    local = datetime.combine(day, clock.clock)  # naive: as above
    flags = (*clock.flags, *flags)
    if zone is not None:
        return WallClock(text, instant=local.replace(tzinfo=zone).astimezone(UTC),
                         precision=clock.precision, flags=flags), ()
    return WallClock(text, local=local, precision=clock.precision, flags=flags), ()


def read_clock(text: str, choice: OrderChoice) -> tuple[WallClock | None, tuple[str, ...]]:
    """(clock or None, defects) for a time cell: epoch, ISO 8601, RFC 2822 or typed."""
    stripped = text.strip()
    if not stripped:
        return None, ()
    if _EPOCH.fullmatch(stripped):
        return _epoch_clock(stripped), ()
    if _ISO_START.match(stripped) and (clock := _iso_clock(stripped)) is not None:
        return clock, ()
    if _RFC_2822.match(stripped) and (clock := _rfc_2822_clock(stripped)) is not None:
        return clock, ()
    return _typed_clock(stripped, choice)


# -- rows to records -----------------------------------------------------------


def _identity(text: str, region: str) -> str | None:
    """E.164 for a phone number, lower-case for an e-mail address, else None."""
    text = text.strip()
    if not text:
        return None
    return email_id(text) if "@" in text else phone_e164(text, region)


def _direction(text: str) -> Direction | None:
    word = text.strip().casefold()
    if word in _INCOMING:
        return "incoming"
    if word in _OUTGOING:
        return "outgoing"
    return None


@dataclass(slots=True)
class _Skipped:
    count: int = 0
    shown: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.shown) < _ROWS_LISTED:
            self.shown.append(text)


class _RowReader:
    def __init__(self, layout: _Layout, choice: OrderChoice, region: str,
                 channel_name: str | None) -> None:
        self.columns = layout.columns
        self.width = len(layout.headers)
        self.choice = choice
        self.region = region
        self.channel_name = channel_name or DEFAULT_CHANNEL
        taken = set(layout.columns.values())
        self.others = [(i, h) for i, h in enumerate(layout.headers)
                       if i not in taken and h.strip()]
        self.untimed = _Skipped()

    def cell(self, cells: Sequence[str], name: str) -> str:
        index = self.columns.get(name)
        return "" if index is None or index >= len(cells) else cells[index]

    def record(self, row: CsvRow) -> EventRecord | None:
        cells = row.cells
        if is_blank(cells):
            return None
        time_text = self.cell(cells, "time")
        clock, defects = read_clock(time_text, self.choice)
        if clock is None:
            self.untimed.add(f"{row.line} ({time_text.strip()!r})" if time_text.strip()
                             else str(row.line))
            return None
        extra: dict[str, str] = {}
        found_defects = [*(("truncated",) if row.truncated else ()), *defects]
        if len(cells) < self.width:
            found_defects.append("short_row")
        elif len(cells) > self.width and not is_blank(cells[self.width:]):
            found_defects.append("cells_beyond_header")
        sender = self.cell(cells, "sender").strip() or None
        sender_id = self._sender_id(cells, sender, extra)
        recipients = self._recipients(cells, extra)
        direction = self._direction(cells, extra, found_defects)
        channel = self.cell(cells, "channel").strip().casefold() or self.channel_name
        kind, basis = self._kind(channel)
        participants = tuple(dict.fromkeys(
            i for i in (sender_id, *recipients) if i is not None))
        self._other_cells(cells, extra)
        return EventRecord(
            kind, clock, basis, channel, Locator(line=row.line, line_end=row.line_end),
            sender=sender, sender_id=sender_id, recipients=recipients,
            direction=direction,
            text=self.cell(cells, "text") or None,
            subject=self.cell(cells, "subject") or None, defects=tuple(found_defects),
            extra=extra, conversation=self._conversation(cells, participants),
            participants=participants,
        )

    def _sender_id(self, cells: Sequence[str], sender: str | None,
                   extra: dict[str, str]) -> str | None:
        if "sender_id" in self.columns:
            raw = self.cell(cells, "sender_id").strip()
            found = _identity(raw, self.region)
            if raw and found is None:
                extra["sender_id_raw"] = raw
            return found
        return None if sender is None else _identity(sender, self.region)

    def _recipients(self, cells: Sequence[str], extra: dict[str, str]) -> tuple[str, ...]:
        raw = self.cell(cells, "recipient").strip()
        if not raw:
            return ()
        found = [_identity(part, self.region) for part in _LIST_SPLIT.split(raw)]
        extra["recipient"] = raw
        return tuple(dict.fromkeys(i for i in found if i is not None))

    def _direction(self, cells: Sequence[str], extra: dict[str, str],
                   defects: list[str]) -> Direction:
        raw = self.cell(cells, "direction").strip()
        if not raw:
            return "unknown"
        extra["direction_raw"] = raw
        found = _direction(raw)
        if found is None:
            defects.append("unrecognised_direction")
            return "unknown"
        return found

    @staticmethod
    def _kind(channel: str) -> tuple[Kind, TimeBasis]:
        if channel in _CALL_CHANNELS:
            return "call", "call_started"
        if channel in _EMAIL_CHANNELS:
            return "email", "sent"
        return "message", "sent"

    def _conversation(self, cells: Sequence[str], participants: tuple[str, ...]) -> str | None:
        """The mapped conversation column; else, when recipients are known, the set of
        people taking part (so A->B and B->A share a key); else the whole file."""
        if "conversation" in self.columns:
            return self.cell(cells, "conversation").strip() or None
        if "recipient" in self.columns and participants:
            return "|".join(sorted(participants))
        return None

    def _other_cells(self, cells: Sequence[str], extra: dict[str, str]) -> None:
        for index, header in self.others:
            if index < len(cells) and cells[index].strip():
                extra[f"other:{header}"] = cells[index]
        for index in range(self.width, len(cells)):
            if cells[index].strip():
                extra[f"other:column {index + 1}"] = cells[index]

    def closing_notes(self) -> Iterator[FileNote]:
        if self.untimed.count:
            more = ", ..." if self.untimed.count > len(self.untimed.shown) else ""
            yield FileNote("rows_without_time",
                           f"{self.untimed.count} row(s) have content but no readable time and "
                           f"were not made into records: lines {', '.join(self.untimed.shown)}"
                           f"{more}.")


PARSER = GenericCsvParser()
