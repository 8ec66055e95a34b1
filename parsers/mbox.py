"""mbox mailboxes (Gmail Takeout, Thunderbird, mutt), streamed one message at a time.

Real mailboxes are gigabytes, so the file is read line by line and only the
current message is held in memory. Python's ``mailbox.mbox`` is not used: it
splits at any line starting ``From `` and does not undo ``>From `` quoting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import BinaryIO

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.email_message import looks_like_header_line, message_items
from parsers.errors import DamagedInput
from parsers.records import FileNote, Locator, ParsedItem, Precision, WallClock

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: The strict From_ line: ``From <envelope sender> <asctime>``, as written by
#: mail stores. Zones appear before the year (Gmail: ``+0000 2024``) or after it.
FROM_LINE = re.compile(
    rb"From (?P<envelope>\S+) +(?P<date>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +"
    rb"(?P<month>" + "|".join(_MONTHS).encode() + rb") +(?P<day>\d{1,2}) +"
    rb"(?P<hour>\d{1,2}):(?P<minute>\d\d)(?::(?P<second>\d\d))?"
    rb"(?: +(?P<zone>[+-]\d{4}|[A-Z]{1,5}))? +(?P<year>\d{4})(?: +(?P<zone_after>[+-]\d{4}))?)"
    rb"(?: remote from \S+)? *\r?\n?\Z"
)
# mboxrd quoting: one ">" was added to every line matching ^>*From .
_QUOTED_FROM = re.compile(rb">+From ")
_BLANK_LINES = (b"\n", b"\r\n")
_UTC_NAMES = (b"UT", b"UTC", b"GMT", b"Z")

#: Lines are read in pieces of at most this size, so a file without line breaks
#: cannot be pulled into memory whole.
LINE_PIECE = 1024 * 1024
#: A message larger than this is skipped with a note instead of held in memory
#: (Gmail's own limit is 25 MB before transfer encoding).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


@dataclass(slots=True)
class _Message:
    """One message as found between two From_ lines."""

    offset: int
    line: int
    separator: re.Match[bytes]
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    oversized: bool = False
    length: int = 0
    at_end_of_file: bool = False
    ends_with_blank_line: bool = False

    def add(self, piece: bytes, *, starts_line: bool) -> None:
        self.size += len(piece)
        self.ends_with_blank_line = starts_line and piece in _BLANK_LINES
        if self.size > MAX_MESSAGE_BYTES:
            self.oversized = True
            self.lines.clear()
        elif not self.oversized:
            self.lines.append(piece)

    def raw(self) -> bytes:
        # The blank line before the next From_ line (or the end) belongs to the mbox.
        end = len(self.lines) - 1 if self.ends_with_blank_line else len(self.lines)
        return b"".join(self.lines[:end])


class _Splitter:
    """Splits a binary stream into messages at strict From_ lines after a blank line."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.offset = 0
        self.preamble_bytes = 0
        self.unquoted_lines = 0
        self.unsplit_from_lines = 0
        self.messages = 0

    def __iter__(self) -> Iterator[_Message]:
        current: _Message | None = None
        line_number = 0
        previous_blank = True  # the start of the file counts as a blank line
        at_line_start = True
        for piece in self._pieces():
            starts_line = at_line_start
            at_line_start = piece.endswith(b"\n")
            if starts_line:
                line_number += 1
            match = _separator(piece) if starts_line else None
            if match and previous_blank:
                if current is not None:
                    yield self._finish(current, at_end_of_file=False)
                current = _Message(offset=self.offset, line=line_number, separator=match)
            elif current is None:
                self.preamble_bytes += len(piece)
            else:
                if match:
                    self.unsplit_from_lines += 1
                current.add(self._unquote(piece) if starts_line else piece,
                            starts_line=starts_line)
            previous_blank = starts_line and piece in _BLANK_LINES
            self.offset += len(piece)
        if current is not None:
            yield self._finish(current, at_end_of_file=True)

    def _pieces(self) -> Iterator[bytes]:
        try:
            yield from iter(partial(self.stream.readline, LINE_PIECE), b"")
        except OSError as exc:
            raise DamagedInput(f"mbox unreadable after byte {self.offset}: {exc}") from exc

    def _unquote(self, line: bytes) -> bytes:
        if line.startswith(b">") and _QUOTED_FROM.match(line):
            self.unquoted_lines += 1
            return line[1:]
        return line

    def _finish(self, message: _Message, *, at_end_of_file: bool) -> _Message:
        message.length = self.offset - message.offset
        message.at_end_of_file = at_end_of_file
        self.messages += 1
        return message


def _separator(line: bytes) -> re.Match[bytes] | None:
    """The From_ line's match; the cheap prefix test spares the regex on almost every line."""
    return FROM_LINE.match(line) if line.startswith(b"From ") else None


def separator_time(match: re.Match[bytes]) -> WallClock | None:
    """The From_ line's date: when the mail store took the message in.

    A stated zone (Gmail writes +0000) gives an instant; without one it is a
    wall clock of an unknown zone, as asctime was meant to be.
    """
    fields = match.groupdict()
    text = match.group("date").decode("ascii")
    try:
        stamp = datetime(  # noqa: DTZ001 - asctime carries no zone; one is attached below when stated
            int(fields["year"]), _MONTHS.index(fields["month"].decode()) + 1, int(fields["day"]),
            int(fields["hour"]), int(fields["minute"]), int(fields["second"] or 0),
        )
    except ValueError:
        return None
    precision: Precision = "second" if fields["second"] else "minute"
    flags = ("date_from_mbox_separator",)
    zone = fields["zone"] or fields["zone_after"]
    if zone in _UTC_NAMES:
        return WallClock(text=text, instant=stamp.replace(tzinfo=UTC), precision=precision,
                         flags=flags)
    if zone and zone[:1] in (b"+", b"-"):
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        offset = timezone(timedelta(minutes=minutes if zone[:1] == b"+" else -minutes))
        return WallClock(text=text, instant=stamp.replace(tzinfo=offset), precision=precision,
                         flags=flags)
    return WallClock(text=text, local=stamp, precision=precision, flags=flags)


class MboxParser:
    name = "mbox"
    version = "1.1.0"
    format = "mbox"

    def detect(self, probe: Probe) -> bool:
        """A strict From_ line first, then a header line."""
        first, newline, rest = probe.head.partition(b"\n")
        if not newline or _separator(first + newline) is None:
            return False
        return looks_like_header_line(rest.partition(b"\n")[0])

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        with source.open() as stream:
            splitter = _Splitter(stream)
            for message in splitter:
                yield from _message_items(message)
        if splitter.messages == 0:
            raise DamagedInput("no mbox From_ separator line found")
        yield from _file_notes(splitter)


def _message_items(message: _Message) -> list[ParsedItem]:
    locator = Locator(line=message.line, byte_offset=message.offset,
                      byte_length=message.length)
    if message.oversized:
        return [FileNote(
            code="oversized_message",
            message=f"Message at byte {message.offset} (line {message.line}) is "
                    f"{message.size} bytes, over the {MAX_MESSAGE_BYTES}-byte limit; it was "
                    "not parsed and is kept in the stored original only.",
        )]
    raw = message.raw()
    # mbox writers end every line; a last message without a final line break was cut off.
    cut_off = message.at_end_of_file and not raw.endswith(b"\n")
    return message_items(
        raw, locator,
        separator_time=separator_time(message.separator),
        at_end_of_file=message.at_end_of_file,
        defects=("truncated",) if cut_off else (),
    )


def _file_notes(splitter: _Splitter) -> Iterator[FileNote]:
    if splitter.preamble_bytes:
        yield FileNote(
            code="mbox_preamble",
            message=f"Bytes before the first From_ line, not a message and not parsed: "
                    f"{splitter.preamble_bytes}.",
        )
    if splitter.unsplit_from_lines:
        yield FileNote(
            code="mbox_from_lines_kept",
            message=f"Lines shaped like a From_ separator but with no blank line before them: "
                    f"{splitter.unsplit_from_lines}, kept as message text. If this mailbox was "
                    "written without blank lines between messages, some were merged.",
        )
    if splitter.unquoted_lines:
        yield FileNote(
            code="mbox_from_unquoted",
            message=f"Body lines quoted as '>From ' that had one '>' removed (mboxrd rule): "
                    f"{splitter.unquoted_lines}. mboxo and mboxrd cannot be told apart, so in an "
                    "mboxo file a line that really began '>From ' lost its '>'.",
        )


PARSER = MboxParser()
