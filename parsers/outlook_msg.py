"""Outlook .msg files (one message saved from Outlook), read with extract-msg.

A .msg is an OLE compound file holding MAPI properties (MS-OXMSG). Values are
read from their property streams by name, so nothing extract-msg derives (a
sender rebuilt from headers, a date hidden on unsent items) stands in for what
the file says. An attached message is a storage inside the file, not a byte
range, so it is written out as a .msg of its own (by extract-msg) and becomes a
child exhibit that is parsed again.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any

import extract_msg
from extract_msg.enums import ErrorBehavior, RecipientType

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.mapi_message import (
    MapiAttachment,
    MapiMessage,
    is_mail,
    mapi_items,
    take_rtf_body,
)
from parsers.random_access import RandomAccess
from parsers.records import FileNote, Locator, ParsedItem

OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
#: The root storage's CLSID in files Outlook saves: IID_IMessage,
#: {00020D0B-0000-0000-C000-000000000046}.
_MESSAGE_CLSID = bytes.fromhex("0B0D020000000000C000000000000046")
#: Storage and stream names only an Outlook item has (MS-OXMSG 2.2), as stored (UTF-16LE).
_MSG_NAMES = tuple(name.encode("utf-16-le") for name in (
    "__substg1.0_", "__properties_version1.0", "__recip_version1.0_",
    "__attach_version1.0_", "__nameid_version1.0",
))
_SECTOR_SHIFT_OFFSET, _DIRECTORY_START_OFFSET = 30, 48
_RECIPIENT_KINDS = {RecipientType.TO: "to", RecipientType.CC: "cc", RecipientType.BCC: "bcc"}
#: Bytes of the top-level message's property stream header (MS-OXMSG 2.4.1.1).
_TOP_LEVEL_HEADER = 32
_SUBMIT_TIME, _DELIVERY_TIME, _MODIFIED_TIME = 0x00390040, 0x0E060040, 0x30080040
_OPEN_OPTIONS: dict[str, Any] = {"errorBehavior": ErrorBehavior.SUPPRESS_ALL, "strict": False}

# extract-msg logs its complaints about odd files; without a handler they would
# reach stderr through logging's last resort. The parser records them as defects.
logging.getLogger("extract_msg").addHandler(logging.NullHandler())


def is_outlook_message(head: bytes, name: str) -> bool:
    """An OLE file whose directory, when the probe reaches it, names Outlook message streams.

    The directory usually sits near the start of a .msg; when it lies beyond the
    probe, the file's name is the remaining sign. Word and Excel files are OLE
    files too, so the magic alone never decides.
    """
    if not head.startswith(OLE_MAGIC) or len(head) < 512:
        return False
    if any(marker in head for marker in _MSG_NAMES):
        return True
    shift = struct.unpack_from("<H", head, _SECTOR_SHIFT_OFFSET)[0]
    if shift not in (9, 12):
        return False
    sector = 1 << shift
    directory_start = struct.unpack_from("<I", head, _DIRECTORY_START_OFFSET)[0]
    root_entry = (directory_start + 1) * sector
    if root_entry + 128 <= len(head):
        return head[root_entry + 80:root_entry + 96] == _MESSAGE_CLSID
    return name.lower().endswith(".msg")


class OutlookMsgParser:
    name = "outlook_msg"
    version = "1.0.0"
    format = "msg"

    def detect(self, probe: Probe) -> bool:
        return is_outlook_message(probe.head, probe.name)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        with source.open() as stream:
            try:
                msg = extract_msg.openMsg(RandomAccess(stream), **_OPEN_OPTIONS)
            except Exception as exc:  # olefile and extract-msg raise many types on damaged files
                raise DamagedInput(f"not a readable Outlook message: {_reason(exc)}") from exc
            try:
                items = _read(msg)
            except DamagedInput:
                raise
            except Exception as exc:  # as above, for properties read after opening
                raise DamagedInput(f"Outlook message unreadable: {_reason(exc)}") from exc
            finally:
                msg.close()
        yield from items


def _read(msg: Any) -> list[ParsedItem]:
    notes: list[ParsedItem] = []
    message_class = _string(msg, "001A")
    if message_class is None:
        # Word and Excel files are compound files too; an Outlook item names its class.
        raise DamagedInput("compound file without an Outlook message class; not a message")
    if not is_mail(message_class):
        return [FileNote(
            code="not_a_message",
            message=f"Outlook item of class {message_class} is not a message; "
                    "it is stored but has no timeline event.",
        )]
    message = MapiMessage(
        locator=Locator(),
        message_class=message_class,
        subject=_string(msg, "0037"),
        sender_name=_string(msg, "0C1A") or _string(msg, "0042"),
        sender_address=_sender_address(msg),
        internet_message_id=_string(msg, "1035"),
        body=_string(msg, "1000"),
        html=_binary(msg, "__substg1.0_10130102") or _html_string(msg),
        transport_headers=_string(msg, "007D"),
        conversation_index=_binary(msg, "__substg1.0_00710102"),
        conversation_topic=_string(msg, "0070"),
    )
    times = _fixed_properties(_binary(msg, "__properties_version1.0") or b"")
    message.submit_time = times.get(_SUBMIT_TIME)
    message.delivery_time = times.get(_DELIVERY_TIME)
    message.modified_time = times.get(_MODIFIED_TIME)
    _recipients(msg, message)
    if not (message.body or "").strip() and not message.html:
        _rtf_body(msg, message)
    notes.extend(_attachments(msg, message))
    return [*mapi_items(message), *notes]


def _string(msg: Any, property_id: str) -> str | None:
    value = msg.getStringStream(f"__substg1.0_{property_id}")
    return value if isinstance(value, str) else None


def _binary(msg: Any, stream: str) -> bytes | None:
    value = msg.getStream(stream)
    return value if isinstance(value, bytes) else None


def _html_string(msg: Any) -> bytes | None:
    # Some writers store the HTML body as a string property rather than binary.
    text = _string(msg, "1013")
    return text.encode("utf-8") if text else None


def _sender_address(msg: Any) -> str | None:
    """The sender's SMTP address; an Exchange (X.500) address only when there is no other."""
    candidates = [_string(msg, "5D01"), _string(msg, "0C1F"), _string(msg, "0065"),
                  _string(msg, "5D02")]
    return next((c for c in candidates if c and "@" in c), None) or next(
        (c for c in candidates if c), None)


def _fixed_properties(stream: bytes) -> dict[int, int]:
    """Raw 8-byte values of the top-level property stream, by property tag.

    Read here rather than through extract-msg, which turns times into datetimes
    and so loses the FILETIME as written.
    """
    values: dict[int, int] = {}
    for offset in range(_TOP_LEVEL_HEADER, len(stream) - 15, 16):
        tag, _flags, value = struct.unpack_from("<IIQ", stream, offset)
        values[tag] = value
    return values


def _recipients(msg: Any, message: MapiMessage) -> None:
    # Items extract-msg does not know as messages have no recipient list.
    for recipient in getattr(msg, "recipients", ()):
        kind = _RECIPIENT_KINDS.get(recipient.type, "to")
        message.recipients.append((recipient.name, recipient.email, kind))


def _rtf_body(msg: Any, message: MapiMessage) -> None:
    """Text of an RTF-only body, when the RTF encapsulates HTML or plain text."""
    if not msg.compressedRtf:
        return
    try:
        deencapsulated = msg.deencapsulatedRtf
    except Exception:  # noqa: BLE001 - RTFDE raises its own and stdlib types on malformed RTF
        deencapsulated = None
    if deencapsulated is None:
        message.defects.append("rtf_body_not_converted")
        return
    take_rtf_body(message, deencapsulated.content, deencapsulated.content_type)


def _attachments(msg: Any, message: MapiMessage) -> list[ParsedItem]:
    notes: list[ParsedItem] = []
    html = message.html or b""
    for attachment in msg.attachments:
        member = str(getattr(attachment, "dir", "attachment"))
        data = attachment.data
        name = attachment.longFilename or attachment.shortFilename
        content_id = _content_id(attachment)
        if hasattr(data, "exportBytes"):
            try:
                data = data.exportBytes()
            except Exception:  # noqa: BLE001 - extract-msg's writer raises various types on odd storages
                message.defects.append(f"attached_message_unreadable:{member}")
                continue
            name = name or f"{attachment.displayName or 'attached message'}.msg"
            if not name.lower().endswith(".msg"):
                name += ".msg"
            notes.append(FileNote(
                code="attached_message_rebuilt",
                message=f"The attached message in {member} is a storage inside the file, not a "
                        "byte range; it was written out as a .msg of its own to be parsed, so "
                        "its hash is not that of any bytes in the original.",
            ))
            media_type: str | None = "application/vnd.ms-outlook"
        elif isinstance(data, bytes):
            media_type = _string(attachment, "370E")
        else:
            # A web or OLE-object attachment, or one extract-msg cannot read.
            message.defects.append(f"attachment_without_data:{member}")
            continue
        inline = bool(attachment.hidden) or bool(
            content_id and f"cid:{content_id}".encode() in html)
        message.attachments.append(MapiAttachment(
            name=name, data=data, member=member, media_type=media_type,
            content_id=content_id, inline=inline,
        ))
    return notes


def _content_id(attachment: Any) -> str | None:
    value = attachment.cid
    if not isinstance(value, str):
        return None
    return value.strip().strip("<>") or None


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


PARSER = OutlookMsgParser()
