"""Discord data package messages in the older CSV form: ``messages/c<id>/messages.csv``.

Same columns as the JSON form (``ID,Timestamp,Contents,Attachments``), same
meaning: only the account holder's own messages. Record building is shared with
parsers.discord_messages; this module only reads the CSV, keeping each record's
line span (a message's Contents may run over several lines).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.discord_messages import DiscordRecords, attachment_urls, channels_in
from parsers.errors import DamagedInput
from parsers.records import Locator, ParsedItem
from parsers.streamed_json import UTF8_BOM

HEADER = ["ID", "Timestamp", "Contents", "Attachments"]
_HEADER_LINE = b"ID,Timestamp,Contents,Attachments"


class DiscordMessagesCsvParser:
    name = "discord_messages_csv"
    version = "1.0.0"
    format = "discord"

    def detect(self, probe: Probe) -> bool:
        head = probe.head[len(UTF8_BOM):] if probe.head.startswith(UTF8_BOM) else probe.head
        first, newline, _rest = head.partition(b"\n")
        return bool(newline) and first.rstrip(b"\r") == _HEADER_LINE

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        channels: Counter[str] = Counter()
        for _start, _end, row, _cut in _rows(source):
            if len(row) > 3:
                channels.update(channels_in(attachment_urls(row[3]) or ()))
        builder = DiscordRecords(source, channels)
        for start, end, row, cut in _rows(source):
            defects: list[str] = ["truncated"] if cut else []
            if len(row) != len(HEADER):
                defects.append("unexpected_field_count")
            if any("\udc80" <= c <= "\udcff" for field in row for c in field):
                defects.append("invalid_utf8")
            fields: list[Any] = [*row, *([None] * (len(HEADER) - len(row)))]
            record = builder.record(fields[0], fields[1], fields[2], fields[3],
                                    Locator(line=start, line_end=end), defects)
            if record is not None:
                yield record
        yield from builder.notes()


@contextmanager
def _text(source: SourceFile) -> Iterator[io.TextIOWrapper]:
    try:
        with source.open() as raw:
            # surrogateescape keeps undecodable bytes visible as a defect instead of
            # stopping the file; the store shows them as U+FFFD.
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape",
                                   newline="")
    except OSError as exc:
        raise DamagedInput(f"{source.name}: unreadable ({exc})") from exc


class _Lines:
    """The file's lines for csv.reader, remembering the last one to spot a cut-off end."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self.last = ""

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.last = line
            yield line


def _rows(source: SourceFile) -> Iterator[tuple[int, int, list[str], bool]]:
    """(first line, last line, fields, cut off) for each row after the header.

    A row is held back until the next one is read, so the last row can be told
    apart: a CSV writer ends every row with a line break, so a last row without
    one was cut off (csv.reader silently closes an unterminated quoted field).
    """
    with _text(source) as text:
        lines = _Lines(text)
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
            if header != HEADER:
                raise DamagedInput(f"{source.name}: first line is not "
                                   f"{','.join(HEADER)!r}")
            held: tuple[int, int, list[str]] | None = None
            last = reader.line_num
            for row in reader:
                if row:
                    if held is not None:
                        yield (*held, False)
                    held = (last + 1, reader.line_num, row)
                last = reader.line_num
            if held is not None:
                yield (*held, not lines.last.endswith("\n"))
        except csv.Error as exc:
            raise DamagedInput(f"{source.name}: CSV unreadable after line {reader.line_num}: "
                               f"{exc}") from exc


PARSER = DiscordMessagesCsvParser()
