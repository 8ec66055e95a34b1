"""One RFC 5322 message's raw bytes -> records; shared by the mbox and .eml parsers.

A message gives its attachments (EmbeddedFile) first, then one EventRecord that
refers to them by sha256, as the collector expects, then the DerivedFacts about
its origin (parsers.email_attribution). Nothing here raises: whatever
is wrong with a message goes on its record as a defect, or into a FileNote.
"""

from __future__ import annotations

import binascii
import hashlib
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC
from email import message_from_bytes
from email.errors import CloseBoundaryNotFoundDefect, MessageDefect, UndecodableBytesDefect
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, cast

from bs4 import BeautifulSoup

from parsers.email_attribution import attribution
from parsers.email_attribution import clean_header_text as _clean
from parsers.identifiers import email_id
from parsers.records import (
    AttachmentRef,
    Direction,
    EmbeddedFile,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    Precision,
    TimeBasis,
    WallClock,
)

#: A header field line: RFC 5322 ftext name (printable ASCII but colon and space), then a colon.
#: Obsolete syntax allows blanks before the colon.
HEADER_LINE = re.compile(rb"([!-9;-~]+)[ \t]*:")

# Header decoding.
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ONE_BRACKETED = re.compile(r"\s*<([^<>]*)>\s*$")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
#: Values at least this long are neither cached nor likely to repeat.
_CACHED_VALUE_LENGTH = 512
_MIME_STRUCTURE_HEADERS = frozenset(
    {"content-type", "content-disposition", "content-transfer-encoding"}
)
_STRUCTURED_HEADERS = frozenset(
    name for name, kind in HeaderRegistry().registry.items()
    if not issubclass(kind, UnstructuredHeader)
)
_PLAIN_TEXT = re.compile(r"[ -~\t\r\n]*\Z")
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
_ATOMS = r"[A-Za-z0-9'_-]+(?: [A-Za-z0-9'_-]+)*"
_ADDR_SPEC = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
#: One address in the commonest plain forms, for which the result is known without parsing.
_SIMPLE_ADDRESS = re.compile(
    rf"[ \t]*(?:(?P<name>{_ATOMS})[ \t]*|\"(?P<quoted>{_ATOMS})\"[ \t]*)?"
    rf"<(?P<address>{_ADDR_SPEC})>[ \t]*\Z"
    rf"|[ \t]*(?P<bare>{_ADDR_SPEC})[ \t]*\Z"
)

# Dates.
_HAS_SECONDS = re.compile(r"\d:\d\d:\d\d")
_MINUS_ZERO = re.compile(r"-0000\s*(?:\(.*\))?\s*$")

# Bodies. Deep MIME nesting exhausts recursion in the stdlib; real mail stays shallow.
_MAX_MIME_DEPTH = 32
_BLOCK_TAGS = (
    "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote",
    "pre", "hr", "ul", "ol", "section", "article", "header", "footer",
)


class _HeaderClasses(HeaderRegistry):
    """A HeaderRegistry that builds each header class once.

    The stdlib builds a new class for every header it parses; those classes are
    freed only by the cyclic garbage collector, so memory crept up by about a
    quarter of a megabyte per thousand messages, and building them was slow.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, Any] = {}

    def __getitem__(self, name: str) -> Any:
        kind = self.registry.get(name.lower(), self.default_class)
        if kind not in self._classes:
            self._classes[kind] = super().__getitem__(name)
        return self._classes[kind]


@lru_cache(maxsize=1024)
def _parsed_header(name: str, value: str) -> Any:
    return _POLICY_WITHOUT_CACHE.header_fetch_parse(name, value)


class _CachingPolicy(EmailPolicy):
    """policy.default, but MIME structure headers are parsed once per distinct value.

    The feed parser asks for a part's Content-Type about a dozen times while it
    parses, and policy.default re-parses the header every time: parsing was ten
    times slower than with compat32. Header objects are immutable, so sharing
    them between messages is safe, and these values repeat across a mailbox.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if len(value) < _CACHED_VALUE_LENGTH and name.lower() in _MIME_STRUCTURE_HEADERS:
            return _parsed_header(name.lower(), value)
        return super().header_fetch_parse(name, value)


_HEADER_CLASSES = _HeaderClasses()
_POLICY_WITHOUT_CACHE = EmailPolicy(header_factory=_HEADER_CLASSES)
_POLICY = _CachingPolicy(header_factory=_HEADER_CLASSES)


@dataclass(frozen=True, slots=True)
class _HeaderInfo:
    text: str
    #: (display name, address) pairs of an address header, groups flattened.
    addresses: tuple[tuple[str, str], ...]
    defects: tuple[str, ...]


def _read_header(name: str, value: str) -> _HeaderInfo:
    """One raw header value decoded (RFC 2047, RFC 6532 raw UTF-8) as policy.default does.

    Short values are cached: a mailbox repeats the same From, To and label
    headers thousands of times, and address parsing is the slowest step of all.
    Only the small result is kept, not the header object with its parse tree.
    """
    if len(value) < _CACHED_VALUE_LENGTH:
        return _decode_header_cached(name, value)
    return _decode_header(name, value)


def _decode_header(name: str, value: str) -> _HeaderInfo:
    if name not in _STRUCTURED_HEADERS and _PLAIN_TEXT.match(value) and "=?" not in value:
        # policy.default would return exactly the unfolded value; its parser is slow.
        return _HeaderInfo(_FOLD.sub("", value), (), ())
    if name in _ADDRESS_HEADERS and (simple := _SIMPLE_ADDRESS.match(value)):
        return _simple_address(simple)
    try:
        header = _POLICY_WITHOUT_CACHE.header_fetch_parse(name, value)
        addresses = tuple((_clean(a.display_name).strip(), _clean(a.addr_spec))
                          for a in getattr(header, "addresses", ()))
        text = _clean(str(header))
    except Exception:  # noqa: BLE001 - CPython's header parser has raised IndexError, AttributeError and others on malformed values
        return _HeaderInfo(_clean(_unfold(value)), (), (f"unparseable_header:{name}",))
    # Raw UTF-8 in headers is allowed by RFC 6532; only bytes that are not UTF-8 are a defect.
    defects = [f"{_defect_name(d)}:{name}" for d in header.defects
               if not isinstance(d, UndecodableBytesDefect)]
    if not value.isascii() and not _is_clean_utf8(value):
        defects.append(f"undecodable_header:{name}")
    return _HeaderInfo(text, addresses, tuple(dict.fromkeys(defects)))


_decode_header_cached = lru_cache(maxsize=4096)(_decode_header)


def _simple_address(match: re.Match[str]) -> _HeaderInfo:
    """What policy.default makes of one plain ``Name <addr>`` or ``addr``, without its parser."""
    name = match["name"] or match["quoted"] or ""
    address = match["address"] or match["bare"]
    text = f"{name} <{address}>" if name else address
    return _HeaderInfo(text, ((name, address),), ())


def looks_like_header_line(line: bytes) -> bool:
    return HEADER_LINE.match(line) is not None


def message_items(
    raw: bytes,
    locator: Locator,
    *,
    separator_time: WallClock | None = None,
    at_end_of_file: bool = False,
    defects: tuple[str, ...] = (),
) -> list[ParsedItem]:
    """The records for one message: its attachments, then its event.

    ``locator`` says where the message sits in its container (message_id is
    filled in here); ``separator_time`` is the mbox From_ line's date, used when
    the Date header is missing or unreadable; ``defects`` are the container's
    own findings about this message (e.g. cut off at the end of the file).
    """
    try:
        return _MessageReader(raw, locator, separator_time, at_end_of_file, defects).items()
    except Exception as exc:  # noqa: BLE001 - the stdlib email package raises arbitrary types on hostile input; one bad message must not end the mailbox
        where = _describe(locator)
        return [FileNote(
            code="unreadable_message",
            message=f"Message at {where} could not be read ({type(exc).__name__}: {exc}); "
                    "it is kept in the stored original only.",
        )]


def _describe(locator: Locator) -> str:
    return ", ".join(f"{key} {value}" for key, value in locator.as_dict().items())


@dataclass(frozen=True, slots=True)
class _Sender:
    name: str | None
    identifier: str | None
    text: str | None


class _MessageReader:
    """Reads one parsed message; collects what is wrong with it in ``defects``."""

    def __init__(self, raw: bytes, locator: Locator, separator_time: WallClock | None,
                 at_end_of_file: bool, defects: tuple[str, ...]) -> None:
        self.raw = raw
        # policy.default (and so _POLICY) builds EmailMessage objects.
        self.msg = cast(EmailMessage, message_from_bytes(raw, policy=_POLICY))
        self.separator_time = separator_time
        self.at_end_of_file = at_end_of_file
        self.defects: list[str] = list(defects)
        self.raw_headers = _raw_headers(self.msg)
        self.message_id = _strip_angles(self._raw("message-id"))
        self.locator = replace(locator, message_id=self.message_id)

    def _raw(self, name: str) -> str | None:
        values = self.raw_headers.get(name)
        return values[0] if values else None

    def items(self) -> list[ParsedItem]:
        parts = self._parts()
        text, body_flags, body_parts = self._body()
        files = self._attachments(parts, body_parts)
        timing = self._time()
        if timing is None:
            note = FileNote(
                code="no_date",
                message=f"Message at {_describe(self.locator)} has no usable Date, mbox "
                        "separator or Received time, so it has no timeline event; it is "
                        "kept in the stored original.",
            )
            return [*files, note]
        clock, basis = timing
        sender = self._sender()
        labels = self._gmail_labels()
        recipients = self._recipients()
        subject = self._header_text("Subject")
        extra = self._extra(sender, labels)
        found = attribution(self.msg, self.locator)
        extra.update(found.summary)
        record = EventRecord(
            kind="email",
            time=clock,
            time_basis=basis,
            channel="email",
            locator=self.locator,
            sender=sender.name,
            sender_id=sender.identifier,
            recipients=recipients,
            direction=_direction(labels),
            text=text,
            subject=subject,
            attachments=tuple(AttachmentRef(f.name, f.sha256, f.media_type) for f in files),
            flags=body_flags,
            # Last: reading the headers above adds their defects.
            defects=self._final_defects(parts),
            extra=extra,
            # A Gmail thread when Takeout says so; otherwise each message stands alone,
            # so scoping an inbox keeps only mail to or from the people named.
            conversation=extra.get("gmail_thread_id") or extra.get("message_id"),
            participants=tuple(dict.fromkeys(
                i for i in (sender.identifier, *recipients) if i is not None)),
        )
        # The facts follow their record: the collector ties each to the record before it.
        return [*files, record, *found.facts]

    # -- headers -------------------------------------------------------------

    def _headers(self, name: str) -> list[_HeaderInfo]:
        """Every ``name`` header, decoded; their defects go on the record."""
        key = name.lower()
        infos = [_read_header(key, value) for value in self.raw_headers.get(key, ())]
        for info in infos:
            self.defects.extend(info.defects)
        return infos

    def _header_text(self, name: str) -> str | None:
        infos = self._headers(name)
        return infos[0].text if infos else None

    def _addresses(self, name: str) -> tuple[str | None, list[tuple[str, str]]]:
        """Decoded text of the first ``name`` header, and the addresses of all of them."""
        infos = self._headers(name)
        found = [address for info in infos for address in info.addresses]
        return (infos[0].text if infos else None), found

    def _sender(self) -> _Sender:
        text, addresses = self._addresses("From")
        if not addresses:
            return _Sender(name=text or None, identifier=None, text=text)
        name, address = addresses[0]
        identifier = email_id(address)
        return _Sender(name=name or identifier or address, identifier=identifier, text=text)

    def _recipients(self) -> tuple[str, ...]:
        found: dict[str, None] = {}
        for name in ("To", "Cc", "Bcc"):
            for _display, address in self._addresses(name)[1]:
                if address and address != "<>":
                    found[email_id(address) or address.lower()] = None
        return tuple(found)

    def _gmail_labels(self) -> tuple[str, ...] | None:
        text = self._header_text("X-Gmail-Labels")
        if text is None:
            return None
        return tuple(label.strip() for label in text.split(",") if label.strip())

    def _extra(self, sender: _Sender, labels: tuple[str, ...] | None) -> dict[str, str]:
        extra: dict[str, str] = {}
        if self.message_id is not None:
            extra["message_id"] = self.message_id
        if sender.text:
            extra["from"] = sender.text
        for key, header in (("in_reply_to", "in-reply-to"), ("return_path", "return-path"),
                            ("gmail_thread_id", "x-gm-thrid")):
            if (value := _strip_angles(self._raw(header))) is not None:
                extra[key] = value
        if (reply_to := self._header_text("Reply-To")) is not None:
            extra["reply_to"] = reply_to
        if labels is not None:
            extra["gmail_labels"] = ", ".join(labels)
        return extra

    # -- time ----------------------------------------------------------------

    def _time(self) -> tuple[WallClock, TimeBasis] | None:
        """When the message was sent, or failing that when it was received.

        The Date header is the sender's claim of sending time. Without a usable
        one, the mbox separator line (written when the mailbox stored the message)
        and then the earliest Received stamp give a delivery time instead, so
        the basis becomes "received" and the clock carries a flag saying which.
        With none of them, the caller emits a FileNote and no event: inventing a
        time would put the message in the wrong place on the timeline.
        """
        date_text = _unfold(self._raw("date") or "")
        if not date_text:
            self.defects.append("missing_date")
        else:
            clock = parse_date(_clean(date_text))
            if clock is not None:
                return clock, "sent"
            self.defects.append("unparseable_date")
        if self.separator_time is not None:
            return self.separator_time, "received"
        received = self._earliest_received()
        if received is not None:
            return received, "received"
        return None

    def _earliest_received(self) -> WallClock | None:
        stamps = []
        for value in self.raw_headers.get("received", ()):
            clock = parse_date(_clean(_unfold(value)).rpartition(";")[2].strip())
            # A zoneless Received stamp cannot be ordered against the others.
            if clock is not None and clock.instant is not None:
                stamps.append((clock.instant, clock))
        if not stamps:
            return None
        earliest = min(stamps, key=lambda stamp: stamp[0])[1]
        return replace(earliest, flags=(*earliest.flags, "date_from_received"))

    # -- body and attachments ------------------------------------------------

    def _parts(self) -> list[tuple[str, Message]]:
        parts: list[tuple[str, Message]] = []
        if not _walk(self.msg, "", 0, parts):
            self.defects.append("mime_too_deep")
        return parts

    def _body(self) -> tuple[str | None, tuple[str, ...], list[Message]]:
        try:
            plain = self.msg.get_body(("plain",))
            html = None if plain is not None else self.msg.get_body(("html",))
        except Exception:  # noqa: BLE001 - get_body trips over malformed multiparts (AttributeError on a str payload, RecursionError)
            self.defects.append("unreadable_body_structure")
            return None, (), []
        if plain is not None:
            return self._text_of(plain), (), [plain]
        if html is not None:
            text = self._text_of(html)
            return (html_to_text(text) if text is not None else None), ("html_body",), [html]
        return None, (), []

    def _text_of(self, part: Message) -> str | None:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        charset = str(part.get_content_charset() or "us-ascii")
        # MIME text is CRLF on the wire; \n is the same text in Python's terms.
        return self._decode(payload, charset).replace("\r\n", "\n")

    def _decode(self, payload: bytes, charset: str) -> str:
        """Text of a body, strictly decoded when possible; any fallback leaves a defect."""
        try:
            return payload.decode(charset)
        except UnicodeError:
            pass
        except (LookupError, ValueError):  # ValueError: a NUL in the charset name
            self.defects.append("unknown_charset")
            charset = "utf-8"
        try:
            text = payload.decode("utf-8")
        except UnicodeError:
            self.defects.append("undecodable_body")
            return payload.decode(charset, errors="replace")
        if charset != "utf-8":
            self.defects.append("body_charset_mismatch")
        return text

    def _attachments(self, parts: list[tuple[str, Message]],
                     body_parts: list[Message]) -> list[EmbeddedFile]:
        files: list[EmbeddedFile] = []
        for path, part in parts:
            if any(part is body for body in body_parts):
                continue
            try:
                found = self._attachment(path, part, len(files) + 1)
            except Exception:  # noqa: BLE001 - one malformed part must not cost the rest of the message
                self.defects.append(f"unreadable_part:{path}")
                continue
            if found is not None:
                files.append(found)
        return files

    def _attachment(self, path: str, part: Message, number: int) -> EmbeddedFile | None:
        if not _is_attachment(part):
            return None
        data = self._part_bytes(path, part)
        if data is None:
            return None
        media_type = part.get_content_type()
        default = f"attachment-{number}" + (".eml" if media_type.startswith("message/") else "")
        return EmbeddedFile(
            name=safe_name(self._filename(part)) or default,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            locator=replace(self.locator, json_path=path),
            media_type=media_type,
        )

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except Exception:  # noqa: BLE001 - RFC 2231 parameter decoding fails in varied ways on bad input
            self.defects.append("unparseable_filename")
            return None
        return _clean(name) if isinstance(name, str) else None

    def _part_bytes(self, path: str, part: Message) -> bytes | None:
        if part.get_content_maintype() != "message":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
        # An attached message is kept byte for byte so that its headers and DKIM
        # signature can still be checked; regenerating it would refold headers.
        body = raw_part_body(self.raw, self.msg, path)
        if body is not None:
            return self._undo_transfer_encoding(part, body)
        self.defects.append("attached_message_regenerated")
        inner = part.get_payload(0) if part.is_multipart() else None
        return inner.as_bytes() if isinstance(inner, Message) else None

    def _undo_transfer_encoding(self, part: Message, body: bytes) -> bytes:
        encoding = str(part.get("content-transfer-encoding", "7bit")).strip().lower()
        try:
            if encoding == "base64":
                return binascii.a2b_base64(body)
            if encoding == "quoted-printable":
                return quopri.decodestring(body)
        except (binascii.Error, ValueError):
            self.defects.append("undecodable_attachment")
        return body

    def _final_defects(self, parts: list[tuple[str, Message]]) -> tuple[str, ...]:
        found = list(self.defects)
        cut = False
        for _path, part in [("", self.msg), *parts]:
            for defect in part.defects:
                found.append(_defect_name(defect))
                cut = cut or isinstance(defect, CloseBoundaryNotFoundDefect)
        # A multipart that never closes at the very end of the file was cut off.
        if cut and self.at_end_of_file:
            found.append("truncated")
        return tuple(dict.fromkeys(found))


# -- dates -------------------------------------------------------------------


def parse_date(text: str) -> WallClock | None:
    """An RFC 5322 date as a WallClock keeping the raw text, or None when unreadable."""
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    precision: Precision = "second" if _HAS_SECONDS.search(text) else "minute"
    if parsed.tzinfo is not None:
        return WallClock(text=text, instant=parsed, precision=precision)
    if _MINUS_ZERO.search(text):
        # RFC 5322 §3.3: -0000 is UTC, written by a system that would not state its own zone.
        return WallClock(text=text, instant=parsed.replace(tzinfo=UTC), precision=precision,
                         flags=("zone_minus_0000",))
    # No zone, or a zone name Python does not know (CEST): a wall clock of an unknown
    # zone, which the evidence store resolves with the case's zone.
    return WallClock(text=text, local=parsed, precision=precision, flags=("date_zone_unknown",))


# -- MIME structure ----------------------------------------------------------


def _walk(part: Message, path: str, depth: int, out: list[tuple[str, Message]]) -> bool:
    """Collect (IMAP-style part number, part) for every part, containers included.

    Attached messages are leaves: their inside belongs to the attached .eml,
    which the collector parses as an exhibit of its own. False when cut short.
    """
    # is_multipart() first: get_payload() on a text payload decodes it, which can raise.
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        out.append((path or "1", part))
        return True
    payload = part.get_payload()
    if depth >= _MAX_MIME_DEPTH:
        return False
    if path:
        out.append((path, part))
    complete = True
    for index, child in enumerate(payload, start=1):
        if isinstance(child, Message):
            child_path = f"{path}.{index}" if path else str(index)
            complete = _walk(child, child_path, depth + 1, out) and complete
    return complete


def _is_attachment(part: Message) -> bool:
    maintype = part.get_content_maintype()
    if maintype == "multipart":
        return False
    if part.get_content_type() in ("message/rfc822", "message/global"):
        return True
    if part.get_param("filename", header="content-disposition") or part.get_param("name"):
        return True
    if part.get_content_disposition() == "attachment":
        return True
    # Inline images and other non-text parts without a name are still files.
    return maintype not in ("text", "message")


def raw_part_body(raw: bytes, msg: Message, path: str) -> bytes | None:
    """The undecoded body bytes of the part at ``path``, exactly as in ``raw``.

    The email package does not keep byte offsets, so this splits ``raw`` on the
    same boundaries it used. None when the split does not match the parse.
    """
    entity, part = raw, msg
    if part.get_content_maintype() == "multipart":
        for index in path.split("."):
            boundary = part.get_boundary()
            if boundary is None or not part.is_multipart() or not index.isdigit():
                return None
            children = cast(list[Message], part.get_payload())
            chunks = _split_multipart(_entity_body(entity), boundary)
            position = int(index) - 1
            if chunks is None or len(chunks) != len(children) or not 0 <= position < len(chunks):
                return None
            entity, part = chunks[position], children[position]
    elif path != "1":
        return None
    return _entity_body(entity)


def _entity_body(entity: bytes) -> bytes:
    """What follows an entity's header block (everything, when it has no headers)."""
    if entity.startswith((b"\n", b"\r\n")):
        return entity[entity.index(b"\n") + 1:]
    ends = [i for i in (entity.find(b"\n\n"), entity.find(b"\n\r\n")) if i >= 0]
    if not ends:
        return b""
    end = min(ends)
    return entity[entity.index(b"\n", end + 1) + 1:]


def _split_multipart(body: bytes, boundary: str) -> list[bytes] | None:
    try:
        marker = boundary.encode("ascii", "surrogateescape")
    except UnicodeError:
        return None
    delimiter = re.compile(rb"^--" + re.escape(marker) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    chunks: list[bytes] = []
    start: int | None = None
    for match in delimiter.finditer(body):
        if start is not None:
            # The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
            end = match.start()
            if body.endswith(b"\r\n", start, end):
                end -= 2
            elif body.endswith(b"\n", start, end):
                end -= 1
            chunks.append(body[start:end])
        if match.group(1):
            return chunks
        newline = body.find(b"\n", match.end())
        start = len(body) if newline < 0 else newline + 1
    if start is not None:
        chunks.append(body[start:])
    return chunks


# -- small helpers -----------------------------------------------------------


def _raw_headers(msg: Message) -> dict[str, list[str]]:
    """Raw values of each header in order, by lower-cased name (values still folded)."""
    headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        headers.setdefault(name.lower(), []).append(value)
    return headers


def _unfold(value: str) -> str:
    return _FOLD.sub("", value).strip()


def _strip_angles(value: str | None) -> str | None:
    """``<id>`` as ``id``; anything else (several ids, no brackets) as written."""
    if value is None:
        return None
    text = _clean(_unfold(value))
    if match := _ONE_BRACKETED.match(text):
        text = match.group(1).strip()
    return text or None


def _is_clean_utf8(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return False
    return True


def _defect_name(defect: MessageDefect) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    return _CAMEL.sub("_", name).lower()


def _direction(labels: tuple[str, ...] | None) -> Direction:
    # Labels are the victim's own mailbox's: Sent means the victim sent it.
    if labels is None:
        return "unknown"
    if "Sent" in labels:
        return "outgoing"
    if "Inbox" in labels:
        return "incoming"
    return "unknown"


def safe_name(name: str | None) -> str | None:
    """The last path component of an attachment's name, without control characters.

    The name becomes a stored file's name, so "../../x" must not reach anything.
    """
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base if base not in ("", ".", "..") else None


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: block elements on their own lines.

    get_text("\\n") alone also splits inline markup ("Hello <b>you</b>" became
    two lines), so line breaks are added after block elements only.
    """
    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_after("\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    return "\n".join(_squeeze_blank_lines(lines)).strip()


def _squeeze_blank_lines(lines: list[str]) -> Iterator[str]:
    previous_blank = False
    for line in lines:
        if line or not previous_blank:
            yield line
        previous_blank = not line
