"""Shared reading of Android "SMS Backup & Restore" (SyncTech) XML files.

Both of the app's files (``<smses>`` messages, ``<calls>`` call log) are one
root element holding hundreds of thousands of attribute-only records, so they
are read here with expat directly: no element tree is built, and memory stays
flat whatever the file size. Each format module supplies a RecordBuilder that
turns one record's attributes (and, for MMS, its child elements) into items.

Three things every reader of these files has to deal with live here too:

* The app writes emoji as numeric references to UTF-16 surrogate halves
  (``&#55357;&#56859;``), which expat rejects, so bytes pass through
  SurrogateRepair before expat sees them (section 4 of the format notes).
* The files are untrusted: a DOCTYPE is refused outright (the app never writes
  one), so no entity is ever declared or expanded and nothing external is read.
* Backups get cut short when copied off a phone: records before the cut are
  kept and the cut is reported with its byte position.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Protocol
from xml.parsers import expat

from defusedxml.common import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from parsers.errors import DamagedInput
from parsers.identifiers import handle_id, phone_e164
from parsers.records import EventRecord, FileNote, Locator, ParsedItem, Precision, WallClock

#: Bytes read from the file at a time (larger reads measured slower: the records of
#: one read wait in memory until it is parsed).
CHUNK_SIZE = 64 * 1024
#: The app writes "null" for many missing values (and "0" for unknown dates).
NULL = "null"
#: An outgoing MMS names its sender with this placeholder instead of the owner's number.
OWN_ADDRESS_PLACEHOLDER = "insert-address-token"
#: What the app writes as contact_name when the number is not in the victim's contacts.
UNKNOWN_CONTACT = "(Unknown)"

_BOM = b"\xef\xbb\xbf"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_from_timestamp = datetime.fromtimestamp
# Epoch values below this are taken as seconds, not milliseconds: as milliseconds
# they would fall in early 1973, before any SMS was sent.
_SECONDS_BELOW = 100_000_000_000
# Below 2**32 s (year 2106) a float holds epoch milliseconds / 1000 to within
# a fraction of a microsecond, so datetime.fromtimestamp rounds it exactly.
_FLOAT_EXACT_BELOW = 2**32 * 1000
# More digits than any datetime can hold in milliseconds.
_MAX_DIGITS = 18


# -- detection -----------------------------------------------------------------

# What may come before the root element: the XML declaration, the app's
# "File Created By SMS Backup & Restore" comment, an xml-stylesheet PI, and a
# DOCTYPE (never written by the app, but claimed so parse() can refuse it loudly).
_PROLOG_ITEM = re.compile(
    rb"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", re.DOTALL
)
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.-]*)(?=[\s/>])([^>]*)")
_COUNT_ATTRIBUTE = re.compile(rb"\scount\s*=")
_SHORT_CODE = re.compile(r"\d{3,6}")


def root_start_tag(head: bytes) -> tuple[str, bytes] | None:
    """The root element's name and the rest of its start tag, from the head of a file."""
    position = len(_BOM) if head.startswith(_BOM) else 0
    while (item := _PROLOG_ITEM.match(head, position)) is not None:
        position = item.end()
    match = _ROOT_TAG.match(head, position)
    if match is None:
        return None
    return match.group(1).decode("ascii"), match.group(2)


def looks_like_backup(head: bytes, root: str, record_tags: tuple[bytes, ...]) -> bool:
    """The root is ``root`` and either has the app's count attribute or holds its records.

    A bare root name alone is too weak: other apps write ``<calls>`` files too.
    """
    found = root_start_tag(head)
    if found is None or found[0] != root:
        return False
    attributes = found[1]
    return bool(_COUNT_ATTRIBUTE.search(attributes)) or any(tag in head for tag in record_tags)


# -- values --------------------------------------------------------------------


def present(value: str | None) -> str | None:
    """The attribute value, or None when absent, empty or the app's "null"."""
    if not value or value == NULL:
        return None
    return value


def epoch_clock(text: str | None) -> tuple[WallClock | None, str | None]:
    """The instant of an epoch-milliseconds attribute, or the defect explaining its absence.

    The app writes milliseconds; values small enough to be seconds (other
    exporters that imitate the format) are read as seconds and flagged.
    """
    if not text or not text.isdecimal():
        return None, "missing" if not text or text == NULL else "unparseable"
    if len(text) > _MAX_DIGITS:
        return None, "out_of_range"  # and int() refuses thousands of digits
    value = int(text)
    if _SECONDS_BELOW <= value < _FLOAT_EXACT_BELOW:
        # The common case, run for every record. Exact to the millisecond in this
        # range, and twice as fast as a timedelta; WallClock(text, local, instant,
        # precision, flags) positionally, as keywords cost more than the rest.
        return WallClock(text, None, _from_timestamp(value / 1000, UTC), "subsecond", ()), None
    if value == 0:
        return None, "missing"
    precision: Precision = "subsecond"
    flags: tuple[str, ...] = ()
    if value < _SECONDS_BELOW:
        value *= 1000
        precision = "second"
        flags = ("epoch_seconds",)
    try:
        instant = _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        return None, "out_of_range"
    return WallClock(text, None, instant, precision, flags), None


def instant_text(ms_text: str | None) -> str | None:
    """An epoch-milliseconds attribute as ISO 8601 UTC, for notes."""
    clock, _ = epoch_clock(ms_text)
    if clock is None or clock.instant is None:
        return None
    return clock.instant.isoformat(timespec="milliseconds")


class PartyIds(dict[str, str]):
    """address -> party id, worked out once per address: a backup repeats a few
    hundred numbers a million times. A hit is a plain dict look-up; bounded."""

    limit = 100_000

    def __init__(self, platform: str, region: str) -> None:
        super().__init__()
        self.platform = platform
        self.region = region

    def __missing__(self, address: str) -> str:
        if len(self) > self.limit:
            self.clear()
        found = self[address] = party_id(address, self.platform, self.region)
        return found


def party_id(address: str, platform: str, region: str) -> str:
    """A phone number as E.164; short codes and alphanumeric sender ids as a handle.

    Short codes (3 to 6 bare digits, like 80800 or 999) are checked first:
    phonenumbers accepts some of them as possible national numbers.
    """
    if _SHORT_CODE.fullmatch(address):
        return handle_id(platform, address)
    return phone_e164(address, region) or handle_id(platform, address)


def display_name(contact_name: str | None) -> str | None:
    """The victim's address-book name for the party, when the app found one."""
    name = present(contact_name)
    return None if name is None or name == UNKNOWN_CONTACT else name


# -- surrogate repair -----------------------------------------------------------

# A numeric character reference that may be a UTF-16 surrogate half (55296-57343,
# D800-DFFF); the callback checks the exact range.
_SURROGATE_REF = re.compile(
    rb"&#(?:0{0,8}(5[5-7]\d\d\d)|[xX]0{0,8}([dD][89a-fA-F][0-9a-fA-F][0-9a-fA-F]));"
)
# A reference cut by the end of a read is at most this long (the longest match above).
_LONGEST_REF = 18
_REPLACEMENT = 0xFFFD

PAIR = "pair"
LONE = "lone"


def _surrogate(match: re.Match[bytes]) -> int | None:
    decimal, hexadecimal = match.groups()
    value = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return value if 0xD800 <= value <= 0xDFFF else None


def _reference(code_point: int, length: int) -> bytes:
    # Zero-padded to the length it replaces, so byte offsets that expat reports
    # on the repaired stream are offsets in the original file.
    return b"&#" + str(code_point).zfill(length - 3).encode("ascii") + b";"


class SurrogateRepair:
    """Reads a stream, rewriting UTF-16 surrogate references that expat rejects.

    A high+low pair of references becomes one reference to the real code point;
    a lone half becomes a reference to U+FFFD. Each rewrite keeps the byte length
    and is logged in ``events`` as (offset, PAIR or LONE), so records can say
    which of them were repaired. A reference split across two reads, or a high
    half whose low half is in the next read, is held back until the next read.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.events: deque[tuple[int, str]] = deque()
        self.pairs = 0
        self.lone = 0
        self.lone_offsets: list[int] = []
        #: Bytes handed out so far (equal to bytes read once the stream is exhausted).
        self.offset = 0

    def chunks(self) -> Iterator[bytes]:
        carry = b""
        while True:
            try:
                data = self.stream.read(self.chunk_size)
            except OSError as exc:
                raise DamagedInput(f"file unreadable after byte {self.offset}: {exc}") from exc
            final = not data
            buffer = carry + data if carry else data
            if not buffer:
                return
            out, carry = self._repair(buffer, final)
            self.offset += len(out)
            if out:
                yield out
            if final:
                return

    def _repair(self, buffer: bytes, final: bool) -> tuple[bytes, bytes]:
        cut = len(buffer)
        if not final:
            amp = buffer.rfind(b"&", max(0, cut - _LONGEST_REF))
            if amp != -1 and buffer.find(b";", amp) == -1:
                cut = amp
        if _SURROGATE_REF.search(buffer, 0, cut) is None:
            return buffer[:cut], buffer[cut:]
        pieces: list[bytes] = []
        position = 0
        matches = list(_SURROGATE_REF.finditer(buffer, 0, cut))
        index = 0
        while index < len(matches):
            match = matches[index]
            value = _surrogate(match)
            index += 1
            if value is None:
                continue
            start, end = match.span()
            if value <= 0xDBFF:
                after = matches[index] if index < len(matches) else None
                low = _surrogate(after) if after is not None and after.start() == end else None
                if after is not None and low is not None and low >= 0xDC00:
                    index += 1
                    end = after.end()
                    point = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    pieces += (buffer[position:start], _reference(point, end - start))
                    position = end
                    self.pairs += 1
                    self.events.append((self.offset + start, PAIR))
                    continue
                if end == cut and not final:
                    # Its low half may begin the next read.
                    cut = start
                    break
            pieces += (buffer[position:start], _reference(_REPLACEMENT, end - start))
            position = end
            self.lone += 1
            self.events.append((self.offset + start, LONE))
            if len(self.lone_offsets) < 10:
                self.lone_offsets.append(self.offset + start)
        pieces.append(buffer[position:cut])
        return b"".join(pieces), buffer[cut:]


# -- the reader ----------------------------------------------------------------


class RecordBuilder(Protocol):
    """Turns one record element (and its descendants) into parsed items."""

    def begin(self, name: str, attributes: dict[str, str],
              locator: Locator) -> list[ParsedItem] | None:
        """The record's items when its start tag says all (sms, call); None to await end()."""
        ...

    def child(self, name: str, attributes: dict[str, str], locator: Locator) -> None:
        """A descendant of the record begun last, in document order."""
        ...

    def end(self) -> list[ParsedItem]:
        """The items of the record begun last, when begin() returned None."""
        ...


@dataclass(frozen=True, slots=True)
class BackupKind:
    """What one of the app's files looks like and how to describe it in notes."""

    root: str
    records: frozenset[str]
    #: Lower-case noun for notes, e.g. "message", "call".
    noun: str
    #: Noted on every file: what this kind of backup cannot contain.
    scope_note: str


def _refuse_doctype(name: str, *_: object) -> None:
    raise DTDForbidden(name, None, None)


def _refuse_entity(name: str, *_: object) -> None:
    raise EntitiesForbidden(name, None, None, None, None, None)


def _refuse_external(context: str, base: str | None, system_id: str | None,
                     public_id: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, system_id, public_id)


def _protected_parser() -> expat.XMLParserType:
    """An expat parser with defusedxml's protections, tightened to refuse any DOCTYPE."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    return parser


class _Reader:
    """The expat callbacks: route record elements to the builder, keep locators.

    start() and end() run for every element of files with a million records, so
    their common path (a record element at depth 2) is kept short and flat, and
    records are built with positional arguments (keywords cost several times more).
    """

    def __init__(self, kind: BackupKind, builder: RecordBuilder,
                 parser: expat.XMLParserType, repair: SurrogateRepair) -> None:
        self.kind = kind
        self.root = kind.root
        self.record_names = kind.records
        self.begin = builder.begin
        self.builder = builder
        self.parser = parser
        self.repair = repair
        self.events = repair.events
        self.depth = 0
        self.root_seen = False
        self.root_closed = False
        self.root_attributes: dict[str, str] = {}
        self.in_record = False
        #: Where the current (or last) record starts: byte offset, line and path.
        self.record = Locator()
        self.record_failed: str | None = None
        self.pending: list[ParsedItem] | None = None
        #: Record elements started, by name.
        self.counts: dict[str, int] = {}
        self.unknown: Counter[str] = Counter()
        # Paths and per-name counters of the open elements inside a record, for
        # the record ``paths_of`` (rebuilt when a record has children).
        self.paths_of: Locator | None = None
        self.paths: list[str] = []
        self.child_counts: list[dict[str, int]] = []
        self.out: list[ParsedItem] = []
        #: Why reading stopped after the closing root tag, when bytes followed it.
        self.trailing: str | None = None
        self._noted_root = False
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end

    @property
    def found(self) -> int:
        """Complete records read (the root's count attribute is checked against it)."""
        return sum(self.counts.values()) - self.in_record

    def feed(self, chunk: bytes, *, final: bool) -> DamagedInput | None:
        """Parse the next bytes; the failure that ends the file, if any."""
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError as exc:
            if self.root_closed and not final:
                self.trailing = expat.ErrorString(exc.code)
                return None
            return self._damage(exc, final=final)
        except DefusedXmlException as exc:
            return DamagedInput(
                f"refused: the file has a DOCTYPE or entity declaration ({type(exc).__name__}); "
                "SMS Backup & Restore never writes one, and it could expand or fetch content"
            )
        except DamagedInput as exc:  # raised by a callback (wrong root element)
            return exc
        except (LookupError, ValueError) as exc:
            # pyexpat's own decoders, for an encoding the declaration names.
            return DamagedInput(f"cannot decode the file ({type(exc).__name__}: {exc})")
        return None

    def drain(self) -> list[ParsedItem]:
        """The items finished since the last call, in file order."""
        out, self.out = self.out, []
        if self.root_seen and not self._noted_root:
            self._noted_root = True
            out[:0] = _backup_notes(self.kind, self.root_attributes)
        return out

    def _damage(self, exc: expat.ExpatError, *, final: bool) -> DamagedInput:
        reason = expat.ErrorString(exc.code)
        if not self.root_seen:
            return DamagedInput(f"not a readable <{self.root}> XML file: {reason} "
                                f"(line {exc.lineno}, column {exc.offset})")
        if final and not self.root_closed:
            # Only an element or token left open at the end fails the final call.
            record = self.record
            if self.in_record:
                where = f"inside {record.json_path}, which starts at byte {record.byte_offset}"
            elif record.json_path:
                where = f"after {record.json_path}, which starts at byte {record.byte_offset}"
            else:
                where = "before the first record"
            return DamagedInput(f"file truncated at byte {self.repair.offset}: it ends {where}; "
                                f"{self.found} complete records were read")
        return DamagedInput(f"XML not well-formed at byte {self.parser.ErrorByteIndex} "
                            f"(line {exc.lineno}, column {exc.offset}): {reason}")

    # -- expat callbacks -------------------------------------------------------

    def start(self, name: str, attributes: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        if depth == 2 and name in self.record_names:
            number = self.counts[name] = self.counts.get(name, 0) + 1
            parser = self.parser
            # line, line_end, byte_offset, byte_length, json_path. The path is
            # 1-based, an XPath that xmllint --xpath finds as written.
            locator = self.record = Locator(parser.CurrentLineNumber, None,
                                            parser.CurrentByteIndex, None,
                                            f"{self.root}/{name}[{number}]")
            self.in_record = True
            try:
                self.pending = self.begin(name, attributes, locator)
            except Exception as exc:  # noqa: BLE001 - one unforeseen record must not stop the file
                self.record_failed = f"{type(exc).__name__}: {exc}"
        elif depth > 2:
            if self.in_record:
                self._start_child(depth, name, attributes)
        elif depth == 2:
            self.unknown[name] += 1
        elif name != self.root:
            raise DamagedInput(f"root element is <{name}>, not <{self.root}>")
        else:
            self.root_seen = True
            self.root_attributes = attributes

    def _start_child(self, depth: int, name: str, attributes: dict[str, str]) -> None:
        level = depth - 3
        if self.paths_of is not self.record:
            self.paths_of = self.record
            self.paths, self.child_counts = [self.record.json_path or ""], [{}]
        counts = self.child_counts[level]
        number = counts[name] = counts.get(name, 0) + 1
        path = f"{self.paths[level]}/{name}[{number}]"
        del self.paths[level + 1:], self.child_counts[level + 1:]
        self.paths.append(path)
        self.child_counts.append({})
        if self.record_failed is not None or self.pending is not None:
            return
        locator = Locator(line=self.parser.CurrentLineNumber,
                          byte_offset=self.parser.CurrentByteIndex, json_path=path)
        try:
            self.builder.child(name, attributes, locator)
        except Exception as exc:  # noqa: BLE001 - one unforeseen record must not stop the file
            self.record_failed = f"{type(exc).__name__}: {exc}"

    def end(self, name: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == 2 and self.in_record:
            self.in_record = False
            items = self.pending
            if items is None or self.record_failed is not None:
                items = self._finish_record()
            self.pending = None
            events = self.events
            # At a record's end expat has passed all of its bytes (for an empty
            # element CurrentByteIndex is the end of its tag), so every repair
            # inside it is logged below this bound; the log runs ahead of expat.
            if events and events[0][0] < self.parser.CurrentByteIndex:
                self._mark_repairs(items, self.parser.CurrentByteIndex)
            self.out += items
        elif depth == 1:
            self.root_closed = True

    def _finish_record(self) -> list[ParsedItem]:
        failed, self.record_failed = self.record_failed, None
        if failed is None:
            try:
                return self.builder.end()
            except Exception as exc:  # noqa: BLE001 - one unforeseen record must not stop the file
                failed = f"{type(exc).__name__}: {exc}"
        return [FileNote(
            code="unreadable_record",
            message=f"The {self.kind.noun} at {self.record.json_path} (byte "
                    f"{self.record.byte_offset}) could not be read ({failed}); it is kept in "
                    "the stored original only.",
        )]

    def _mark_repairs(self, items: list[ParsedItem], bound: int) -> None:
        events = self.events
        start = self.record.byte_offset or 0
        pairs = lone = 0
        while events and events[0][0] < bound:
            offset, what = events.popleft()
            if offset < start:
                continue  # between records or in the root's attributes: counted in the notes
            if what == PAIR:
                pairs += 1
            else:
                lone += 1
        if not (pairs or lone):
            return
        for item in items:
            if isinstance(item, EventRecord):
                if pairs:
                    item.flags += ("utf16_surrogates_repaired",)
                if lone:
                    item.defects += ("lone_surrogate_replaced",)


def read_backup(source_open: Callable[[], BinaryIO], kind: BackupKind,
                builder: RecordBuilder) -> Iterator[ParsedItem]:
    """Stream a backup file's items; raise DamagedInput when it cannot be read (further)."""
    with source_open() as stream:
        repair = SurrogateRepair(stream)
        reader = _Reader(kind, builder, _protected_parser(), repair)
        failure: DamagedInput | None = None
        try:
            for chunk in repair.chunks():
                failure = reader.feed(chunk, final=False)
                yield from reader.drain()
                if failure is not None or reader.trailing is not None:
                    break
            else:
                failure = reader.feed(b"", final=True)
        except DamagedInput as exc:  # the stream itself failed
            failure = exc
    yield from reader.drain()
    if failure is None and not reader.root_seen:
        failure = DamagedInput(f"no <{kind.root}> element found")
    yield from _end_notes(kind, reader, repair)
    if failure is not None:
        raise failure


def _backup_notes(kind: BackupKind, attributes: dict[str, str]) -> list[FileNote]:
    notes = [FileNote(code="export_scope", message=kind.scope_note)]
    described = []
    if backup_set := present(attributes.get("backup_set")):
        described.append(f"backup set {backup_set}")
    if backup_date := present(attributes.get("backup_date")):
        when = instant_text(backup_date)
        described.append(f"made {when} UTC" if when else f"backup_date {backup_date!r}")
    if backup_type := present(attributes.get("type")):
        described.append(f"type {backup_type}")
    if described:
        notes.append(FileNote(code="backup_info",
                              message="SMS Backup & Restore " + ", ".join(described) + "."))
    return notes


def _end_notes(kind: BackupKind, state: _Reader,
               repair: SurrogateRepair) -> Iterator[FileNote]:
    if not state.root_seen:
        return
    declared = state.root_attributes.get("count")
    if declared is not None and declared != str(state.found):
        yield FileNote(
            code="count_mismatch",
            message=f"The file says it holds {declared} {kind.noun} records; "
                    f"{state.found} were found.",
        )
    if repair.pairs:
        yield FileNote(
            code="utf16_surrogates_repaired",
            message="Characters (emoji) written as pairs of UTF-16 surrogate references, "
                    "which XML forbids, were read as the characters they encode: "
                    f"{repair.pairs}. The records carry the flag utf16_surrogates_repaired.",
        )
    if repair.lone:
        yield FileNote(
            code="lone_surrogates_replaced",
            message=f"Unpaired UTF-16 surrogate references read as U+FFFD: {repair.lone} "
                    f"(first at bytes {', '.join(map(str, repair.lone_offsets))}). The records "
                    "carry the defect lone_surrogate_replaced.",
        )
    if state.unknown:
        listed = ", ".join(f"<{name}> x{n}" for name, n in sorted(state.unknown.items()))
        yield FileNote(
            code="unknown_elements",
            message=f"Elements this parser does not read, kept in the original only: {listed}.",
        )
    if state.trailing is not None:
        yield FileNote(
            code="trailing_data",
            message=f"Bytes after the closing </{kind.root}> were not read ({state.trailing}).",
        )
