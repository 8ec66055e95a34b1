"""Telegram Desktop chat exports in HTML: ``messages.html``, ``messages2.html``, ...

HTML is Telegram Desktop's default export format. Each page is a whole HTML
document holding about 1,000 messages of one chat (the writer is Telegram
Desktop's export_output_html.cpp): ``div.page_header`` names the chat and
``div.history`` holds the message divs in order, with "Previous messages" /
"Next messages" links to the neighbouring pages. Every page is its own
exhibit; records keep the JSON parser's shape (parsers/telegram.py) so both
forms of an export read alike in the timeline.

What the HTML form does and does not say, and how it is read:

* Times are in each message's ``title`` ("14.03.2024 22:15:03 UTC+01:00"):
  the exporting computer's wall clock with its UTC offset, so the instant is
  known. Older exports leave the offset out; those times are read as local
  wall-clock times, resolved with the case zone and flagged
  ``exporter_local_time``, as the JSON parser does for ``date``.
* Service messages (date separators, group notices, some calls) carry no
  time of their own: they get the day of the date separator above them (day
  precision). A message whose time cannot be read keeps the separator's day
  and the time shown on the page, with a defect; it is never dropped.
* There are no user ids and nothing says who exported the chat, so senders
  are display names and direction is unknown, except for calls, whose status
  says incoming or outgoing. A "joined" message (a continuation by the same
  sender) has no name; it takes the previous named message's sender, and
  ``extra["sender_inherited_from"]`` says which message that was.
* Calls (the ``media_call`` block of a message, or a service message about a
  call) become ``call`` records with the JSON parser's flags (``missed``,
  ``declined``) plus ``call_outcome`` and ``duration_seconds`` in extra.
* Media links (``photos/...``, ``files/...``, ``voice_messages/...``) are
  linked to the files delivered with the page; "Not included, change data
  exporting settings to download." is flagged ``media_not_exported``.

Pages are read whole: Telegram splits a chat into pages of about 1,000
messages (a few megabytes at most), so one page and its tree fit in memory,
and records are still yielded one message at a time. Larger files are refused.
"""

from __future__ import annotations

import mimetypes
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from urllib.parse import unquote

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, PageElement, ProcessingInstruction

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.html_page import class_names, read_html_page
from parsers.records import (
    AttachmentRef,
    Direction,
    EventRecord,
    FileNote,
    Kind,
    Locator,
    ParsedItem,
    TimeBasis,
    WallClock,
)
from parsers.telegram import CHANNEL, EXPORT_LIMITS, listed, media_notes, offset_text

#: A real page is a few megabytes; the parsed tree takes several times the page.
MAX_PAGE_BYTES = 48 * 1024 * 1024

# -- detection ------------------------------------------------------------------------

_HTML_START = re.compile(rb"<!doctype\s+html\b|<html[\s>]", re.IGNORECASE)
_PAGE_HEADER = re.compile(rb'<div\s+class="[^"]*\bpage_header\b')
_HISTORY = re.compile(rb'<div\s+class="[^"]*\bhistory\b')
_CHAT_PAGE = re.compile(rb'class="[^"]*\bpage_body\s+chat_page\b')
_MESSAGE_DIV = re.compile(
    rb'<div\s+class="message\s+(?:default|service)\b[^"]*"\s+id="message-?\d+"')


def is_chat_page(head: bytes) -> bool:
    """A Telegram Desktop chat page, from the first bytes of the file.

    The page header and history divs must both be there, and either a message
    div of Telegram's own shape or the chat page's body class: the first so an
    ordinary page with a "history" class is not taken, the second so a page
    cut short before its first message is still recognised (and then reported
    as damaged rather than read as a web page).
    """
    return bool(_HTML_START.search(head) and _PAGE_HEADER.search(head)
                and _HISTORY.search(head)
                and (_MESSAGE_DIV.search(head) or _CHAT_PAGE.search(head)))


# -- the page's vocabulary -------------------------------------------------------------

_MESSAGE_ID = re.compile(r"message-?\d+")
_SPECIAL_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_NOT_TEXT = frozenset({"script", "style", "template"})
#: Links and blocks that hold a message's media; "media" covers files, voice
#: messages, audio, locations, contacts, polls and calls (media_<kind>).
_MEDIA_LINKS = {"photo_wrap": "photo", "video_file_wrap": "video_file",
                "animated_wrap": "animation", "sticker_wrap": "sticker"}
_NOT_INCLUDED = re.compile(r"not included|exceeds maximum size|unavailable|"
                           r"change data exporting settings", re.IGNORECASE)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_REPLY_TARGET = re.compile(r"(?:^|/)([^/#]*)#go_to_message(-?\d+)$")
_REPLY_CALL = re.compile(r"GoToMessage\((-?\d+)\)")

# -- times ----------------------------------------------------------------------------

# "14.03.2024 22:15:03 UTC+01:00" (the writer's FormatDateTime), offset absent in old exports.
_TITLE_TIME = re.compile(
    r"\s*(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\s+(?P<h>\d{1,2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2}))?(?:\s*UTC\s*(?P<sign>[+-])(?P<oh>\d{1,2}):?(?P<om>\d{2}))?")
_EDITED_TIME = re.compile(r"edited:?\s*(.+)", re.IGNORECASE)
_SHOWN_TIME = re.compile(r"(?P<h>\d{1,2}):(?P<mi>\d{2})")
_MONTHS = {name: number for number, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august",
     "september", "october", "november", "december"), start=1)}
# Date separators: "14 March 2024" (the writer's English month names); "March 14, 2024" too.
_DAY_FIRST = re.compile(r"(\d{1,2}) ([A-Za-z]+),? (\d{4})")
_MONTH_FIRST = re.compile(r"([A-Za-z]+) (\d{1,2}),? (\d{4})")

# -- calls ------------------------------------------------------------------------------

# Telegram's own phrasings of a call, not any mention of the word: a group renamed
# "Call me" is not a call. Names and titles Telegram quotes are removed first.
_CALL_WORDS = re.compile(
    r"\b(?:called you|you called|(?:missed|incoming|outgoing|cancell?ed|declined|busy)"
    r" (?:video )?call|(?:started|ended|scheduled|joined|left) (?:a |the )?"
    r"(?:video chat|voice chat|group call|live stream)|(?:video chat|voice chat|group call)"
    r" (?:ended|started|scheduled)|to the (?:video chat|voice chat|group call))\b",
    re.IGNORECASE)
_QUOTED = re.compile(r"«[^»]*»|\u201c[^\u201d]*\u201d|\"[^\"]*\"")
_GROUP_CALL = re.compile(r"\b(?:group call|video chat|voice chat)\b", re.IGNORECASE)
_DURATION_PART = re.compile(
    r"(\d+)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.IGNORECASE)
_DURATION_CLOCK = re.compile(r"\b(?:(\d{1,2}):)?(\d{1,2}):(\d{2})\b")
_CALLER = re.compile(r"^(?P<name>.+?) called you\b")
_CALLED = re.compile(r"^You called (?P<name>.+?)(?: \(|$)")


class TelegramHtmlParser:
    name = "telegram_html"
    version = "1.0.0"
    format = "telegram_html"

    def detect(self, probe: Probe) -> bool:
        """Telegram's page structure; a messages*.html name alone is not enough."""
        return is_chat_page(probe.head)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        page = _Page.read(source)
        yield from _Reader(source, page).items()


# -- reading the page -----------------------------------------------------------------


@dataclass(slots=True)
class _Page:
    soup: BeautifulSoup
    text: str
    bom: int
    bad_utf8: int | None
    complete: bool

    @classmethod
    def read(cls, source: SourceFile) -> _Page:
        page = read_html_page(source, MAX_PAGE_BYTES,
                              "a Telegram chat page (about 1,000 messages each)")
        complete = page.text.rstrip().lower().endswith("</html>")
        return cls(page.soup, page.text, page.bom, page.bad_utf8, complete)


def _is_message(tag: Tag) -> bool:
    ident = tag.get("id")
    return (tag.name == "div" and isinstance(ident, str) and _MESSAGE_ID.fullmatch(ident)
            is not None and "message" in class_names(tag))


@dataclass(frozen=True, slots=True)
class _Within:
    """Which of a message's parts an element lies in (carried down the walk, so finding
    out costs nothing however deeply hostile markup nests)."""

    forwarded: bool = False
    text: bool = False
    media: bool = False


_TOP = _Within()


def _walk(root: Tag, see: Callable[[Tag, _Within], _Within]) -> None:
    """Show ``see`` the tags under root in document order, each with the parts it lies
    in; ``see`` says what its children lie in. A message div nested in another (broken
    markup) is left to itself."""
    stack: list[tuple[PageElement, _Within]] = [(c, _TOP) for c in reversed(root.contents)]
    while stack:
        node, within = stack.pop()
        if not isinstance(node, Tag) or _is_message(node):
            continue
        inside = see(node, within)
        stack.extend((c, inside) for c in reversed(node.contents))


def _text_of(tag: Tag) -> str:
    """What the page shows: <br> as a line break, markup (bold, links, spoilers) dropped,
    character references decoded. Telegram writes a message's own line breaks as <br>,
    so the only raw newlines are the writer's indentation around the text; the ends are
    trimmed because Telegram trims a message when it is sent."""
    parts: list[str] = []
    stack: list[PageElement] = list(reversed(tag.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            if node.name == "br":
                parts.append("\n")
            elif node.name not in _NOT_TEXT and not _is_message(node):
                stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, _SPECIAL_STRINGS):
            parts.append(str(node))
    return "".join(parts).strip()


def _own_text(tag: Tag) -> str:
    """A name's own text, without the details spans after it (a forward's date, "via @bot")."""
    own = "".join(str(c) for c in tag.children
                  if isinstance(c, NavigableString) and not isinstance(c, _SPECIAL_STRINGS))
    return own.strip() or _text_of(tag)


def _local_path(href: object) -> str | None:
    if not isinstance(href, str):
        return None
    href = href.strip()
    if not href or href.startswith("#") or _SCHEME.match(href):
        return None
    return href


# -- times ------------------------------------------------------------------------------


def _title_clock(title: str) -> WallClock | None:
    """The time in a message's title, with its offset when the export wrote one."""
    first = title.strip().splitlines()[0] if title.strip() else ""
    m = _TITLE_TIME.match(first)
    if m is None:
        return None
    try:
        moment = datetime(  # noqa: DTZ001 - wall-clock time; the offset is added below when written
            int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"] or 0))
        if m["sign"] is not None:
            offset = timedelta(hours=int(m["oh"]), minutes=int(m["om"]))
            zone = timezone(-offset if m["sign"] == "-" else offset)
            return WallClock(first.strip(), instant=moment.replace(tzinfo=zone),
                             precision="second" if m["s"] else "minute")
    except ValueError:  # an impossible date, or an offset of a day or more
        return None
    return WallClock(first.strip(), local=moment, precision="second" if m["s"] else "minute",
                     flags=("exporter_local_time",))


def _separator_day(text: str) -> date | None:
    text = " ".join(text.split())
    m = _DAY_FIRST.fullmatch(text)
    if m is not None:
        day, month, year = m.group(1), m.group(2), m.group(3)
    else:
        m = _MONTH_FIRST.fullmatch(text)
        if m is None:
            return None
        month, day, year = m.group(1), m.group(2), m.group(3)
    number = _MONTHS.get(month.lower())
    if number is None:
        return None
    try:
        return date(int(year), number, int(day))
    except ValueError:
        return None


def _day_clock(day: date, shown: str | None) -> WallClock:
    """The separator's day, with the time the page shows (HH:MM) when there is one."""
    m = _SHOWN_TIME.search(shown) if shown else None
    if m is not None and int(m["h"]) < 24 and int(m["mi"]) < 60:
        local = datetime(day.year, day.month, day.day, int(m["h"]), int(m["mi"]))  # noqa: DTZ001 - local wall clock
        return WallClock(f"{day.isoformat()} {m.group(0)}", local=local, precision="minute",
                         flags=("exporter_local_time",))
    local = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - local wall clock
    return WallClock(day.isoformat(), local=local, precision="day",
                     flags=("exporter_local_time",))


# -- calls -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    flags: tuple[str, ...]
    outcome: str | None
    duration: int | None
    direction: Direction


def _duration(text: str) -> int | None:
    parts = _DURATION_PART.findall(text)
    if parts:
        seconds = 0
        for number, unit in parts:
            first = unit[0].lower()
            seconds += int(number) * (3600 if first == "h" else 60 if first == "m" else 1)
        return seconds
    m = _DURATION_CLOCK.search(text)
    if m is not None:
        return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    return None


def _call(text: str, answered_class: bool) -> _Call:
    """What became of a call, from the words Telegram wrote for it."""
    low = text.lower()
    flags: list[str] = []
    if _GROUP_CALL.search(text):
        flags.append("group_call")
    duration = _duration(text)
    outcome: str | None = None
    # "Cancelled" is an outgoing call nobody answered: discard_reason "missed" in JSON.
    if "missed" in low or "cancel" in low:
        flags.append("missed")
        outcome = "missed"
    elif "declined" in low or "busy" in low or "rejected" in low:
        flags.append("declined")
        outcome = "declined"
    elif duration or answered_class:
        outcome = "answered"
    direction: Direction = "unknown"
    if "incoming" in low or "called you" in low:
        direction = "incoming"
    elif "outgoing" in low or "cancel" in low or low.startswith("you called"):
        direction = "outgoing"
    return _Call(tuple(flags), outcome, duration, direction)


# -- one message's parts -------------------------------------------------------------------


@dataclass(slots=True)
class _Parts:
    """A message div's parts, found in one walk over its own elements."""

    date: Tag | None = None
    from_name: Tag | None = None
    forwarded_from: Tag | None = None
    forwarded: bool = False
    reply_to: Tag | None = None
    text: Tag | None = None
    call: Tag | None = None
    media: list[Tag] = field(default_factory=list)
    edited_mark: bool = False
    links: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, message: Tag) -> _Parts:
        parts = cls()
        _walk(message, parts._see)
        return parts

    def _see(self, tag: Tag, within: _Within) -> _Within:
        """Take what this element is; return what its children lie in."""
        classes = class_names(tag)
        name = tag.name
        forwarded = within.forwarded
        if name == "a" and within.text:
            href = tag.get("href")
            if isinstance(href, str) and href.strip() and not href.startswith("#"):
                self.links.append(href.strip())
        if "forwarded" in classes:
            self.forwarded = True
            return _Within(True, within.text, within.media)
        if "from_name" in classes:
            if forwarded:
                self.forwarded_from = self.forwarded_from or tag
            else:
                self.from_name = self.from_name or tag
        elif "date" in classes and "details" in classes and name == "div":
            if not forwarded and self.date is None:
                self.date = tag
        elif "reply_to" in classes:
            self.reply_to = self.reply_to or tag
        elif "text" in classes and name == "div" and self.text is None:
            self.text = tag
            return _Within(forwarded, True, within.media)
        elif "media_call" in classes:
            self.call = self.call or tag
        elif (name == "a" and not _MEDIA_LINKS.keys().isdisjoint(classes)) or (
                "media" in classes and "media_call" not in classes):
            if not within.media:  # the outermost block holds the whole item
                self.media.append(tag)
                return _Within(forwarded, within.text, True)
        elif ("edited" in classes or "details" in classes) and not forwarded and (
                _is_edited_mark(tag)):
            self.edited_mark = True
        return within


def _is_edited_mark(tag: Tag) -> bool:
    # Only a bare word is read, so nested "details" in hostile markup cost nothing.
    contents = tag.contents
    return (len(contents) == 1 and isinstance(contents[0], NavigableString)
            and contents[0].strip().lower() == "edited")


# -- records --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    local_only: int = 0
    offsets: Counter[timedelta] = field(default_factory=Counter)
    day_only: int = 0
    unreadable_times: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    media_not_exported: int = 0
    media_not_delivered: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, source: SourceFile, page: _Page) -> None:
        self.source = source
        self.page = page
        self.member = source.name.replace("\\", "/").rsplit("/", 1)[-1]
        self.siblings: Mapping[str, str] = source.siblings
        self.tally = _Tally()
        self.chat_name = self._chat_name()
        self.day: date | None = None
        self.sender: str | None = None
        self.sender_div: str | None = None

    def items(self) -> Iterator[ParsedItem]:
        messages = [tag for tag in self.page.soup.find_all("div", id=_MESSAGE_ID)
                    if isinstance(tag, Tag) and _is_message(tag)]
        if not messages:
            raise DamagedInput(f"{self.source.name}: a Telegram chat page with no message "
                               "in it (damaged or cut short)")
        spans = self._spans(messages)
        yield FileNote("telegram_export_limits", EXPORT_LIMITS)
        yield self._page_note(len(messages))
        if self.page.bad_utf8 is not None:
            yield FileNote("invalid_utf8",
                           f"The page is not valid UTF-8 (first bad byte at offset "
                           f"{self.page.bad_utf8}); invalid bytes were read as U+FFFD and "
                           "records holding one carry the defect invalid_utf8.")
        held: EventRecord | None = None
        for message, span in zip(messages, spans, strict=True):
            record = self._record(message, span)
            if record is None:
                continue
            if held is not None:
                yield held
            held = record
        if held is not None:
            if not self.page.complete:
                held.defects = (*held.defects, "page_cut_short")
            yield held
        yield from self._closing_notes()
        if held is None:
            raise DamagedInput(f"{self.source.name}: none of the page's {len(messages)} "
                               "message div(s) could be read")

    # -- the page --------------------------------------------------------------------------

    def _chat_name(self) -> str | None:
        header = self.page.soup.find("div", class_="page_header")
        if not isinstance(header, Tag):
            return None
        for tag in header.find_all("div"):
            if isinstance(tag, Tag) and {"text", "bold"} <= set(class_names(tag)):
                return _text_of(tag) or None
        return None

    def _pages(self) -> tuple[str | None, str | None]:
        previous = following = None
        for link in self.page.soup.find_all("a"):
            if not isinstance(link, Tag) or "pagination" not in class_names(link):
                continue
            href = _local_path(link.get("href"))
            if href is None:
                continue
            if "next" in _text_of(link).lower():
                following = href
            elif "previous" in _text_of(link).lower():
                previous = href
        return previous, following

    def _page_note(self, count: int) -> FileNote:
        chat = repr(self.chat_name) if self.chat_name else "an unnamed chat"
        previous, following = self._pages()
        pages = []
        for label, name in (("previous", previous), ("next", following)):
            if name is not None:
                here = "delivered" if self._sha(name) else "not among the files delivered"
                pages.append(f"the {label} page is {name} ({here})")
        where = ("; " + " and ".join(pages)) if pages else "; it links to no other page"
        return FileNote(
            "telegram_html_page",
            f"A Telegram Desktop HTML export page ({self.member}) of {chat}: {count} message "
            f"div(s){where}. Telegram writes about 1,000 messages per page. The HTML form "
            "carries no user ids and does not say which account exported it, so senders "
            "are display names and direction is given only for calls, whose status says it.")

    def _spans(self, messages: list[Tag]) -> list[tuple[int | None, int | None, int | None]]:
        """(line, byte offset, byte length) of each message div, the length running to the
        next div (the last one's to the end of the page)."""
        text = self.page.text
        starts = [0]
        found = text.find("\n")
        while found >= 0:
            starts.append(found + 1)
            found = text.find("\n", found + 1)
        chars: list[int] = []
        for tag in messages:
            line, column = tag.sourceline, tag.sourcepos
            if line is None or column is None or not 1 <= line <= len(starts):
                break
            chars.append(starts[line - 1] + column)
        # Invalid bytes were replaced, so characters no longer map back to bytes.
        if self.page.bad_utf8 is not None or len(chars) < len(messages) or chars != sorted(chars):
            return [(tag.sourceline, None, None) for tag in messages]
        offsets: list[int] = []
        position, byte = 0, self.page.bom
        for char in (*chars, len(text)):
            byte += len(text[position:char].encode("utf-8"))
            position = char
            offsets.append(byte)
        return [(tag.sourceline, offsets[i], offsets[i + 1] - offsets[i])
                for i, tag in enumerate(messages)]

    def _sha(self, name: str) -> str | None:
        try:
            found = self.siblings.get(name)
            if found is None and "%" in name:  # in case a re-saved page percent-encoded it
                found = self.siblings.get(unquote(name))
        except (KeyError, ValueError, TypeError):  # a hostile path must not stop the parse
            return None
        return found

    # -- one message -----------------------------------------------------------------------

    def _record(self, message: Tag,
                span: tuple[int | None, int | None, int | None]) -> EventRecord | None:
        ident = str(message.get("id"))
        line, offset, length = span
        locator = Locator(line=line, byte_offset=offset, byte_length=length,
                          message_id=ident, member=self.member)
        if "service" in class_names(message):
            return self._service(message, ident, locator)
        return self._default(message, ident, locator)

    def _service(self, message: Tag, ident: str, locator: Locator) -> EventRecord | None:
        parts = _Parts.of(message)
        body = next((c for c in message.find_all("div", recursive=False)
                     if isinstance(c, Tag) and "body" in class_names(c)), message)
        text = _text_of(body)
        day = _separator_day(text)
        if day is not None and parts.date is None:
            self.day = day  # a date separator: context for what follows, not an event
            return None
        defects: list[str] = []
        extra = self._base_extra()
        clock = self._clock(parts, ident, defects, extra, service=True)
        if clock is None:
            return None
        kind: Kind = "system"
        basis: TimeBasis = "sent"
        flags: tuple[str, ...] = ()
        sender = None
        direction: Direction = "unknown"
        if _CALL_WORDS.search(_QUOTED.sub("", text)):
            kind, basis = "call", "call_started"
            call = _call(text, answered_class=False)
            flags, direction = call.flags, call.direction
            self._call_extra(call, text, extra)
            caller = _CALLER.match(text)
            if caller is not None:
                sender = caller["name"]
            elif (called := _CALLED.match(text)) is not None:
                extra["call_with"] = called["name"]
        self._utf8_defect(defects, sender, text)
        return EventRecord(kind, clock, basis, CHANNEL, locator, sender, None, (), direction,
                           text or None, None, (), flags, tuple(defects), extra)

    def _default(self, message: Tag, ident: str, locator: Locator) -> EventRecord | None:
        parts = _Parts.of(message)
        defects: list[str] = []
        extra = self._base_extra()
        # The sender first: a later joined message inherits it even if this one has no time.
        sender = self._sender(message, parts, ident, defects, extra)
        clock = self._clock(parts, ident, defects, extra, service=False)
        if clock is None:
            return None
        flags: list[str] = []
        text = _text_of(parts.text) if parts.text is not None else ""
        if parts.links:
            extra["links"] = "\n".join(parts.links)
        self._edited(parts, flags, extra)
        self._forward_and_reply(parts, flags, extra)
        attachments = self._media(parts, flags, extra)
        kind: Kind = "message"
        basis: TimeBasis = "sent"
        direction: Direction = "unknown"
        if parts.call is not None:
            kind, basis = "call", "call_started"
            words = _text_of(parts.call)
            call = _call(" ".join(words.split()), "success" in class_names(parts.call))
            flags.extend(call.flags)
            direction = call.direction
            self._call_extra(call, " ".join(words.split()), extra)
        self._utf8_defect(defects, sender, text)
        return EventRecord(kind, clock, basis, CHANNEL, locator, sender, None, (), direction,
                           text or None, None, attachments, tuple(dict.fromkeys(flags)),
                           tuple(defects), extra)

    def _base_extra(self) -> dict[str, str]:
        return {"chat_name": self.chat_name} if self.chat_name else {}

    def _clock(self, parts: _Parts, ident: str, defects: list[str], extra: dict[str, str],
               service: bool) -> WallClock | None:
        tally = self.tally
        if parts.date is not None:
            title = parts.date.get("title")
            clock = _title_clock(title) if isinstance(title, str) else None
            if clock is not None:
                if clock.instant is not None:
                    offset = clock.instant.utcoffset()
                    if offset is not None:
                        tally.offsets[offset] += 1
                else:
                    tally.local_only += 1
                return clock
            defects.append("unparseable_time" if isinstance(title, str) else "missing_time")
            if isinstance(title, str):
                extra["date_title"] = title  # as written, since the record's time is not it
                if len(tally.unreadable_times) < 3:
                    tally.unreadable_times.append(title)
        elif not service:
            defects.append("missing_time")
        if self.day is None:
            tally.skipped.append(ident)
            return None
        shown = _text_of(parts.date) if parts.date is not None else None
        clock = _day_clock(self.day, shown)
        extra["time_source"] = ("day_separator_and_shown_time" if clock.precision == "minute"
                                else "day_separator")
        if service and not defects:
            tally.day_only += 1
        return clock

    def _sender(self, message: Tag, parts: _Parts, ident: str, defects: list[str],
                extra: dict[str, str]) -> str | None:
        if parts.from_name is not None:
            name = _own_text(parts.from_name) or None
            via = [_text_of(c) for c in parts.from_name.children
                   if isinstance(c, Tag) and "details" in class_names(c)]
            if via and via[0].lower().startswith("via"):
                extra["via_bot"] = via[0]
            self.sender, self.sender_div = name, ident
            if name is None:
                defects.append("no_sender")
            return name
        if "joined" in class_names(message):
            if self.sender is None:
                defects.append("joined_sender_unknown")
                return None
            if self.sender_div is not None:
                extra["sender_inherited_from"] = self.sender_div
            return self.sender
        defects.append("no_sender")
        return None

    @staticmethod
    def _edited(parts: _Parts, flags: list[str], extra: dict[str, str]) -> None:
        date_tag = parts.date
        title = date_tag.get("title") if date_tag is not None else None
        title = title if isinstance(title, str) else ""
        shown = _text_of(date_tag).lower() if date_tag is not None else ""
        if "edited" in title.lower() or "edited" in shown or parts.edited_mark:
            flags.append("edited")
            when = _EDITED_TIME.search(" ".join(title.split()))
            if when is not None:
                extra["edited"] = when.group(1).strip()

    @staticmethod
    def _forward_and_reply(parts: _Parts, flags: list[str], extra: dict[str, str]) -> None:
        if parts.forwarded:
            flags.append("forwarded")
            if parts.forwarded_from is not None:
                extra["forwarded_from"] = _own_text(parts.forwarded_from)
                for child in parts.forwarded_from.find_all("span"):
                    if isinstance(child, Tag) and "date" in class_names(child):
                        stated = child.get("title")
                        extra["forwarded_date"] = (stated.strip() if isinstance(stated, str)
                                                   and stated.strip() else _text_of(child))
                        break
        if parts.reply_to is None:
            return
        for link in parts.reply_to.find_all("a"):
            if not isinstance(link, Tag):
                continue
            href, click = link.get("href"), link.get("onclick")
            target = _REPLY_TARGET.search(href) if isinstance(href, str) else None
            if target is not None:
                extra["reply_to_message_id"] = target.group(2)
                if target.group(1):
                    extra["reply_to_page"] = target.group(1)
                return
            called = _REPLY_CALL.search(click) if isinstance(click, str) else None
            if called is not None:
                extra["reply_to_message_id"] = called.group(1)
                return
        extra["reply_to"] = " ".join(_text_of(parts.reply_to).split())

    def _media(self, parts: _Parts, flags: list[str],
               extra: dict[str, str]) -> tuple[AttachmentRef, ...]:
        found: list[AttachmentRef] = []
        kinds: list[str] = []
        for block in parts.media:
            classes = class_names(block)
            kind = next((_MEDIA_LINKS[c] for c in classes if c in _MEDIA_LINKS), None) or next(
                (c[len("media_"):] for c in classes if c.startswith("media_")), "media")
            kinds.append(kind)
            paths = [_local_path(block.get("href"))] + [
                _local_path(img.get("src")) for img in block.find_all("img")
                if isinstance(img, Tag)]
            local = list(dict.fromkeys(p for p in paths if p is not None))
            if local:
                for path in local:
                    sha = self._sha(path)
                    if sha is None:
                        self.tally.media_not_delivered.append(path)
                    found.append(AttachmentRef(path, sha, mimetypes.guess_type(path)[0]))
                continue
            href = block.get("href")
            if isinstance(href, str) and _SCHEME.match(href.strip()):
                extra["media_link"] = href.strip()  # a location's map link, not a file
                continue
            words = " ".join(_text_of(block).split())
            if _NOT_INCLUDED.search(words):
                self.tally.media_not_exported += 1
                if "media_not_exported" not in flags:
                    flags.append("media_not_exported")
                said = next((" ".join(_text_of(d).split()) for d in block.find_all("div")
                             if isinstance(d, Tag) and "description" in class_names(d)
                             and _NOT_INCLUDED.search(_text_of(d))), words)
                # Named by what the page says, as the JSON parser names it by its placeholder.
                found.append(AttachmentRef(said, None, None))
                extra[f"{kind}_shown"] = words
            elif words:
                extra[f"{kind}_shown"] = words  # a location, contact or poll as shown
        if kinds:
            extra["media_kind"] = ",".join(dict.fromkeys(kinds))
        return tuple(found)

    @staticmethod
    def _call_extra(call: _Call, text: str, extra: dict[str, str]) -> None:
        extra["call_status"] = text
        if call.outcome is not None:
            extra["call_outcome"] = call.outcome
        if call.duration is not None:
            extra["duration_seconds"] = str(call.duration)

    def _utf8_defect(self, defects: list[str], *texts: str | None) -> None:
        if self.page.bad_utf8 is not None and any(t and "\ufffd" in t for t in texts):
            defects.append("invalid_utf8")

    # -- the closing notes ---------------------------------------------------------------

    def _closing_notes(self) -> Iterator[FileNote]:
        tally = self.tally
        if not self.page.complete:
            yield FileNote("page_cut_short",
                           "The page does not end with </html>: it was cut short. What could "
                           "be read was kept; the last record carries the defect "
                           "page_cut_short because its text may be incomplete.")
        if tally.offsets:
            seen = ", ".join(f"{offset_text(o)} ({n} message(s))"
                             for o, n in sorted(tally.offsets.items()))
            yield FileNote("exporter_utc_offsets",
                           f"The page's times state the exporting computer's UTC offset: "
                           f"{seen}. This shows that computer's time zone, not the sender's.")
        if tally.local_only:
            yield FileNote("exporter_local_time",
                           f"{tally.local_only} message time(s) have no UTC offset (an older "
                           "export): they are the exporting computer's wall clock, of a zone "
                           "the page does not state, and are read as local time.")
        if tally.day_only:
            yield FileNote("service_day_only",
                           f"{tally.day_only} service message(s) have no time of their own on "
                           "the page, only the date separator above them; they are dated to "
                           "that day (day precision, the exporting computer's local day).")
        if tally.unreadable_times:
            shown = "; ".join(repr(t) for t in tally.unreadable_times)
            yield FileNote("unreadable_times",
                           "Some message times could not be read; those records keep the day "
                           "of the date separator above them and the time shown on the page, "
                           f"with a defect. Examples: {shown}.")
        if tally.skipped:
            yield FileNote("skipped_no_readable_date",
                           f"{len(tally.skipped)} message(s) have no readable time and no date "
                           "separator above them, so no time can be given without inventing "
                           f"one; they are not records: {listed(tally.skipped)}.")
        yield from media_notes(tally.media_not_exported, len(tally.media_not_delivered))


PARSER = TelegramHtmlParser()
