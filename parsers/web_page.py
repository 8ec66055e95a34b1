"""A web page as HTML: a page the victim saved (.html, with or without its _files
folder) or the body of a page Conduct captured.

The page alone rarely says when it was saved ("Save as" writes at most a
``<!-- saved from url=... -->`` comment, with the address but no time), so the
page's own capture event is made only when the delivery gives a file time
(``SourceFile.modified``), flagged as such; otherwise a FileNote says why there
is none. A live capture's time is in its capture record (parsers/capture_record.py),
never guessed from the page. What the page shows (title, text, authors, profile
ids, meta, links, dated posts) comes from parsers/web_extract.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from parsers import web_extract
from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.records import Locator, ParsedItem, WallClock
from parsers.telegram_html import is_chat_page

#: Bytes read from a page file; a larger file is parsed from its start only (see
#: web_extract.MAX_PARSE_CHARS), with a note.
MAX_PAGE_BYTES = 64 * 1024 * 1024

_LEADING = re.compile(rb"(?:\s|<!--.*?-->|<\?xml[^>]{0,200}\?>)*", re.DOTALL)
_HTML_START = re.compile(rb"<!doctype\s+html\b|<html[\s>]", re.IGNORECASE)
# Meta's "Download your information" pages (parsers/meta_html.py reads the message
# threads): their markup classes mark every page of the download.
_META_DOWNLOAD = re.compile(rb'class="[^"]*\b(?:_a6-g|_2lej|_a706|_3-96|_2pim|_5vb_)\b')

UNKNOWN_SAVE_TIME = ("The page does not say when it was saved and no file time came with it, "
                     "so it has no capture event of its own; a live capture's time is in its "
                     "capture record.")


def looks_like_html_document(head: bytes) -> bool:
    """An HTML document from its first markup on: a doctype or <html> after at most
    a BOM, blank space, comments and an XML declaration."""
    start = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    skipped = _LEADING.match(start)
    rest = start[skipped.end() if skipped else 0:]
    return _HTML_START.match(rest) is not None


class WebPageParser:
    name = "web_page"
    version = "1.0.0"
    format = "html"

    def detect(self, probe: Probe) -> bool:
        """An HTML document that is not one of Meta's download pages or a Telegram chat page."""
        head = probe.head
        return (looks_like_html_document(head) and not _META_DOWNLOAD.search(head)
                and not is_chat_page(head))

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        try:
            with source.open() as stream:
                raw = web_extract.read_up_to(stream, MAX_PAGE_BYTES)
        except OSError as exc:
            raise DamagedInput(f"unreadable: {exc}") from exc
        page = web_extract.read_page(raw)
        if source.size > len(raw) and page.parse_cut is None:
            page.parse_cut = f"only the first {len(raw)} bytes"
        yield from web_extract.page_items(
            page, saved_at=_file_time(source), locator=Locator(byte_offset=0,
                                                               byte_length=len(raw)),
            siblings=source.siblings, saved_time_unknown=UNKNOWN_SAVE_TIME)


def _file_time(source: SourceFile) -> web_extract.SavedAt | None:
    # Given only for files delivered from disk: "Save as" wrote the file then, or
    # later if it was copied without keeping its time, which the flag leaves open.
    modified = source.modified
    if modified is None or modified.tzinfo is None:
        return None
    clock = WallClock(text=modified.isoformat(), instant=modified,
                      precision="subsecond" if modified.microsecond else "second")
    return web_extract.SavedAt(clock, "saved_page_time_from_file_modified")


PARSER = WebPageParser()
