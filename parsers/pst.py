"""Outlook PST and OST stores, read with libpff (pypff), one message at a time.

A store is gigabytes, so pypff reads the stored original through its file
object on demand and each message is turned into records and yielded before the
next is read. Folders are walked from the root; each message keeps its folder
path ("Top of Personal Folders/Inbox/Harassment"). Items that cannot be read are
skipped and counted; when any were, the parse ends with DamagedInput naming them
after every readable message has been yielded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pypff
import RTFDE

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

PST_MAGIC = b"!BDN"
#: wMagicClient: "SM" for a PST, "SO" for an OST (an Exchange offline store).
_CLIENT_MAGIC = (b"SM", b"SO")
_MAX_FOLDER_DEPTH = 64
_STRING_TYPES = (0x001F, 0x001E)
_RECIPIENT_KINDS = {1: "to", 2: "cc", 3: "bcc"}
_ATTACH_EMBEDDED_MSG = 5
_SLACK = 1024 * 1024
#: How many unreadable items a damage report names; the rest are counted.
_NAMED_PROBLEMS = 3


class PstParser:
    name = "pst"
    version = "1.0.0"
    format = "pst"

    def detect(self, probe: Probe) -> bool:
        return probe.head.startswith(PST_MAGIC) and probe.head[8:10] in _CLIENT_MAGIC

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        with source.open() as stream:
            store = pypff.file()
            try:
                store.open_file_object(RandomAccess(stream))
            except Exception as exc:  # pypff raises OSError, ValueError and more on damaged stores
                raise DamagedInput(f"not a readable PST/OST store: {_reason(exc)}") from exc
            try:
                walk = _Walk(largest_attachment=4 * source.size + _SLACK)
                yield from walk.store(store)
            finally:
                store.close()
        yield from walk.notes()
        if walk.problems:
            named = "; ".join(walk.problems[:_NAMED_PROBLEMS])
            more = len(walk.problems) - _NAMED_PROBLEMS
            raise DamagedInput(
                f"damaged PST/OST store: {len(walk.problems)} item(s) could not be read ({named}"
                + (f"; and {more} more" if more > 0 else "")
                + f"); {walk.messages} message(s) were read")


@dataclass
class _Walk:
    #: An attachment claiming more than this is damage: nothing is read for it (OST
    #: blocks may be compressed, hence the multiple of the store's own size).
    largest_attachment: int
    messages: int = 0
    not_mail: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    orphans: int = 0
    _seen_folders: set[int] = field(default_factory=set)

    def store(self, store: Any) -> Iterator[ParsedItem]:
        try:
            root = store.get_root_folder()
            self.orphans = int(store.get_number_of_orphan_items() or 0)
        except Exception as exc:  # see PstParser.parse
            raise DamagedInput(f"PST/OST store has no readable root folder: {_reason(exc)}") \
                from exc
        if root is None:
            raise DamagedInput("PST/OST store has no root folder")
        yield from self.folder(root, [], 0)

    def folder(self, folder: Any, path: list[str], depth: int) -> Iterator[ParsedItem]:
        where = "/".join(path) or "(root)"
        try:
            identifier = int(folder.get_identifier())
            messages = int(folder.get_number_of_sub_messages())
            folders = int(folder.get_number_of_sub_folders())
        except Exception as exc:  # noqa: BLE001 - a damaged folder must not cost the others
            self.problems.append(f"folder {where}: {_reason(exc)}")
            return
        if identifier in self._seen_folders or depth > _MAX_FOLDER_DEPTH:
            self.problems.append(f"folder {where}: folder tree loops or nests too deep")
            return
        self._seen_folders.add(identifier)
        for index in range(messages):
            try:
                message = folder.get_sub_message(index)
                items = self.message(message, path)
            except Exception as exc:  # noqa: BLE001 - one unreadable message must not cost the rest
                self.problems.append(f"message {index + 1} in {where}: {_reason(exc)}")
                continue
            yield from items
        for index in range(folders):
            try:
                child = folder.get_sub_folder(index)
                name = _escape(child.get_name() or "")
            except Exception as exc:  # noqa: BLE001 - as above, for folders
                self.problems.append(f"folder {index + 1} in {where}: {_reason(exc)}")
                continue
            yield from self.folder(child, [*path, name], depth + 1)

    def message(self, item: Any, path: list[str]) -> list[ParsedItem]:
        props = _properties(item)
        message_class = _string(props, 0x001A)
        if not is_mail(message_class):
            kind = str(message_class).split(".")[1] if "." in str(message_class) else str(
                message_class)
            self.not_mail[kind] = self.not_mail.get(kind, 0) + 1
            return []
        folder_path = "/".join(path)
        identifier = int(item.get_identifier())
        member = f"{folder_path} #{identifier}"
        message = MapiMessage(
            locator=Locator(member=member),
            message_class=message_class,
            subject=_string(props, 0x0037),
            sender_name=_string(props, 0x0C1A) or _string(props, 0x0042),
            sender_address=_sender_address(props),
            submit_time=_filetime(props, 0x0039),
            delivery_time=_filetime(props, 0x0E06),
            modified_time=_filetime(props, 0x3008),
            internet_message_id=_string(props, 0x1035),
            body=_string(props, 0x1000),
            html=_binary(props, 0x1013) or _html_string(props),
            transport_headers=_string(props, 0x007D),
            conversation_index=_binary(props, 0x0071),
            conversation_topic=_string(props, 0x0070),
            extra={"folder": folder_path, "pst_node_id": str(identifier)},
        )
        if not (message.body or "").strip() and not message.html:
            _rtf_body(item, message)
        _recipients(item, message)
        _attachments(item, message, member, self.largest_attachment)
        self.messages += 1
        return mapi_items(message)

    def notes(self) -> Iterator[FileNote]:
        if self.not_mail:
            counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.not_mail.items()))
            yield FileNote(code="pst_items_not_mail",
                           message=f"Items that are not mail were not put on the timeline "
                                   f"({counts}); they stay in the stored original.")
        if self.orphans:
            yield FileNote(code="pst_orphan_items",
                           message=f"{self.orphans} item(s) in the store belong to no folder "
                                   "(left over from deletion or damage) and were not parsed.")


# -- MAPI properties through pypff record entries --------------------------------------


def _properties(item: Any) -> dict[int, Any]:
    """The item's first record set, by property id (the first entry of each id)."""
    found: dict[int, Any] = {}
    if not item.get_number_of_record_sets():
        return found
    for entry in item.get_record_set(0).entries:
        found.setdefault(int(entry.get_entry_type()), entry)
    return found


def _string(props: dict[int, Any], property_id: int) -> str | None:
    entry = props.get(property_id)
    if entry is None or entry.get_value_type() not in _STRING_TYPES:
        return None
    value = entry.get_data_as_string()
    return value if isinstance(value, str) else None


def _binary(props: dict[int, Any], property_id: int) -> bytes | None:
    entry = props.get(property_id)
    if entry is None or entry.get_value_type() != 0x0102:
        return None
    value = entry.get_data()
    return bytes(value) if value else None


def _html_string(props: dict[int, Any]) -> bytes | None:
    text = _string(props, 0x1013)
    return text.encode("utf-8") if text else None


def _integer(props: dict[int, Any], property_id: int) -> int | None:
    entry = props.get(property_id)
    if entry is None or entry.get_value_type() not in (0x0002, 0x0003):
        return None
    value = entry.get_data_as_integer()
    return int(value) if value is not None else None


def _boolean(props: dict[int, Any], property_id: int) -> bool:
    entry = props.get(property_id)
    return (entry is not None and entry.get_value_type() == 0x000B
            and bool(entry.get_data_as_boolean()))


def _filetime(props: dict[int, Any], property_id: int) -> int | None:
    """A PtypTime as the raw FILETIME the store holds."""
    entry = props.get(property_id)
    if entry is None or entry.get_value_type() != 0x0040:
        return None
    data = entry.get_data()
    return struct.unpack("<Q", data[:8])[0] if data and len(data) >= 8 else None


def _sender_address(props: dict[int, Any]) -> str | None:
    candidates = [_string(props, i) for i in (0x5D01, 0x0C1F, 0x0065, 0x5D02)]
    return next((c for c in candidates if c and "@" in c), None) or next(
        (c for c in candidates if c), None)


def _recipients(item: Any, message: MapiMessage) -> None:
    table = item.recipients
    if table is None:
        return
    for index in range(table.get_number_of_record_sets()):
        props = {int(e.get_entry_type()): e for e in table.get_record_set(index).entries}
        address = _string(props, 0x39FE) or _string(props, 0x3003)
        kind = _RECIPIENT_KINDS.get(_integer(props, 0x0C15) or 1, "to")
        message.recipients.append((_string(props, 0x3001), address, kind))


def _attachments(item: Any, message: MapiMessage, member: str, largest: int) -> None:
    html = message.html or b""
    for index in range(item.get_number_of_attachments()):
        where = f"{member}/attachment {index + 1}"
        try:
            attachment = item.get_attachment(index)
            props = _properties(attachment)
            if _integer(props, 0x3705) == _ATTACH_EMBEDDED_MSG:
                # pypff does not expose attached messages; the original keeps them.
                message.defects.append(f"attached_message_not_extracted:{index + 1}")
                continue
            size = int(attachment.get_size())
            if size > largest:
                message.defects.append(f"attachment_size_implausible:{index + 1}")
                continue
            data = attachment.read_buffer(size) if size else b""
        except Exception:  # noqa: BLE001 - one unreadable attachment must not cost the message
            message.defects.append(f"unreadable_attachment:{index + 1}")
            continue
        content_id = (_string(props, 0x3712) or "").strip().strip("<>") or None
        message.attachments.append(MapiAttachment(
            name=_string(props, 0x3707) or _string(props, 0x3704) or _string(props, 0x3001),
            data=bytes(data), member=where, media_type=_string(props, 0x370E),
            content_id=content_id,
            inline=_boolean(props, 0x7FFE) or bool(
                content_id and f"cid:{content_id}".encode() in html),
        ))


def _rtf_body(item: Any, message: MapiMessage) -> None:
    """Text of an RTF-only body when the RTF encapsulates HTML or plain text."""
    try:
        rtf = item.get_rtf_body()
    except Exception:  # noqa: BLE001 - pypff raises on a damaged compressed RTF stream
        message.defects.append("unreadable_rtf_body")
        return
    if not rtf:
        return
    try:
        end = rtf.rfind(b"}")
        deencapsulator = RTFDE.DeEncapsulator(rtf[:end + 1] if end >= 0 else rtf)
        deencapsulator.deencapsulate()
    except Exception:  # noqa: BLE001 - RTFDE raises its own and lark's types on RTF it cannot use
        message.defects.append("rtf_body_not_converted")
        return
    take_rtf_body(message, deencapsulator.content, deencapsulator.content_type)


def _escape(name: str) -> str:
    # Folder names may hold "/", which would read as a level of the path.
    return name.replace("\\", "\\\\").replace("/", "\\/")


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


PARSER = PstParser()
