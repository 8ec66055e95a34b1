"""One Outlook (MAPI) message -> records; shared by the .msg and PST parsers.

Both formats store a message as MAPI properties rather than as RFC 5322 text:
each parser reads its container into a MapiMessage and this module makes the
records, the way email_message does for mbox and .eml: attachments first, then
the EventRecord that refers to them, then the facts about it. A received
message keeps the Internet headers it arrived with (PR_TRANSPORT_MESSAGE_HEADERS),
which give the attribution facts; drafts and sent items have none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses

from bs4.dammit import EncodingDetector

from parsers.email_attribution import attribution
from parsers.email_message import html_to_text, parse_date, safe_name
from parsers.identifiers import email_id
from parsers.records import (
    AttachmentRef,
    DerivedFact,
    EmbeddedFile,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    Precision,
    TimeBasis,
    WallClock,
)

#: Message classes that are mail (MS-OXCMSG, MS-OXOMSG); calendar, contacts and tasks are not.
_MAIL_CLASSES = ("ipm.note", "report.", "ipm.post", "ipm.schedule.meeting", "ipm.outlook.recall")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
#: Outlook writes dates in the year 4500 to mean "no date" (extract-msg treats them alike).
_FILETIME_NONE_FROM = 915_000_000_000_000_000
_EXCHANGE_PREFIX = "Microsoft Mail Internet Headers Version 2.0"


@dataclass(slots=True)
class MapiAttachment:
    name: str | None
    data: bytes
    #: Where the attachment sits in its container (a storage name, a PST item).
    member: str
    media_type: str | None = None
    content_id: str | None = None
    #: Shown inside the body (an inline image) rather than listed as an attachment.
    inline: bool = False


@dataclass(slots=True)
class MapiMessage:
    locator: Locator
    message_class: str | None = None
    subject: str | None = None
    sender_name: str | None = None
    sender_address: str | None = None
    #: (display name, address, "to" | "cc" | "bcc") per recipient.
    recipients: list[tuple[str | None, str | None, str]] = field(default_factory=list)
    #: PR_CLIENT_SUBMIT_TIME and PR_MESSAGE_DELIVERY_TIME as raw FILETIME values.
    submit_time: int | None = None
    delivery_time: int | None = None
    #: PR_LAST_MODIFICATION_TIME: the only time an unsent draft has.
    modified_time: int | None = None
    internet_message_id: str | None = None
    body: str | None = None
    html: bytes | None = None
    #: Text recovered from an RTF-only body.
    rtf_text: str | None = None
    transport_headers: str | None = None
    conversation_index: bytes | None = None
    conversation_topic: str | None = None
    attachments: list[MapiAttachment] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def take_rtf_body(message: MapiMessage, content: str | bytes, content_type: str) -> None:
    """The body an RTF-only message carries, once de-encapsulated (RTFDE): the HTML
    it wraps, or its text."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if content_type == "html":
        message.html = content.encode("utf-8")
    else:
        message.rtf_text = content


def is_mail(message_class: str | None) -> bool:
    """Whether an item of this class belongs on the timeline as an e-mail."""
    return message_class is None or message_class.lower().startswith(_MAIL_CLASSES)


def mapi_items(message: MapiMessage) -> list[ParsedItem]:
    """The records for one message: its attachments, its event, then its facts."""
    headers = _headers(message.transport_headers)
    message_id = _strip_angles(message.internet_message_id) or _strip_angles(
        headers.get("message-id") if headers is not None else None)
    locator = replace(message.locator, message_id=message_id) if message_id else message.locator
    files = [_embedded(attachment, locator) for attachment in message.attachments]
    timing = _time(message, headers)
    if timing is None:
        return [*files, FileNote(
            code="no_date",
            message=f"Message at {_describe(locator)} has no submit, delivery or modification "
                    "time and no Date header, so it has no timeline event; it is kept in the "
                    "stored original.",
        )]
    clock, basis, time_property = timing
    extra = dict(message.extra)
    facts: list[DerivedFact] = []
    if headers is not None:
        found = attribution(headers, locator)
        extra.update(found.summary)
        facts.extend(found.facts)
        _header_extra(headers, extra)
    if message_id is not None:
        extra["message_id"] = message_id
    if message.message_class:
        extra["message_class"] = message.message_class
    extra["time_property"] = time_property
    if message.delivery_time is not None and (received := _filetime(message.delivery_time)):
        extra["delivery_time"] = received.strftime("%Y-%m-%dT%H:%M:%SZ")
    if message.conversation_topic:
        extra["conversation_topic"] = message.conversation_topic
    sender_name, sender_id = _sender(message, headers, extra)
    recipients = _recipients(message.recipients)
    text, text_flags, text_defects = _text(message)
    record = EventRecord(
        kind="email", time=clock, time_basis=basis, channel="email", locator=locator,
        sender=sender_name, sender_id=sender_id, recipients=recipients, text=text,
        subject=message.subject,
        attachments=tuple(AttachmentRef(f.name, f.sha256, f.media_type) for f in files),
        flags=tuple(dict.fromkeys([*message.flags, *text_flags])),
        defects=tuple(dict.fromkeys([*message.defects, *text_defects])),
        extra=extra,
        conversation=_conversation(message, message_id),
        participants=tuple(dict.fromkeys(
            i for i in (sender_id, *recipients) if i is not None)),
    )
    facts.extend(_attachment_facts(message.attachments, files, locator))
    return [*files, record, *facts]


def _filetime(value: int | None) -> datetime | None:
    if not value or value >= _FILETIME_NONE_FROM or value < 0:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _time(message: MapiMessage,
          headers: Message | None) -> tuple[WallClock, TimeBasis, str] | None:
    """Submit time (the sender's clock), else the Date header, else delivery time.

    A draft that was never sent has none of them, only the time it was last
    saved, which is used with basis "file_modified" and a flag saying so.
    """
    if (sent := _filetime_clock(message.submit_time)) is not None:
        return sent, "sent", "PR_CLIENT_SUBMIT_TIME"
    date_text = headers.get("date") if headers is not None else None
    if date_text and (clock := parse_date(str(date_text).strip())) is not None:
        return clock, "sent", "Date header"
    if (received := _filetime_clock(message.delivery_time)) is not None:
        return (replace(received, flags=("date_from_delivery_time",)), "received",
                "PR_MESSAGE_DELIVERY_TIME")
    if (saved := _filetime_clock(message.modified_time)) is not None:
        return (replace(saved, flags=("date_from_last_modification",)), "file_modified",
                "PR_LAST_MODIFICATION_TIME")
    return None


def _filetime_clock(value: int | None) -> WallClock | None:
    instant = _filetime(value)
    if instant is None or value is None:
        return None
    precision: Precision = "subsecond" if value % 10_000_000 else "second"
    # The raw FILETIME is the text as the source wrote it.
    return WallClock(text=str(value), instant=instant, precision=precision)


def _headers(text: str | None) -> Message | None:
    if not text or not text.strip():
        return None
    if text.startswith(_EXCHANGE_PREFIX):
        text = text[len(_EXCHANGE_PREFIX):].lstrip()
    try:
        return HeaderParser(policy=compat32).parsestr(text)
    except Exception:  # noqa: BLE001 - the stdlib header parser's failures on hostile text are not typed
        return None


def _header_extra(headers: Message, extra: dict[str, str]) -> None:
    for key, name in (("from", "from"), ("reply_to", "reply-to")):
        value = headers.get(name)
        if value is not None and str(value).strip():
            extra[key] = " ".join(str(value).split())
    # As the mbox and .eml parsers keep them: without the angle brackets.
    for key, name in (("in_reply_to", "in-reply-to"), ("return_path", "return-path")):
        if (stripped := _strip_angles(headers.get(name))) is not None:
            extra[key] = stripped


def _sender(message: MapiMessage, headers: Message | None,
            extra: dict[str, str]) -> tuple[str | None, str | None]:
    """The MAPI sender, else the From header of the transport headers."""
    identifier = email_id(message.sender_address or "")
    name = message.sender_name
    if identifier is None and headers is not None and headers.get("from"):
        try:
            pairs = getaddresses([str(headers.get("from"))])
        except Exception:  # noqa: BLE001 - getaddresses has raised on hostile input in some CPython releases
            pairs = []
        if pairs:
            identifier = email_id(pairs[0][1])
            name = name or pairs[0][0] or None
    if message.sender_address and identifier is None:
        # An Exchange (X.500) address: not an e-mail address, kept as written.
        extra["sender_address"] = message.sender_address
    if "from" not in extra and (name or identifier):
        extra["from"] = f"{name} <{identifier}>" if name and identifier else str(name or identifier)
    return name or identifier, identifier


def _recipients(recipients: list[tuple[str | None, str | None, str]]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for name, address, _kind in recipients:
        if address:
            found[email_id(address) or address.strip().lower()] = None
        elif name:
            found[name.strip()] = None
    return tuple(found)


def _text(message: MapiMessage) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    if message.body is not None and message.body.strip():
        return message.body.replace("\r\n", "\n"), (), ()
    if message.html:
        html, defects = _decode_html(message.html)
        return html_to_text(html), ("html_body",), defects
    if message.rtf_text is not None:
        return message.rtf_text.replace("\r\n", "\n"), ("rtf_body",), ()
    return (message.body or None), (), ()


def _decode_html(data: bytes) -> tuple[str, tuple[str, ...]]:
    """HTML body bytes as text: UTF-8 when valid, else the charset the page declares."""
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError:
        pass
    for encoding in EncodingDetector(data, is_html=True).encodings:
        try:
            return data.decode(encoding), ()
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("cp1252", errors="replace"), ("undecodable_body",)


def _conversation(message: MapiMessage, message_id: str | None) -> str | None:
    """Outlook's thread (the first 22 bytes of PR_CONVERSATION_INDEX), else the message alone.

    Not the folder: scoping keeps whole conversations, and a folder (the Inbox)
    would keep everything in it.
    """
    index = message.conversation_index
    if index is not None and len(index) >= 22:
        return "thread:" + index[:22].hex()
    return message_id or message.locator.member


def _embedded(attachment: MapiAttachment, locator: Locator) -> EmbeddedFile:
    return EmbeddedFile(
        name=safe_name(attachment.name) or attachment.member.rsplit("/", 1)[-1],
        data=attachment.data,
        sha256=hashlib.sha256(attachment.data).hexdigest(),
        locator=replace(locator, member=attachment.member),
        media_type=attachment.media_type,
    )


def _attachment_facts(attachments: list[MapiAttachment], files: list[EmbeddedFile],
                      locator: Locator) -> list[DerivedFact]:
    """What an attachment's record cannot carry: its content-id and whether it is inline."""
    return [
        DerivedFact("attachment", {
            "name": file.name, "sha256": file.sha256, "size": len(file.data),
            "media_type": file.media_type, "content_id": attachment.content_id,
            "inline": attachment.inline, "member": attachment.member,
        }, replace(locator, member=attachment.member))
        for attachment, file in zip(attachments, files, strict=True)
    ]


def _strip_angles(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if text.startswith("<") and text.endswith(">") and text.count("<") == 1:
        text = text[1:-1].strip()
    return text or None


def _describe(locator: Locator) -> str:
    return ", ".join(f"{key} {value}" for key, value in locator.as_dict().items())
