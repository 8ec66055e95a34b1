"""A page saved as one file: MHTML (.mhtml, .mht) from Chrome/Edge ("Save as: Webpage,
Single File") or Internet Explorer.

MHTML is a MIME multipart/related message: the page's HTML is one part, its
images, stylesheets and frames are the others, each with the URL it was loaded
from (Content-Location). Chrome writes ``From: <Saved by Blink>``, the page's
address as ``Snapshot-Content-Location`` and when it saved the page as ``Date``
(in UTC, written "-0000"). The HTML part gives the page's records (see
parsers/web_extract.py); the other parts become child exhibits that the page's
capture event refers to. Parts are decoded (quoted-printable, base64) by the
standard library's MIME parser; nothing in them is run or fetched.
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from email import message_from_bytes
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from parsers import web_extract
from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, EmbeddedFile, FileNote, Locator, ParsedItem, WallClock

#: An MHTML file is read whole (the MIME parser needs it); larger ones are refused.
MAX_MHTML_BYTES = 128 * 1024 * 1024
MAX_PARTS = 5_000
_MAX_DEPTH = 8

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SNAPSHOT = re.compile(rb"^snapshot-content-location:", re.IGNORECASE | re.MULTILINE)
_SAVED_BY = re.compile(rb"^from:[ \t]*<?saved by ", re.IGNORECASE | re.MULTILINE)
_RELATED = re.compile(rb"^content-type:[ \t]*multipart/related", re.IGNORECASE | re.MULTILINE)


def is_saved_page(head: bytes) -> bool:
    """The header block of a browser-saved MHTML page (parsers/eml.py defers to this)."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    end = _HEADER_END.search(head)
    block = head[:end.start()] if end else head
    return bool(_RELATED.search(block)) and bool(
        _SNAPSHOT.search(block) or _SAVED_BY.search(block))


@dataclass(frozen=True, slots=True)
class _Part:
    number: str
    message: Message
    location: str | None
    media_type: str


class MhtmlParser:
    name = "mhtml"
    version = "1.0.0"
    format = "mhtml"

    def detect(self, probe: Probe) -> bool:
        return is_saved_page(probe.head)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        data = _read(source)
        try:
            message = message_from_bytes(data, policy=compat32)
            parts, too_many = _parts(message)
        except (RecursionError, ValueError, TypeError, LookupError, AttributeError) as exc:
            raise DamagedInput(f"the MIME structure cannot be read: {type(exc).__name__}"
                               ) from exc
        snapshot = _header(message, "Snapshot-Content-Location")
        if too_many:
            yield FileNote("mhtml_parts_left_out",
                           f"More than {MAX_PARTS} parts (or nesting deeper than {_MAX_DEPTH}); "
                           "the rest are in the original only.")
        main = _main_part(parts, snapshot)
        if main is None:
            raise DamagedInput("no text/html part: not a saved web page")
        resources: dict[str, AttachmentRef] = {}
        for part in parts:
            if part is main:
                continue
            embedded = _embedded(part)
            if embedded is None:
                continue
            yield embedded
            if part.location:
                resources[part.location] = AttachmentRef(embedded.name, embedded.sha256,
                                                         embedded.media_type)
        html = main.message.get_payload(decode=True)
        if not isinstance(html, bytes):
            raise DamagedInput("the page's HTML part cannot be decoded")
        page = web_extract.read_page(
            html, main.message.get_content_charset(),
            page_url=snapshot or main.location,
            page_url_source=("MHTML Snapshot-Content-Location" if snapshot
                             else "MHTML Content-Location" if main.location else None))
        if page.title is None:
            page.title = _subject(message)
        saved_at, note = _saved_at(message)
        if note:
            yield FileNote("saved_time_unreadable", note)
        yield from web_extract.page_items(
            page, saved_at=saved_at,
            locator=Locator(json_path=f"part {main.number}", member=main.location),
            siblings=source.siblings, parts=resources,
            saved_time_unknown=None if note else "The MHTML file has no Date header: when "
            "the page was saved is not known, so it has no capture event.")


def _read(source: SourceFile) -> bytes:
    try:
        with source.open() as stream:
            data = web_extract.read_up_to(stream, MAX_MHTML_BYTES + 1)
    except OSError as exc:
        raise DamagedInput(f"unreadable: {exc}") from exc
    if len(data) > MAX_MHTML_BYTES:
        raise DamagedInput(f"larger than {MAX_MHTML_BYTES} bytes; stored, not parsed")
    return bytes(data)


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _subject(message: Message) -> str | None:
    """The Subject header (the page title), RFC 2047 words decoded."""
    raw = _header(message, "Subject")
    if raw is None:
        return None
    try:
        return str(make_header(decode_header(raw))) or None
    except (UnicodeError, LookupError, ValueError, HeaderParseError):
        return raw


def _parts(message: Message) -> tuple[list[_Part], bool]:
    """Leaf parts in document order, walked iteratively with bounded depth and count."""
    found: list[_Part] = []
    too_many = False
    stack: list[tuple[Message, str, int]] = [(message, "", 0)]
    while stack:
        part, number, depth = stack.pop()
        if part.is_multipart():
            children = part.get_payload()
            if depth >= _MAX_DEPTH or not isinstance(children, list):
                too_many = True
                continue
            stack.extend((child, f"{number}.{i}" if number else str(i), depth + 1)
                         for i, child in reversed(list(enumerate(children, 1)))
                         if isinstance(child, Message))
            continue
        if len(found) >= MAX_PARTS:
            too_many = True
            break
        found.append(_Part(number or "1", part, _header(part, "Content-Location"),
                           part.get_content_type()))
    return found, too_many


def _main_part(parts: list[_Part], snapshot: str | None) -> _Part | None:
    pages = [p for p in parts if p.media_type in ("text/html", "application/xhtml+xml")]
    for part in pages:
        if snapshot and part.location == snapshot:
            return part
    return pages[0] if pages else None


def _embedded(part: _Part) -> EmbeddedFile | None:
    data = part.message.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return None
    return EmbeddedFile(
        name=_part_name(part), data=data, sha256=hashlib.sha256(data).hexdigest(),
        locator=Locator(json_path=f"part {part.number}", member=part.location),
        media_type=part.media_type,
    )


def _part_name(part: _Part) -> str:
    """A file name from the part's URL: the last path segment, never a path."""
    base = ""
    if part.location and not part.location.startswith("cid:"):
        try:
            base = posixpath.basename(unquote(urlsplit(part.location).path))
        except ValueError:
            base = ""
    base = "".join(ch for ch in base.replace("\\", "_") if ch.isprintable()).strip()[:200]
    if base in ("", ".", ".."):
        extension = mimetypes.guess_extension(part.media_type) or ".bin"
        base = f"part-{part.number}{extension}"
    return base


def _saved_at(message: Message) -> tuple[web_extract.SavedAt | None, str | None]:
    text = _header(message, "Date")
    if text is None:
        return None, None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, f"The MHTML Date header {text!r} cannot be read; no capture event."
    if moment.tzinfo is None:
        # "-0000": the time is in UTC and the writer's own zone is not said (RFC 5322 3.3).
        moment = moment.replace(tzinfo=UTC)
    clock = WallClock(text=text, instant=moment, precision="second")
    return web_extract.SavedAt(clock, "saved_page_time_from_header"), None


PARSER = MhtmlParser()
