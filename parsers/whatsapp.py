"""WhatsApp "Export chat" text files (``_chat.txt``, ``WhatsApp Chat with X.txt``).

The file is read twice, streaming: a survey pass gathers every header to choose
the header style and the day/month order for the whole file (one file, one
interpretation), then a second pass yields the records. The rules (header
grammar, order inference, placeholder/call/notice bodies) live in
parsers.whatsapp_grammar; section 1 of the format field notes explains the
pitfalls they handle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time

from parsers import whatsapp_grammar as grammar
from parsers.base import DateOrder, ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.identifiers import phone_e164
from parsers.records import (
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    Precision,
    WallClock,
)

CHANNEL = "whatsapp"
_classify_body = grammar.classify_body  # bound once: called for every message

# Reported per-export message caps (about 40 000 without media, 10 000 with);
# a count this close to one suggests older messages were silently left out.
_EXPORT_CAPS = (10_000, 40_000)
_CAP_TOLERANCE = 0.005
# Bounds the caches of days and times of day (a day has 1,440 minutes).
_CACHE_LIMIT = 100_000
_PREAMBLE_KEEP = 4000
_LINES_LISTED = 10


@dataclass(slots=True)
class _Survey:
    """What the first pass learned about the whole file."""

    style: int
    decision: grammar.OrderDecision
    bom: bool


def _survey(source: SourceFile) -> _Survey:
    """First pass: the header style the file uses and the evidence on its date order."""
    evidence = {style: grammar.OrderEvidence() for style in grammar.STYLES}
    dates: dict[str, grammar.DateFields | None] = {}
    match = grammar.HEADER.match
    bom = False
    line_no = 0
    # Most headers repeat the previous header's date: a byte-prefix test counts
    # them without decoding or matching (the date evidence cannot change).
    same_day, same_seen = b"", evidence[grammar.DASH]
    with source.open() as fh:
        for raw in fh:
            line_no += 1
            if same_day and raw.startswith(same_day):
                same_seen.headers += 1
                continue
            if line_no == 1 and raw.startswith(grammar.BOM):
                bom, raw = True, raw[len(grammar.BOM):]
            line = raw.decode("utf-8", "replace")
            m = match(line)
            if m is None:
                continue
            seen = evidence[m.lastindex or grammar.DASH]
            text = grammar.date_text(m)
            if text not in dates:
                if len(dates) > _CACHE_LIMIT:
                    dates.clear()
                parts = grammar.split_date(text)
                dates[text] = parts if parts and grammar.plausible_date(parts) else None
            parts = dates[text]
            if parts is None:
                continue
            seen.headers += 1
            same_day, same_seen = line[:grammar.time_start(m)].encode(), seen
            if text != seen.prev_text:
                seen.prev_text = text
                seen.add(parts, text, line_no)
    style = max(evidence, key=lambda s: evidence[s].headers)
    if not evidence[style].headers:
        raise DamagedInput(f"{source.name}: no WhatsApp message header found")
    return _Survey(style, evidence[style].decide(), bom)


class WhatsAppParser:
    name = "whatsapp"
    version = "1.0.0"
    format = "whatsapp"

    def detect(self, probe: Probe) -> bool:
        return grammar.looks_like_chat(probe.head)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        survey = _survey(source)
        decision = survey.decision
        order, ambiguous = decision.order, decision.ambiguous
        if survey.bom:
            yield FileNote("bom", "The file starts with a UTF-8 byte order mark; "
                           "it was skipped and is not part of any message.")
        if options.date_order is not None:
            order, ambiguous = options.date_order, False
            yield FileNote("date_order_set_by_officer",
                           f"Dates read as {order}, as set by the officer (the file alone "
                           f"suggested {decision.order}: {decision.reason}).")
        else:
            yield FileNote("date_order", f"Dates read as {order}: {decision.reason}.")
            if ambiguous:
                yield FileNote("ambiguous_day_month",
                               "Day and month order could not be established from the file; "
                               f"{order} was assumed and every time is flagged "
                               "ambiguous_day_month. Confirm the phone's region setting.")
        yield from _Reader(source, options, survey.style, order, ambiguous).records()


#: The header of the message being read: clock, line number, byte offset, and
#: the rest of the header line ("SENDER: TEXT" or a notice). A plain tuple, as
#: one is made per message.
_Head = tuple[WallClock, int, int, str]


@dataclass(slots=True)
class _Tail:
    """What the lines after a header add to its message; most messages have none."""

    last_line: int
    more: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    flags: tuple[str, ...] = ()

    def defect(self, code: str) -> None:
        if code not in self.defects:
            self.defects.append(code)


class _Preamble:
    """Lines before the first message header: reported in a note, never silently dropped.

    Only the start of the text is kept in memory (the bytes stay in the stored
    original), so a file whose headers all fail cannot exhaust memory here.
    """

    def __init__(self) -> None:
        self.lines = 0
        self.kept: list[str] = []
        self.chars = 0

    def add(self, line: str) -> None:
        self.lines += 1
        if self.chars <= _PREAMBLE_KEEP:
            self.kept.append(line)
            self.chars += len(line) + 1

    def note(self, end: int) -> FileNote:
        text = "\n".join(self.kept)
        if self.chars > _PREAMBLE_KEEP:
            text = text[:_PREAMBLE_KEEP] + " [...]"
        return FileNote("text_before_first_header",
                        f"Lines 1-{self.lines} (up to byte {end}) come before the first message "
                        f"header and belong to no message; they read: {text!r}")


class _Reader:
    """Second pass: assemble headers and continuation lines into records."""

    def __init__(self, source: SourceFile, options: ParseOptions, style: int,
                 order: DateOrder, ambiguous: bool) -> None:
        self.source = source
        self.region = options.default_region
        self.style = style
        self.order = order
        self.ambiguity = ("ambiguous_day_month",) if ambiguous else ()
        self.siblings = dict(source.siblings)
        self.days: dict[str, date | None] = {}
        self.times: dict[str, tuple[time, Precision, tuple[str, ...]] | None] = {}
        self.senders: dict[str, tuple[str, str | None, bool] | None] = {}
        self.merged: list[int] = []
        self.impossible: list[int] = []
        self.bad_utf8: list[int] = []
        self.count = 0

    def _clock(self, m: re.Match[str]) -> WallClock | None:
        """A header's time (m from grammar.HEADER_OF), or None when it is impossible.

        Chats move forward, so most headers bring a new minute: rather than
        caching whole stamps, the day and the time of day are cached apart.
        """
        stamp, day_text, time_text = m.group(1, 2, 3)
        try:
            day = self.days[day_text]
        except KeyError:
            day = self._day(day_text)
        try:
            tod = self.times[time_text]
        except KeyError:
            tod = self._time(time_text)
        if day is None or tod is None:
            return None
        moment, precision, flags = tod
        # Positional (text, local, instant, precision, flags): see _check_field_order.
        # The export states no zone, so the time stays naive; the store resolves it.
        return WallClock(stamp, datetime.combine(day, moment), None, precision, flags)

    def _day(self, text: str) -> date | None:
        if len(self.days) > _CACHE_LIMIT:
            self.days.clear()
        parts = grammar.split_date(text)
        ymd = None if parts is None else grammar.calendar_date(parts, self.order)
        self.days[text] = day = None if ymd is None else date(*ymd)
        return day

    def _time(self, text: str) -> tuple[time, Precision, tuple[str, ...]] | None:
        if len(self.times) > _CACHE_LIMIT:
            self.times.clear()
        hms = grammar.read_time(text)
        tod: tuple[time, Precision, tuple[str, ...]] | None = None
        if hms is not None:
            hour, minute, second = hms
            if second is None:  # no seconds written (Android): none are invented
                tod = (time(hour, minute), "minute", ("minute_precision", *self.ambiguity))
            else:
                tod = (time(hour, minute, second), "second", self.ambiguity)
        self.times[text] = tod
        return tod

    def records(self) -> Iterator[ParsedItem]:
        match, clock_of, record = grammar.HEADER_OF[self.style].match, self._clock, self._record
        head: _Head | None = None
        tail: _Tail | None = None
        preamble = _Preamble()
        offset = line_no = 0
        # Consecutive messages often share a header ("12/03/2024, 22:15 - Bob: "):
        # a line starting with the previous header's text needs no matching.
        same_head = ""
        same_clock: WallClock | None = None
        clock: WallClock | None
        with self.source.open() as fh:
            for raw in fh:
                line_no += 1
                size = len(raw)
                if raw.endswith(b"\n"):  # strip the terminator only, CRLF or LF
                    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
                if line_no == 1 and raw.startswith(grammar.BOM):
                    raw, size, offset = raw[len(grammar.BOM):], size - 3, 3
                try:
                    line, bad = raw.decode("utf-8"), False
                except UnicodeDecodeError:
                    line, bad = raw.decode("utf-8", "replace"), True
                    self.bad_utf8.append(line_no)
                if same_clock is not None and line.startswith(same_head):
                    clock, rest = same_clock, line[len(same_head):]
                else:
                    m = match(line)
                    clock = None if m is None else clock_of(m)
                    if m is None or clock is None:
                        if head is None:
                            preamble.add(line)
                        else:
                            tail = self._continuation(tail, line, line_no, bad)
                        self._header_like(tail, line, line_no, impossible=m is not None)
                        offset += size
                        continue
                    header = m[0]
                    if header[-1:].isspace():
                        # Ends on fixed text ("- ", "] "), so matching cannot differ.
                        same_head, same_clock = header, clock
                    rest = line[m.end():]
                if head is not None:
                    yield record(head, tail, offset)
                    tail = None
                elif preamble.lines:
                    yield preamble.note(offset)
                    # The first message's record says that text came before it.
                    tail = _Tail(line_no, defects=["text_before_first_header"])
                head = (clock, line_no, offset, rest)
                if bad:
                    tail = tail or _Tail(line_no)
                    tail.defect("invalid_utf8")
                offset += size
        if head is None:
            raise DamagedInput(f"{self.source.name}: no readable WhatsApp message header")
        yield self._record(head, tail, offset)
        yield from self._closing_notes()

    @staticmethod
    def _continuation(tail: _Tail | None, line: str, line_no: int, bad: bool) -> _Tail:
        """Add a line that starts no message to the message before it."""
        if tail is None:
            tail = _Tail(line_no)
        tail.more.append(line)
        tail.last_line = line_no
        if bad:
            tail.defect("invalid_utf8")
        return tail

    def _header_like(self, tail: _Tail | None, line: str, line_no: int,
                     impossible: bool) -> None:
        """Note a header-like line kept as text: a date impossible here, or a pasted chat."""
        if impossible:
            self.impossible.append(line_no)
            if tail is not None:
                tail.defect("impossible_date_header")
        elif grammar.HEADER.match(line) is not None:
            self.merged.append(line_no)
            if tail is not None:
                tail.flags = ("header_like_continuation",)

    def _record(self, head: _Head, tail: _Tail | None, end: int) -> EventRecord:
        self.count += 1
        clock, line_no, start, rest = head
        flags: tuple[str, ...]
        defects: tuple[str, ...]
        if tail is None:
            more, flags, defects, last_line = None, (), (), line_no
        else:
            more, flags, defects = tail.more or None, tail.flags, tuple(tail.defects)
            last_line = tail.last_line
        # Positional: see _check_field_order (line, line_end, byte_offset, byte_length).
        locator = Locator(line_no, last_line, start, end - start)
        idx = rest.find(": ")
        sender = None
        if idx > 0:
            sender_raw = rest[:idx]
            sender = self.senders.get(sender_raw) or self._sender(sender_raw)
        if sender is None:
            text = rest if more is None else "\n".join((rest, *more))
            return EventRecord("system", clock, "sent", CHANNEL, locator, text=text,
                               flags=flags, defects=defects, extra={"notice_cue": "no_sender"})
        name, sender_id, outsider = sender
        body = rest[idx + 2:]
        text = body if more is None else "\n".join((body, *more))
        info = _classify_body(text, more is not None, self.style, self.siblings)
        if info is None and not outsider:
            # The common case, an ordinary message: built positionally, as keywords cost
            # a tenth of the throughput (kind, time, time_basis, channel, locator, sender,
            # sender_id, recipients, direction, text, subject, attachments, flags, defects).
            return EventRecord("message", clock, "sent", CHANNEL, locator, name, sender_id,
                               (), "unknown", text, None, (), flags, defects)
        info = info or grammar.Body()
        if outsider:
            flags += ("not_in_contacts",)
            info.extra["sender_raw"] = sender_raw
        if info.kind == "system":
            info.extra["notice_sender"] = name
            sender_id = None  # a notice is not something this person wrote
        return EventRecord(
            info.kind, clock, "call_started" if info.kind == "call" else "sent", CHANNEL,
            locator, sender=name, sender_id=sender_id, text=text, attachments=info.attachments,
            flags=(*flags, *info.flags), defects=defects, extra=info.extra,
        )

    def _sender(self, raw: str) -> tuple[str, str | None, bool] | None:
        """(name, E.164 id when the name is a phone number, not-in-contacts prefix seen).

        None when the supposed sender is really the start of a senderless notice
        whose own text contains ": " (a new group subject, say).
        """
        if raw in self.senders:
            return self.senders[raw]  # known not to be a sender (_record got None)
        if len(self.senders) > _CACHE_LIMIT:
            self.senders.clear()
        known: tuple[str, str | None, bool] | None = None
        if not grammar.is_notice_sentence(raw):
            name, outsider = raw, False
            # iOS marks people missing from the victim's address book with "~" + U+202F.
            if len(raw) > 2 and raw[0] == "~" and raw[1].isspace():
                name, outsider = raw[2:], True
            sender_id = phone_e164(name, self.region) if grammar.looks_like_phone(name) else None
            known = (name, sender_id, outsider)
        self.senders[raw] = known
        return known

    def _closing_notes(self) -> Iterator[FileNote]:
        if self.merged:
            yield FileNote("header_like_lines_merged",
                           f"{len(self.merged)} line(s) look like a message header of another "
                           "form than the file's and were kept as message text (e.g. a pasted "
                           f"chat): lines {_listed(self.merged)}.")
        if self.impossible:
            yield FileNote("impossible_date_header",
                           f"{len(self.impossible)} line(s) have the file's header form but a "
                           f"date or time that is impossible read as {self.order}; kept as "
                           f"text of the message before them: lines {_listed(self.impossible)}.")
        if self.bad_utf8:
            yield FileNote("invalid_utf8",
                           f"{len(self.bad_utf8)} line(s) are not valid UTF-8; invalid bytes "
                           f"show as U+FFFD in the text: lines {_listed(self.bad_utf8)}.")
        for cap in _EXPORT_CAPS:
            if abs(self.count - cap) <= cap * _CAP_TOLERANCE:
                yield FileNote("possible_export_cap",
                               f"The export holds {self.count} records, close to WhatsApp's "
                               f"reported cap of about {cap} messages per export: older "
                               "messages may have been left out by WhatsApp.")


def _listed(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:_LINES_LISTED]))
    return shown + (", ..." if len(lines) > _LINES_LISTED else "")


def _check_field_order() -> None:
    """Fail at import, not silently, if the record contract's field order changes.

    The hot path builds WallClock, Locator and EventRecord positionally for speed.
    """
    expected = {
        WallClock: ("text", "local", "instant", "precision", "flags"),
        Locator: ("line", "line_end", "byte_offset", "byte_length"),
        EventRecord: ("kind", "time", "time_basis", "channel", "locator", "sender",
                      "sender_id", "recipients", "direction", "text", "subject",
                      "attachments", "flags", "defects"),
    }
    for cls, names in expected.items():
        if tuple(f.name for f in fields(cls))[:len(names)] != names:
            raise ImportError(f"parsers.records.{cls.__name__} fields changed order; "
                              "update the positional calls in parsers.whatsapp")


_check_field_order()
PARSER = WhatsAppParser()
