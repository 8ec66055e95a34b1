"""Facebook Messenger and Instagram thread pages in the HTML form of the download (message_N.html).

The HTML form carries less than the JSON: times are wall-clock text in the
account's display format, with no zone and often no seconds, so each record
keeps its local time for the store to resolve with the case zone. Meta has
used three markups over the years, all read here:

* up to about 2021: ``div.pam._2lej`` blocks with ``_2lek`` (sender), ``_2let``
  (body) and ``_2lem`` (time);
* about 2022-2023: ``div.pam._a6-g`` blocks with ``_a6-h``, ``_a6-p``, ``_a6-o``;
* 2024 on: ``section._a6-g`` with ``h2._a6-h``, ``div._a6-p`` and
  ``footer._a6-o`` (the time in ``div._a72d``).

A page is one conversation; it is parsed whole with BeautifulSoup (pages are
a few megabytes at most) and read in document order, newest first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from parsers import meta_common as common
from parsers.base import DateOrder, ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.html_page import class_names, read_html_page
from parsers.records import (
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    Precision,
    WallClock,
)

#: Pages above this size are refused rather than built into a tree in memory (a
#: page of 10,000 messages is about 3-10 MB; the tree takes several times that).
MAX_PAGE_BYTES = 48 * 1024 * 1024
_LISTED = 10

# -- detection ------------------------------------------------------------------

_HTML_TAG = re.compile(rb"<html[\s>]", re.IGNORECASE)
_NEW_MARKUP = re.compile(rb'class="[^"]*\b_a6-g\b')
_NEW_PARTS = re.compile(rb'class="[^"]*\b_a6-(?:o|h)\b')
_OLD_MARKUP = re.compile(rb'class="[^"]*\b_2lej\b')
_OLD_PARTS = re.compile(rb'class="[^"]*\b_2le[mt]\b')
_THREAD_FILE_NAME = re.compile(r"message_\d+\.html?", re.IGNORECASE)

# -- blocks -----------------------------------------------------------------------

_BLOCK_CLASSES = frozenset({"_a6-g", "_2lej"})
_SENDER_CLASSES = frozenset({"_a6-h", "_2lek"})
_BODY_CLASSES = frozenset({"_a6-p", "_2let"})
_TIME_CLASSES = frozenset({"_a6-o", "_2lem"})
_TIME_INNER = "_a72d"
_MEDIA_TAGS = ("img", "video", "audio", "source")
# Text under these is not message text: links and media are attachments,
# lists are the reactions.
_NOT_TEXT = frozenset({"a", "img", "video", "audio", "source", "ul", "ol", "script", "style"})
_TEXT_BLOCKS = frozenset({"div", "p", "li", "section", "h1", "h2", "h3", "footer", "header"})
_SPECIAL_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)

# -- times -------------------------------------------------------------------------

_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
    ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
    ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
    ("dec", "december")), start=1) for name in names}
_TIME = (r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?"
         r"(?:\s?(?P<ap>[AaPp]\.?[Mm]\.?))?"
         r"(?:\s(?P<zone>UTC|GMT)(?P<off>[+-]\d{1,2}(?::?\d{2})?)?)?")
_WEEKDAY = r"(?:[A-Za-z]+,?\s)?"
_STAMPS = (
    # "Mar 12, 2024 10:15:03 pm", "Mar 12, 2019, 10:15 PM", "Tuesday, March 12, 2019 at 22:15"
    re.compile(_WEEKDAY + r"(?P<mon>[A-Za-z]{3,9})\.?\s(?P<d>\d{1,2}),?\s(?P<y>\d{4}),?"
               r"(?:\sat)?\s" + _TIME),
    # "12 Mar 2024, 22:15", "Tuesday, 12 March 2019 at 22:15 UTC+01"
    re.compile(_WEEKDAY + r"(?P<d>\d{1,2})\s(?P<mon>[A-Za-z]{3,9})\.?\s(?P<y>\d{4}),?"
               r"(?:\sat)?\s" + _TIME),
    # "2024-03-12 22:15:03"
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:,?\s|T)" + _TIME),
)
# "11/12/2017, 21:48": the day/month order comes from the file or the officer.
_NUMERIC = re.compile(r"(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<y>\d{4}),?\s" + _TIME)
_PARTICIPANTS = re.compile(r"^\s*Participants:\s*(.+?)\s*$", re.DOTALL)


class MetaHtmlParser:
    name = "meta_html"
    version = "1.0.0"
    format = "meta_html"

    def detect(self, probe: Probe) -> bool:
        """A page in one of Meta's message markups, named message_N.html or listing participants.

        Every page of a Meta download shares the markup (posts, comments, likes),
        so the markup alone is not enough: the file name or the "Participants:"
        line of a thread page must agree.
        """
        head = probe.head
        if not _HTML_TAG.search(head):
            return False
        new = _NEW_MARKUP.search(head) and _NEW_PARTS.search(head)
        old = _OLD_MARKUP.search(head) and _OLD_PARTS.search(head)
        if not (new or old):
            return False
        base = probe.name.replace("\\", "/").rsplit("/", 1)[-1]
        return bool(_THREAD_FILE_NAME.fullmatch(base)) or b"Participants:" in head

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        page = _Page.read(source)
        yield from _Reader(source, options, page).items()


# -- reading the page ----------------------------------------------------------------


@dataclass(slots=True)
class _Page:
    soup: BeautifulSoup
    text: str
    bom: int
    bad_utf8: int | None
    line_starts: list[int]

    @classmethod
    def read(cls, source: SourceFile) -> _Page:
        page = read_html_page(source, MAX_PAGE_BYTES, "a Meta thread page")
        text = page.text
        starts = [0]
        found = text.find("\n")
        while found >= 0:
            starts.append(found + 1)
            found = text.find("\n", found + 1)
        return cls(page.soup, text, page.bom, page.bad_utf8, starts)


def _has_class(tag: Tag, wanted: frozenset[str]) -> bool:
    return not wanted.isdisjoint(class_names(tag))


def _blocks(soup: BeautifulSoup) -> list[Tag]:
    """Message blocks in document order, outermost only."""
    found = [tag for tag in soup.find_all(["div", "section"])
             if isinstance(tag, Tag) and _has_class(tag, _BLOCK_CLASSES)]
    chosen = {id(tag) for tag in found}
    outer = []
    for tag in found:
        if not any(id(parent) in chosen for parent in tag.parents):
            outer.append(tag)
    return outer


def _plain_text(tag: Tag) -> str:
    return "".join(s for s in tag.find_all(string=True)
                   if not isinstance(s, _SPECIAL_STRINGS))


def _body_text(body: Tag) -> str | None:
    """The message text: the text of the body's blocks, one line each, without links or media.

    Line breaks written as <br> become newlines; text inside the page's own
    block elements is kept exactly, whitespace included.
    """
    for br in body.find_all("br"):
        br.replace_with(NavigableString("\n"))
    groups: list[tuple[int, list[str]]] = []
    for piece in body.find_all(string=True):
        if isinstance(piece, _SPECIAL_STRINGS):
            continue
        holder = None
        skip = False
        parent = piece.parent
        while parent is not None and parent is not body:
            if parent.name in _NOT_TEXT:
                skip = True
                break
            if holder is None and parent.name in _TEXT_BLOCKS:
                holder = parent
            parent = parent.parent
        if skip:
            continue
        key = id(holder) if holder is not None else id(body)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(str(piece))
        else:
            groups.append((key, [str(piece)]))
    lines = ["".join(parts) for _, parts in groups]
    lines = [line for line in lines if line.strip()]
    return "\n".join(lines) if lines else None


# -- times ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stamp:
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int | None
    offset: timedelta | None


def _time_parts(m: re.Match[str]) -> tuple[int, int, int | None] | None:
    hour, minute = int(m["h"]), int(m["mi"])
    second = int(m["s"]) if m["s"] is not None else None
    if m["ap"] is not None:
        if not 1 <= hour <= 12:
            return None
        pm = m["ap"][0] in "Pp"
        hour = hour % 12 + (12 if pm else 0)
    return hour, minute, second


def _offset(m: re.Match[str]) -> timedelta | None:
    if m["zone"] is None:
        return None
    off = m["off"]
    if not off:
        return timedelta(0)
    sign = -1 if off[0] == "-" else 1
    digits = off[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    return sign * timedelta(hours=hours, minutes=minutes)


def _named_stamp(text: str) -> _Stamp | None:
    for pattern in _STAMPS:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        if "mon" in pattern.groupindex:
            month = _MONTHS.get(m["mon"].lower())
            if month is None:
                continue
        else:
            month = int(m["m"])
        parts = _time_parts(m)
        if parts is None:
            return None
        return _Stamp(int(m["y"]), month, int(m["d"]), *parts, _offset(m))
    return None


def _clock(stamp: _Stamp, text: str, flags: tuple[str, ...]) -> WallClock | None:
    precision: Precision = "minute" if stamp.second is None else "second"
    try:
        moment = datetime(  # noqa: DTZ001 - the page shows wall-clock time; a zone is added below only when it states one
            stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second or 0)
        if stamp.offset is not None:
            return WallClock(text, instant=moment.replace(tzinfo=timezone(stamp.offset)),
                             precision=precision, flags=flags)
    except ValueError:  # an impossible date, or an offset beyond a day
        return None
    return WallClock(text, local=moment, precision=precision, flags=flags)


@dataclass(slots=True)
class _Order:
    """The day/month order of numeric dates, from the officer or the file's own dates."""

    order: DateOrder
    ambiguous: bool
    reason: str


def _numeric_order(texts: list[str], given: DateOrder | None) -> _Order | None:
    numeric = [m for m in map(_NUMERIC.fullmatch, texts) if m is not None]
    if not numeric:
        return None
    if given is not None:
        return _Order(given, False, f"as set by the officer ({given})")
    first = any(int(m["a"]) > 12 for m in numeric)
    second = any(int(m["b"]) > 12 for m in numeric)
    if first and not second:
        return _Order("dmy", False, "a first number above 12 shows day first")
    if second and not first:
        return _Order("mdy", False, "a second number above 12 shows month first")
    twelve_hour = any(m["ap"] is not None for m in numeric)
    order: DateOrder = "mdy" if twelve_hour else "dmy"
    why = ("the file has dates both ways round" if first and second
           else "no date in the file has a number above 12")
    return _Order(order, True, f"{why}; {order} was assumed from the "
                               f"{'12' if twelve_hour else '24'}-hour clock")


def _numeric_stamp(text: str, order: _Order | None) -> _Stamp | None:
    m = _NUMERIC.fullmatch(text)
    if m is None or order is None:
        return None
    a, b = int(m["a"]), int(m["b"])
    day, month = (a, b) if order.order == "dmy" else (b, a)
    parts = _time_parts(m)
    if parts is None:
        return None
    return _Stamp(int(m["y"]), month, day, *parts, _offset(m))


# -- records ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    """One message block's parts, found in a single walk over its elements."""

    tag: Tag
    sender: str | None = None
    time_text: str | None = None
    body: Tag | None = None
    media: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, tag: Tag) -> _Block:
        block = cls(tag)
        sender_tag = time_tag = None
        for element in tag.descendants:
            if not isinstance(element, Tag):
                continue
            classes = element.get("class")
            if classes:
                if sender_tag is None and not _SENDER_CLASSES.isdisjoint(classes):
                    sender_tag = element
                elif time_tag is None and not _TIME_CLASSES.isdisjoint(classes):
                    time_tag = element
                elif block.body is None and not _BODY_CLASSES.isdisjoint(classes):
                    block.body = element
                elif (_TIME_INNER in classes and time_tag is not None
                      and any(parent is time_tag for parent in element.parents)):
                    time_tag = element  # 2024 pages put the time in a div of the footer
            name = element.name
            if name == "li":
                text = " ".join(_plain_text(element).split())
                if text:
                    block.reactions.append(text)
            elif name == "a" or name in _MEDIA_TAGS:
                block._reference(element.get("href" if name == "a" else "src"))
        if sender_tag is not None:
            block.sender = _plain_text(sender_tag).strip() or None
        if time_tag is not None:
            block.time_text = " ".join(_plain_text(time_tag).split()) or None
        return block

    def _reference(self, value: object) -> None:
        if not isinstance(value, str) or not value:
            return
        if common.is_remote(value):
            if value not in self.links:
                self.links.append(value)
        elif (not value.startswith(("#", "mailto:", "javascript:", "data:"))
              and value not in self.media):
            self.media.append(value)


@dataclass(slots=True)
class _Counts:
    untimed: list[int] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, source: SourceFile, options: ParseOptions, page: _Page) -> None:
        self.source = source
        self.page = page
        self.media = common.Media(source.siblings)
        self.counts = _Counts()
        self.blocks = [_Block.of(tag) for tag in _blocks(page.soup)]
        self.order = _numeric_order([b.time_text for b in self.blocks if b.time_text],
                                    options.date_order)
        self._char = 0
        self._byte = page.bom

    def items(self) -> Iterator[ParsedItem]:
        # A block without a time is the page's header when it lists the participants;
        # otherwise it is a message whose time is missing (counted in a note).
        messages = [b for b in self.blocks if b.time_text is not None
                    or (b.sender is not None and b.tag.find(string=_PARTICIPANTS) is None)]
        if not messages:
            raise DamagedInput(f"{self.source.name}: no message block found in the page")
        uris = [u for b in messages for u in b.media]
        links = [link for b in messages for link in b.links]
        choice = common.choose_service(uris, (), links)
        thread_path = next(filter(None, map(common.thread_path_in_uri, uris)), None)
        folder = common.folder_of(thread_path)
        base = self._base(folder, thread_path)
        yield choice.note()
        yield self._thread_note(thread_path, len(messages))
        folder_note = common.folder_note(folder, thread_path or "")
        if folder_note is not None:
            yield folder_note
        yield common.limits_note(choice.channel)
        yield FileNote("local_times",
                       "Times on the page are wall-clock text in the account's display format, "
                       "with no zone; each record keeps that text and its local time, resolved "
                       "with the case time zone.")
        if self.order is not None:
            yield FileNote("date_order",
                           f"Numeric dates read as {self.order.order}: {self.order.reason}.")
        if self.page.bad_utf8 is not None:
            yield common.invalid_utf8_note(self.page.bad_utf8)
        for block in messages:
            record = self._record(block, choice.channel, thread_path, base)
            if record is not None:
                yield record
        yield from self._closing_notes()

    def _base(self, folder: str | None, thread_path: str | None) -> dict[str, str]:
        base: dict[str, str] = {}
        names = self._participants()
        if names is not None:
            base["participants"] = json.dumps(names, ensure_ascii=False)
        title = self._title()
        if title:
            base["title"] = title
        if folder is not None:
            base["folder"] = folder
        thread_id = common.thread_id_of(thread_path)
        if thread_id is not None:
            base["thread_id"] = thread_id
        return base

    def _title(self) -> str | None:
        title = self.page.soup.find("title")
        return _plain_text(title).strip() or None if isinstance(title, Tag) else None

    def _participants(self) -> list[str] | None:
        for piece in self.page.soup.find_all(string=_PARTICIPANTS):
            m = _PARTICIPANTS.match(str(piece))
            if m is None:
                continue
            listed = m.group(1)
            head, sep, last = listed.rpartition(" and ")
            names = [*head.split(", "), last] if sep else [listed]
            return [n.strip() for n in names if n.strip()]
        return None

    def _thread_note(self, thread_path: str | None, count: int) -> FileNote:
        title = self._title()
        where = (f"thread {thread_path} (named by its media paths)" if thread_path
                 else "no thread path (no media path names one), so records carry no "
                      "conversation key")
        return FileNote("meta_thread",
                        f"HTML thread page {title!r}: {count} message block(s); {where}. "
                        "Messages are listed newest first; locators give the page line.")

    def _record(self, block: _Block, channel: str, thread_path: str | None,
                base: dict[str, str]) -> EventRecord | None:
        locator = self._locator(block.tag)
        if block.time_text is None:
            self.counts.untimed.append(locator.line or 0)
            return None
        clock = self._clock(block.time_text)
        if clock is None:
            if len(self.counts.unparsed) < 3:  # examples for the note
                self.counts.unparsed.append(block.time_text)
            self.counts.untimed.append(locator.line or 0)
            return None
        text = _body_text(block.body) if block.body is not None else None
        defects: list[str] = []
        if block.sender is None:
            defects.append("no_sender")
        if self.page.bad_utf8 is not None and "\ufffd" in f"{block.sender}{text}":
            defects.append("invalid_utf8")
        extra = dict(base)
        info = common.classify_text(text, block.sender, calls=True)
        flags = list(info.flags)
        if info is not common.PLAIN:
            extra["text_cue"] = info.cue or ""
        if channel == common.INSTAGRAM and text is not None and text.endswith("(edited)"):
            flags.append("edited")
        links = block.links
        if links:
            extra["share_link"] = links[0]
            if len(links) > 1:
                extra["links"] = json.dumps(links, ensure_ascii=False)
        if block.reactions:
            extra["reactions"] = json.dumps(block.reactions, ensure_ascii=False)
        attachments = tuple(self.media.ref(uri) for uri in block.media)
        return EventRecord(
            info.kind, clock, "call_started" if info.kind == "call" else "sent", channel,
            locator, sender=block.sender, text=text, attachments=attachments,
            flags=tuple(flags), defects=tuple(defects), extra=extra, conversation=thread_path,
        )

    def _clock(self, text: str) -> WallClock | None:
        stamp = _named_stamp(text)
        flags: tuple[str, ...] = ()
        if stamp is None:
            stamp = _numeric_stamp(text, self.order)
            if stamp is not None and self.order is not None and self.order.ambiguous:
                flags = ("ambiguous_day_month",)
        if stamp is None:
            return None
        if stamp.second is None:
            flags += ("minute_precision",)
        return _clock(stamp, text, flags)

    def _locator(self, tag: Tag) -> Locator:
        line, column = tag.sourceline, tag.sourcepos
        if line is None or column is None or not 1 <= line <= len(self.page.line_starts):
            return Locator(line=line)
        char = self.page.line_starts[line - 1] + column
        if self.page.bad_utf8 is not None or char < self._char:
            return Locator(line=line)
        # Blocks come in page order, so the byte count only moves forward.
        self._byte += len(self.page.text[self._char:char].encode("utf-8"))
        self._char = char
        return Locator(line=line, byte_offset=self._byte)

    def _closing_notes(self) -> Iterator[FileNote]:
        yield from self.media.notes()
        counts = self.counts
        if counts.untimed:
            lines = ", ".join(map(str, counts.untimed[:_LISTED]))
            more = ", ..." if len(counts.untimed) > _LISTED else ""
            examples = "; ".join(repr(t) for t in counts.unparsed)
            readings = f" Unread times: {examples}." if examples else ""
            yield FileNote("messages_without_time",
                           f"{len(counts.untimed)} message block(s) have no time this parser "
                           f"can read and were not turned into records (page lines {lines}"
                           f"{more}).{readings}")


PARSER = MetaHtmlParser()
