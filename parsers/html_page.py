"""One page of an HTML export, read whole and parsed with Python's html.parser.

Exports that split a conversation into pages (Meta's ``message_N.html``,
Telegram's ``messagesN.html``) keep each page to a few megabytes, so a page is
read whole, up to the caller's limit, rather than streamed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning

from parsers.base import SourceFile
from parsers.errors import DamagedInput

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class HtmlPage:
    soup: BeautifulSoup
    text: str
    #: Length of the UTF-8 byte order mark the file starts with (0 or 3).
    bom: int
    #: Byte offset in the file of the first byte that is not UTF-8, if any; such
    #: bytes are read as U+FFFD.
    bad_utf8: int | None


def read_html_page(source: SourceFile, limit: int, what: str) -> HtmlPage:
    """The page, or DamagedInput naming ``what`` ("a Meta thread page") when it is
    larger than ``limit`` bytes, unreadable, or beyond the HTML parser."""
    try:
        with source.open() as stream:
            raw = bytes(stream.read(limit + 1))
    except OSError as exc:
        raise DamagedInput(f"{source.name}: unreadable: {exc}") from exc
    if len(raw) > limit:
        raise DamagedInput(f"{source.name}: over {limit} bytes, too large for {what}; "
                           "not parsed")
    bom = len(BOM) if raw.startswith(BOM) else 0
    raw = raw[bom:]
    bad_utf8 = None
    try:
        text = raw.decode("utf-8")  # both exporters write UTF-8
    except UnicodeDecodeError as exc:
        text, bad_utf8 = raw.decode("utf-8", "replace"), bom + exc.start
    try:
        with warnings.catch_warnings():
            # Damaged or hostile input may look like XML, or like a file name: the
            # HTML parser is deliberate, and bs4's advice is not for an officer.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            soup = BeautifulSoup(text, "html.parser")
    except Exception as exc:  # bs4/html.parser errors vary by input; any means damage
        raise DamagedInput(f"{source.name}: the HTML cannot be read: "
                           f"{type(exc).__name__}") from exc
    return HtmlPage(soup, text, bom, bad_utf8)


def class_names(tag: Tag) -> list[str]:
    """An element's classes, however bs4 holds the attribute."""
    value = tag.get("class")
    if isinstance(value, str):
        return value.split()
    return list(value) if value else []
