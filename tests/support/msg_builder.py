"""Outlook .msg files built per MS-OXMSG, for tests (no .msg writer exists on PyPI we can use).

A message is a compound file (tests.support.cfb_writer): fixed-size properties
in the ``__properties_version1.0`` stream, each variable-size one in a
``__substg1.0_<id><type>`` stream, recipients and attachments in storages of
their own, an attached message as a nested message storage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

import compressed_rtf

from tests.support.cfb_writer import Storage, write

# Property types (MS-OXCDATA 2.11.1).
INT32, BOOLEAN, TIME, STRING, BINARY, OBJECT = 0x0003, 0x000B, 0x0040, 0x001F, 0x0102, 0x000D
_READABLE_WRITABLE = 0x00000006
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_STORE_UNICODE_OK = 0x00040000
MSGFLAG_READ, MSGFLAG_UNSENT = 0x1, 0x8
ATTACH_BY_VALUE, ATTACH_EMBEDDED_MSG = 1, 5
TO, CC, BCC = 1, 2, 3


def filetime(moment: datetime) -> int:
    """100-nanosecond intervals since 1601-01-01 UTC."""
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@dataclass
class Recipient:
    name: str
    address: str
    kind: int = TO


@dataclass
class Attachment:
    name: str | None = None
    data: bytes | None = None
    mime: str | None = None
    content_id: str | None = None
    embedded: Message | None = None
    hidden: bool = False


@dataclass
class Message:
    subject: str | None = None
    sender_name: str | None = None
    sender_address: str | None = None
    body: str | None = None
    html: bytes | None = None
    #: Uncompressed RTF; stored compressed (MS-OXRTFCP) as Outlook does.
    rtf: bytes | None = None
    transport_headers: str | None = None
    internet_message_id: str | None = None
    submit_time: datetime | None = None
    delivery_time: datetime | None = None
    modified_time: datetime | None = None
    message_class: str = "IPM.Note"
    flags: int = MSGFLAG_READ
    recipients: list[Recipient] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    #: Any further properties: tag (id << 16 | type) -> value.
    properties: dict[int, object] = field(default_factory=dict)


def build(message: Message) -> bytes:
    """The bytes of a top-level .msg file."""
    root = _message_storage(message, top_level=True)
    # Named-property mapping: empty, but readers expect the storage.
    names = root.storage("__nameid_version1.0")
    for tag in (0x00020102, 0x00030102, 0x00040102):
        names.entries[_stream_name(tag)] = b""
    return write(root)


def _message_storage(message: Message, *, top_level: bool) -> Storage:
    props: dict[int, object] = {
        (0x001A << 16) | STRING: message.message_class,
        (0x0E07 << 16) | INT32: message.flags,
        (0x340D << 16) | INT32: _STORE_UNICODE_OK,
    }
    optional: dict[int, object | None] = {
        (0x0037 << 16) | STRING: message.subject,
        (0x0C1A << 16) | STRING: message.sender_name,
        (0x0042 << 16) | STRING: message.sender_name,
        (0x0C1F << 16) | STRING: message.sender_address,
        (0x0065 << 16) | STRING: message.sender_address,
        (0x5D01 << 16) | STRING: message.sender_address,
        (0x0C1E << 16) | STRING: "SMTP" if message.sender_address else None,
        (0x1000 << 16) | STRING: message.body,
        (0x1013 << 16) | BINARY: message.html,
        (0x1009 << 16) | BINARY: (compressed_rtf.compress(message.rtf, compressed=True)
                                  if message.rtf is not None else None),
        (0x007D << 16) | STRING: message.transport_headers,
        (0x1035 << 16) | STRING: message.internet_message_id,
        (0x0039 << 16) | TIME: message.submit_time,
        (0x0E06 << 16) | TIME: message.delivery_time,
        (0x3008 << 16) | TIME: message.modified_time,
    }
    props.update({tag: value for tag, value in optional.items() if value is not None})
    props.update(message.properties)
    storage = Storage()
    header = struct.pack("<8xIIII", len(message.recipients), len(message.attachments),
                         len(message.recipients), len(message.attachments))
    if top_level:
        header += b"\0" * 8
    _put_properties(storage, props, header)

    for number, recipient in enumerate(message.recipients):
        child = storage.storage(f"__recip_version1.0_#{number:08X}")
        _put_properties(child, {
            (0x0C15 << 16) | INT32: recipient.kind,
            (0x3000 << 16) | INT32: number,
            (0x3001 << 16) | STRING: recipient.name,
            (0x3002 << 16) | STRING: "SMTP",
            (0x3003 << 16) | STRING: recipient.address,
            (0x39FE << 16) | STRING: recipient.address,
            (0x5FF6 << 16) | STRING: recipient.name,
        }, b"\0" * 8)

    for number, attachment in enumerate(message.attachments):
        child = storage.storage(f"__attach_version1.0_#{number:08X}")
        method = ATTACH_EMBEDDED_MSG if attachment.embedded is not None else ATTACH_BY_VALUE
        attach_props: dict[int, object] = {
            (0x3705 << 16) | INT32: method,
            (0x0E21 << 16) | INT32: number,
        }
        named: dict[int, object | None] = {
            (0x3707 << 16) | STRING: attachment.name,
            (0x3704 << 16) | STRING: attachment.name,
            (0x3001 << 16) | STRING: attachment.name,
            (0x370E << 16) | STRING: attachment.mime,
            (0x3712 << 16) | STRING: attachment.content_id,
            (0x3701 << 16) | BINARY: attachment.data,
            (0x7FFE << 16) | BOOLEAN: True if attachment.hidden else None,
        }
        attach_props.update({tag: value for tag, value in named.items() if value is not None})
        if attachment.embedded is not None:
            inner = _message_storage(attachment.embedded, top_level=False)
            child.entries[_stream_name((0x3701 << 16) | OBJECT)] = inner
            attach_props[(0x3701 << 16) | OBJECT] = inner
        _put_properties(child, attach_props, b"\0" * 8)
    return storage


def _put_properties(storage: Storage, props: dict[int, object], header: bytes) -> None:
    stream = bytearray(header)
    for tag in sorted(props):
        value = props[tag]
        kind = tag & 0xFFFF
        if kind == STRING:
            assert isinstance(value, str)
            data = value.encode("utf-16-le")
            storage.entries[_stream_name(tag)] = data
            stream += struct.pack("<IIII", tag, _READABLE_WRITABLE, len(data) + 2, 0)
        elif kind == BINARY:
            assert isinstance(value, bytes)
            storage.entries[_stream_name(tag)] = value
            stream += struct.pack("<IIII", tag, _READABLE_WRITABLE, len(value), 0)
        elif kind == OBJECT:
            stream += struct.pack("<IIII", tag, _READABLE_WRITABLE, 0xFFFFFFFF, 0)
        elif kind == TIME:
            assert isinstance(value, datetime)
            stream += struct.pack("<IIQ", tag, _READABLE_WRITABLE, filetime(value))
        elif kind == BOOLEAN:
            stream += struct.pack("<IIQ", tag, _READABLE_WRITABLE, 1 if value else 0)
        elif kind == INT32:
            assert isinstance(value, int)
            stream += struct.pack("<IIQ", tag, _READABLE_WRITABLE, value)
        else:
            raise ValueError(f"property type {kind:#06x} not supported")
    storage.entries["__properties_version1.0"] = bytes(stream)


def _stream_name(tag: int) -> str:
    return f"__substg1.0_{tag:08X}"
