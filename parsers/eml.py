"""A single RFC 5322 message (.eml, "Show original", "Download message")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from parsers.base import PROBE_SIZE, ParseOptions, Probe, SourceFile
from parsers.email_message import HEADER_LINE, message_items
from parsers.errors import DamagedInput
from parsers.mhtml import is_saved_page
from parsers.records import FileNote, Locator, ParsedItem

_BOM = b"\xef\xbb\xbf"
# Header names that mark a mail header block; ordinary "Name: value" text
# (YAML, notes, chat lines) rarely has two of them.
_MAIL_HEADERS = frozenset({
    "received", "from", "to", "cc", "date", "subject", "message-id", "mime-version",
    "return-path", "delivered-to", "reply-to", "sender", "in-reply-to", "references",
    "dkim-signature", "authentication-results", "arc-seal", "x-gm-thrid", "x-gmail-labels",
    "x-mailer", "x-originating-ip", "envelope-to", "content-transfer-encoding", "thread-index",
})
#: An .eml is one message; anything larger than this is not one and is refused
#: rather than read into memory.
MAX_EML_BYTES = 256 * 1024 * 1024


def header_names(head: bytes) -> set[str] | None:
    """Lower-cased names in the header block at the start of ``head``.

    None when a line before the blank line that ends the block is neither a
    header field nor a continuation line, which rules out prose, CSV, JSON and
    chat exports ("12/03/2024, 22:15 - Name: text" has a space in its "name").
    """
    lines = head.split(b"\n")
    if len(head) >= PROBE_SIZE:
        lines.pop()  # the probe may end mid-line
    names: set[str] = set()
    for line in lines:
        if line in (b"", b"\r"):
            break
        if line[:1] in (b" ", b"\t"):
            if not names:
                return None
            continue
        match = HEADER_LINE.match(line)
        if match is None:
            return None
        names.add(match.group(1).decode("ascii").lower())
    return names


class EmlParser:
    name = "eml"
    version = "1.1.0"
    format = "eml"

    def detect(self, probe: Probe) -> bool:
        """Header lines from the first byte, two or more of them known mail headers;
        not a browser-saved page (MHTML has mail headers too)."""
        names = header_names(probe.head.removeprefix(_BOM))
        return (names is not None and len(names & _MAIL_HEADERS) >= 2
                and not is_saved_page(probe.head))

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        with source.open() as stream:
            data = _read_all(stream)
        offset = 0
        if data.startswith(_BOM):
            offset = len(_BOM)
            yield FileNote(code="bom", message="The file starts with a UTF-8 byte order mark, "
                                               "which is not part of the message.")
        raw = data[offset:]
        if not HEADER_LINE.match(raw):
            raise DamagedInput("does not start with an RFC 5322 header line")
        locator = Locator(line=1, byte_offset=offset, byte_length=len(raw))
        yield from message_items(raw, locator, at_end_of_file=True)


def _read_all(stream: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := stream.read(1024 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_EML_BYTES:
                raise DamagedInput(f"larger than {MAX_EML_BYTES} bytes; not a single message")
    except OSError as exc:
        raise DamagedInput(f"unreadable after byte {size}: {exc}") from exc
    return b"".join(chunks)


PARSER = EmlParser()
