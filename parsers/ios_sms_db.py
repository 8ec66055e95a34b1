"""The iOS Messages database (``sms.db``; macOS ``chat.db`` has the same tables).

The database arrives as a stream; SQLite needs a file, so it is copied to a
private temporary directory (removed afterwards) and opened strictly read-only
and immutable: nothing is ever written, not even a journal. Section 5 of the
format field notes describes the tables; ReagentX/imessage-exporter is the
reference for what the columns mean.

Choices worth knowing when reading the records:

* Times are Apple epoch (2001-01-01 UTC): seconds in older databases,
  nanoseconds since iOS 11; the magnitude tells which. ``message.date`` is
  taken as the send time for both directions (as imessage-exporter does);
  ``date_read`` and ``date_delivered`` go to extra.
* ``is_from_me`` gives the direction. The database never names its owner, so
  outgoing records have no sender, and incoming ones name the owner as
  recipient only when ``destination_caller_id`` (newer databases) says which of
  the owner's numbers or addresses received them.
* The conversation is ``chat.guid``; its participants come from
  ``chat_handle_join``. Columns missing from older databases read as NULL.
* Handles become E.164 numbers or e-mail addresses; short codes and sender
  names ("AMAZON") become ``sms:amazon``-style handles.
* Rows without a usable ``date`` are skipped and listed in a note: no time is
  ever invented for them.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.identifiers import email_id, handle_id, phone_e164
from parsers.records import (
    AttachmentRef,
    Direction,
    EventRecord,
    FileNote,
    Kind,
    Locator,
    ParsedItem,
    Precision,
    WallClock,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
#: Header bytes 18 and 19 (file format write and read versions) are 2 in WAL mode.
_WAL_MODE = b"\x02\x02"
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
#: Larger Apple times are nanoseconds (iOS 11+); 1e12 seconds would be year 33,700.
_NANOSECOND_THRESHOLD = 10**12
_NS_PER_SECOND = 10**9

# The schema text sits in sqlite_master, normally within the first pages (the probe head).
_MESSAGE_TABLE = re.compile(rb"CREATE TABLE\s+[\"'`\[]?message[\"'`\]]?\s*\(")
_HANDLE_TABLE = re.compile(rb"CREATE TABLE\s+[\"'`\[]?handle[\"'`\]]?\s*\(")

_TABLES = frozenset({
    "message", "handle", "chat", "chat_message_join", "chat_handle_join", "attachment",
    "message_attachment_join", "chat_recoverable_message_join",
})
# Columns read from each table; one missing from an older schema reads as NULL.
_MESSAGE_COLUMNS = (
    "ROWID", "guid", "text", "attributedBody", "handle_id", "service", "date", "date_read",
    "date_delivered", "is_from_me", "subject", "associated_message_type",
    "associated_message_guid", "date_edited", "date_retracted", "item_type", "group_title",
    "group_action_type", "destination_caller_id", "account", "is_audio_message",
)
_SERVICES = {"imessage": "imessage", "sms": "sms", "rcs": "rcs"}
_UNKNOWN_SERVICE = "ios_messages"
#: associated_message_type of tapbacks: 2000-2005 added, 3000-3005 removed.
_TAPBACKS = ("loved", "liked", "disliked", "laughed", "emphasized", "questioned")
# attributedBody is an NSAttributedString "typedstream": the plain text follows the
# NSString class name, then the bytes 0x01 0x2B ('+', a byte string) and a length.
_NSSTRING = b"NSString"
_STRING_MARK = b"\x01+"
_LISTED = 10
_LIMITS = (
    "The Messages database holds what the phone still kept: messages deleted and purged "
    "are gone (recently deleted ones may remain, flagged), attachments are separate files, "
    "and changes still only in a -wal file are not in this file."
)


@dataclass(slots=True)
class _Person:
    raw: str
    id: str


@dataclass(slots=True)
class _Chat:
    guid: str
    participants: tuple[str, ...]
    extra: dict[str, str]


@dataclass(slots=True)
class _Tally:
    messages: int = 0
    undated: list[str] = field(default_factory=list)
    from_body: int = 0
    body_unread: list[str] = field(default_factory=list)
    bad_utf8: int = 0
    nanoseconds: int = 0
    seconds: int = 0
    recently_deleted: int = 0
    attachments_not_delivered: int = 0


class IosSmsDbParser:
    name = "ios_sms_db"
    version = "1.0.0"
    format = "ios_sms_db"

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        return (head.startswith(SQLITE_MAGIC)
                and _MESSAGE_TABLE.search(head) is not None
                and _HANDLE_TABLE.search(head) is not None
                and b"is_from_me" in head and b"handle_id" in head)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        with tempfile.TemporaryDirectory(prefix="conduct-smsdb-") as folder:
            path = Path(folder) / "sms.db"
            header = _copy(source, path)
            try:
                # immutable=1: SQLite takes no locks and writes no journal or -shm file.
                connection = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
            except (sqlite3.Error, UnicodeDecodeError) as exc:
                raise DamagedInput(f"{source.name}: SQLite cannot open it: {exc}") from exc
            try:
                connection.text_factory = bytes  # decoded per value, so bad UTF-8 is per record
                yield from _Reader(connection, source, options).items()
                if header[18:20] == _WAL_MODE:
                    yield FileNote("wal_mode",
                                   "The database is in write-ahead-log mode (as on a phone): "
                                   "changes not yet written back into this file would be in "
                                   f"{source.name}-wal, which is not read.")
            finally:
                connection.close()


def _copy(source: SourceFile, path: Path) -> bytes:
    """Copy the stream to path; returns the 100-byte SQLite file header."""
    with source.open() as stream, path.open("wb") as out:
        head = stream.read(_HEADER_SIZE)
        if not head.startswith(SQLITE_MAGIC):
            raise DamagedInput(f"{source.name}: not an SQLite database (no SQLite header)")
        out.write(head)
        shutil.copyfileobj(stream, out, 1024 * 1024)
    return head


class _Reader:
    def __init__(self, connection: sqlite3.Connection, source: SourceFile,
                 options: ParseOptions) -> None:
        self.db = connection
        self.source = source
        self.region = options.default_region
        self.siblings: Mapping[str, str] = source.siblings
        self.tally = _Tally()
        self.columns: dict[str, set[str]] = {}
        self.ids: dict[str, str] = {}

    def items(self) -> Iterator[ParsedItem]:
        try:
            # The schema comes from the evidence: let none of it call functions.
            self.db.execute("PRAGMA trusted_schema = OFF")
            self.columns = self._schema()
            handles = self._handles()
            chats = self._chats(handles)
            in_chat, deleted = self._chat_of_message(chats)
            attachments = self._attachments()
            yield FileNote("ios_messages_limits", _LIMITS)
            yield from self._messages(handles, chats, in_chat, deleted, attachments)
        # SQLite's message about a damaged schema quotes its bytes, which may not decode.
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            if self.tally.messages:  # what the messages read so far showed
                yield from self._notes()
            raise DamagedInput(f"{self.source.name}: database unreadable after "
                               f"{self.tally.messages} message(s): {exc}") from exc
        yield from self._notes()
        if self.siblings.get(self.source.name + "-wal") is not None:
            yield FileNote("wal_not_read",
                           f"{self.source.name}-wal was delivered too; messages only in "
                           "the write-ahead log are not read from it.")

    # -- tables read up front (small next to the messages) ---------------------------

    def _schema(self) -> dict[str, set[str]]:
        # Only real tables: a view of the same name could run any query.
        tables = [_text(row[0]) for row in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {}
        for table in tables:
            if table in _TABLES:
                info = self.db.execute(f'PRAGMA table_info("{table}")').fetchall()
                columns[table] = {_text(row[1]) for row in info}
        if "message" not in columns or "handle" not in columns:
            raise DamagedInput(f"{self.source.name}: no message or handle table; "
                               "not an iOS Messages database")
        return columns

    def _select(self, table: str, wanted: tuple[str, ...], tail: str = "") -> sqlite3.Cursor:
        have = self.columns.get(table, set())
        parts = [f'"{c}"' if c in have or c == "ROWID" else "NULL" for c in wanted]
        return self.db.execute(f'SELECT {", ".join(parts)} FROM "{table}" {tail}')  # noqa: S608 - column names from fixed tuples

    def _has(self, table: str, *columns: str) -> bool:
        return table in self.columns and all(c in self.columns[table] for c in columns)

    def _handles(self) -> dict[int, _Person]:
        handles = {}
        for rowid, raw, service in self._select("handle", ("ROWID", "id", "service")):
            text = _text(raw)
            if text:
                handles[rowid] = _Person(text, self._identity(text, _channel(_text(service))))
        return handles

    def _chats(self, handles: dict[int, _Person]) -> dict[int, _Chat]:
        if not self._has("chat"):
            return {}
        members: dict[int, list[str]] = {}
        if self._has("chat_handle_join", "chat_id", "handle_id"):
            for chat_id, handle in self.db.execute(
                    "SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id"):
                person = handles.get(handle)
                if person is not None:
                    members.setdefault(chat_id, []).append(person.id)
        chats = {}
        for rowid, guid, identifier, name, style in self._select(
                "chat", ("ROWID", "guid", "chat_identifier", "display_name", "style")):
            extra = {"chat_guid": _text(guid)}
            if identifier is not None:
                extra["chat_identifier"] = _text(identifier)
            if name:
                extra["chat_name"] = _text(name)
            if style is not None:
                # 43 is a group, 45 a one-to-one chat (imessage-exporter).
                extra["chat_style"] = str(style)
            chats[rowid] = _Chat(_text(guid) or f"chat:{rowid}",
                                 tuple(dict.fromkeys(members.get(rowid, ()))), extra)
        return chats

    def _chat_of_message(self, chats: dict[int, _Chat]
                         ) -> tuple[dict[int, int], dict[int, tuple[int, Any]]]:
        in_chat: dict[int, int] = {}
        if self._has("chat_message_join", "chat_id", "message_id"):
            for chat_id, message_id in self.db.execute(
                    "SELECT chat_id, message_id FROM chat_message_join "
                    "ORDER BY message_id, chat_id"):
                in_chat.setdefault(message_id, chat_id)
        # iOS 16+ moves "Recently Deleted" messages out of chat_message_join into this table.
        deleted: dict[int, tuple[int, Any]] = {}
        if self._has("chat_recoverable_message_join", "chat_id", "message_id"):
            when = "delete_date" if self._has("chat_recoverable_message_join",
                                              "delete_date") else "NULL"
            for chat_id, message_id, date in self.db.execute(
                    f"SELECT chat_id, message_id, {when} "  # noqa: S608 - a fixed column name
                    "FROM chat_recoverable_message_join ORDER BY message_id"):
                deleted.setdefault(message_id, (chat_id, date))
        return in_chat, deleted

    def _attachments(self) -> dict[int, list[tuple[Any, ...]]]:
        if not (self._has("attachment") and
                self._has("message_attachment_join", "message_id", "attachment_id")):
            return {}
        have = self.columns["attachment"]
        wanted = ("filename", "transfer_name", "mime_type", "total_bytes")
        parts = ", ".join(f'a."{c}"' if c in have else "NULL" for c in wanted)
        found: dict[int, list[tuple[Any, ...]]] = {}
        for message_id, *row in self.db.execute(
                f"SELECT j.message_id, {parts} FROM message_attachment_join j "  # noqa: S608
                "JOIN attachment a ON a.ROWID = j.attachment_id "
                "ORDER BY j.message_id, a.ROWID"):
            found.setdefault(message_id, []).append(tuple(row))
        return found

    # -- messages ----------------------------------------------------------------------

    def _messages(self, handles: dict[int, _Person], chats: dict[int, _Chat],
                  in_chat: dict[int, int], deleted: dict[int, tuple[int, Any]],
                  attachments: dict[int, list[tuple[Any, ...]]]) -> Iterator[EventRecord]:
        for row in self._select("message", _MESSAGE_COLUMNS, "ORDER BY ROWID"):
            self.tally.messages += 1
            record = self._record(row, handles, chats, in_chat, deleted, attachments)
            if record is not None:
                yield record

    def _record(self, row: tuple[Any, ...], handles: dict[int, _Person],
                chats: dict[int, _Chat], in_chat: dict[int, int],
                deleted: dict[int, tuple[int, Any]],
                attachments: dict[int, list[tuple[Any, ...]]]) -> EventRecord | None:
        (rowid, guid, text, body, handle_rowid, service, date, date_read, date_delivered,
         from_me, subject, tapback, tapback_guid, date_edited, date_retracted, item_type,
         group_title, group_action, destination, account, audio) = row
        defects: list[str] = []
        flags: list[str] = []
        guid_text = self._decoded(guid, defects) or ""
        where = guid_text or f"ROWID {rowid}"
        found = _clock(date)
        if found is None:
            self.tally.undated.append(where)
            return None
        clock, nanoseconds = found
        if nanoseconds:
            self.tally.nanoseconds += 1
        else:
            self.tally.seconds += 1
        extra: dict[str, str] = {"rowid": str(rowid)}
        channel = _channel(self._decoded(service, defects))
        if service is not None:
            extra["service"] = self._decoded(service, defects) or ""
        message_text = self._body(text, body, where, flags, defects)
        chat_id = in_chat.get(rowid)
        if rowid in deleted:
            chat_id, delete_date = deleted[rowid]
            flags.append("recently_deleted")
            self.tally.recently_deleted += 1
            _put_time(extra, "delete_date", delete_date)
        chat = chats.get(chat_id) if chat_id is not None else None
        person = handles.get(handle_rowid) if handle_rowid else None
        if handle_rowid and person is None:
            defects.append("unknown_handle")
        if chat is not None:
            conversation: str | None = chat.guid
            participants = chat.participants or ((person.id,) if person else ())
            extra.update(chat.extra)
        else:
            conversation = person.id if person else None
            participants = (person.id,) if person else ()
        direction: Direction
        if from_me:
            direction, sender, sender_id = "outgoing", None, None
            recipients = participants if chat is not None else (
                (person.id,) if person else ())
        else:
            direction = "incoming"
            sender = person.raw if person else None
            sender_id = person.id if person else None
            owner = self._owner(destination, channel, defects)
            recipients = (owner,) if owner else ()
        if person is not None:
            extra["handle"] = person.raw
        for key, value in (("destination_caller_id", destination), ("account", account),
                           ("group_title", group_title)):
            if value is not None:
                extra[key] = self._decoded(value, defects) or ""
        _put_time(extra, "date_read", date_read)
        _put_time(extra, "date_delivered", date_delivered)
        if _put_time(extra, "date_edited", date_edited):
            flags.append("edited")
        if _put_time(extra, "date_retracted", date_retracted):
            flags.append("unsent")
        self._tapback(tapback, tapback_guid, flags, extra, defects)
        if audio:
            flags.append("audio_message")
        kind: Kind = "message"
        if item_type:
            # Not a message: a group member, name or photo change, and the like.
            kind = "system"
            extra["item_type"] = str(item_type)
            if group_action is not None:
                extra["group_action_type"] = str(group_action)
        refs = tuple(self._attachment(a, defects) for a in attachments.get(rowid, ()))
        return EventRecord(
            kind, clock, "sent", channel,
            Locator(message_id=where),
            sender, sender_id, recipients, direction, message_text,
            self._decoded(subject, defects), refs, tuple(flags), tuple(defects), extra,
            conversation, participants,
        )

    def _body(self, text: Any, body: Any, where: str, flags: list[str],
              defects: list[str]) -> str | None:
        if text is not None:
            if type(text) is not bytes:
                defects.append("text_not_text")
                return str(text)
            return self._decoded(text, defects)
        if body is None:
            return None
        found = attributed_body_text(body) if type(body) is bytes else None
        if found is None:
            flags.append("text_in_attributed_body_unread")
            self.tally.body_unread.append(where)
            return None
        flags.append("text_from_attributed_body")
        self.tally.from_body += 1
        return found

    def _tapback(self, kind: Any, target: Any, flags: list[str], extra: dict[str, str],
                 defects: list[str]) -> None:
        if type(kind) is not int or not kind:
            return
        extra["associated_message_type"] = str(kind)
        if target is not None:
            extra["associated_message_guid"] = self._decoded(target, defects) or ""
        if 2000 <= kind <= 2005:
            flags.append("reaction")
            extra["reaction"] = _TAPBACKS[kind - 2000]
        elif 3000 <= kind <= 3005:
            flags.append("reaction_removed")
            extra["reaction"] = _TAPBACKS[kind - 3000]

    def _attachment(self, row: tuple[Any, ...], defects: list[str]) -> AttachmentRef:
        filename, transfer_name, mime, _size = row
        name = self._decoded(filename, defects) or self._decoded(transfer_name, defects) or ""
        sha = self._sibling(name) if name else None
        if sha is None:
            self.tally.attachments_not_delivered += 1
        return AttachmentRef(name, sha, self._decoded(mime, defects))

    def _sibling(self, name: str) -> str | None:
        """The delivered file for an attachment path like ~/Library/SMS/Attachments/ab/11/X/a.jpg.

        Tried from the most to the least specific: the path below the home folder,
        the path from Attachments/ on (how extraction tools often lay them out), and
        the bare name.
        """
        tries = [name[2:] if name.startswith("~/") else name]
        marker = name.find("Attachments/")
        if marker != -1:
            tries.append(name[marker:])
        tries.append(posixpath.basename(name))
        for candidate in tries:
            found = self.siblings.get(candidate)
            if found is not None:
                return found
        return None

    def _owner(self, destination: Any, channel: str, defects: list[str]) -> str | None:
        text = self._decoded(destination, defects)
        return self._identity(text, channel) if text else None

    def _identity(self, raw: str, channel: str) -> str:
        """A handle as an identifier: E.164, e-mail, or (short codes, sender names) a handle."""
        key = f"{channel}\x00{raw}"
        known = self.ids.get(key)
        if known is None:
            known = (email_id(raw) if "@" in raw else phone_e164(raw, self.region)) or (
                handle_id(channel, raw))
            self.ids[key] = known
        return known

    def _decoded(self, value: Any, defects: list[str]) -> str | None:
        if value is None:
            return None
        if type(value) is not bytes:
            return str(value)
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            # Kept, not replaced: the store shows each undecodable byte and says so.
            self.tally.bad_utf8 += 1
            if "invalid_utf8" not in defects:
                defects.append("invalid_utf8")
            return value.decode("utf-8", "surrogateescape")

    # -- notes ---------------------------------------------------------------------------

    def _notes(self) -> Iterator[FileNote]:
        tally = self.tally
        units = []
        if tally.nanoseconds:
            units.append(f"{tally.nanoseconds} in nanoseconds")
        if tally.seconds:
            units.append(f"{tally.seconds} in seconds")
        if units:
            yield FileNote("apple_time_units",
                           "Message times are Apple epoch (2001-01-01 UTC): "
                           + ", ".join(units) + ".")
        missing = [c for c in ("attributedBody", "date_edited", "date_retracted",
                               "destination_caller_id")
                   if c not in self.columns.get("message", set())]
        if missing:
            yield FileNote("older_schema",
                           "The message table has no " + ", ".join(missing) + " column "
                           "(an older iOS): what they would tell (rich-text bodies, edits, "
                           "unsends, the receiving number) is not in this file.")
        if tally.undated:
            yield FileNote("undated_messages",
                           f"{len(tally.undated)} message row(s) have no usable date and "
                           f"were skipped: {_listed(tally.undated)}.")
        if tally.from_body:
            yield FileNote("text_from_attributed_body",
                           f"{tally.from_body} message(s) have no 'text'; their text was "
                           "read from the NSString inside 'attributedBody' and is flagged.")
        if tally.body_unread:
            yield FileNote("text_in_attributed_body_unread",
                           f"{len(tally.body_unread)} message(s) keep their text only in "
                           "an 'attributedBody' this parser could not read: "
                           f"{_listed(tally.body_unread)}.")
        if tally.recently_deleted:
            yield FileNote("recently_deleted",
                           f"{tally.recently_deleted} message(s) are in Recently Deleted "
                           "(chat_recoverable_message_join) and are flagged.")
        if tally.bad_utf8:
            yield FileNote("invalid_utf8",
                           f"{tally.bad_utf8} text value(s) are not valid UTF-8; the "
                           "invalid bytes are kept and the records flagged invalid_utf8.")
        if tally.attachments_not_delivered:
            yield FileNote("attachments_not_delivered",
                           f"{tally.attachments_not_delivered} attachment(s) named by the "
                           "database were not among the files delivered with it.")


def attributed_body_text(blob: bytes) -> str | None:
    """The plain text of an attributedBody typedstream, or None when it is not simply there.

    The length after the '+' is one byte, or 0x81 and a 16-bit, or 0x82 and a
    32-bit little-endian integer. Anything unexpected gives None (flagged by
    the caller), never a guess.
    """
    start = blob.find(_NSSTRING)
    if start == -1:
        return None
    mark = blob.find(_STRING_MARK, start + len(_NSSTRING))
    if mark == -1 or mark - start > 16:
        return None
    at = mark + len(_STRING_MARK)
    if at >= len(blob):
        return None
    length = blob[at]
    at += 1
    if length == 0x81:
        length, at = int.from_bytes(blob[at:at + 2], "little"), at + 2
    elif length == 0x82:
        length, at = int.from_bytes(blob[at:at + 4], "little"), at + 4
    elif length >= 0x80:
        return None
    if at + length > len(blob):
        return None
    try:
        return blob[at:at + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _apple_instant(value: Any) -> tuple[datetime, bool] | None:
    """(UTC instant, in nanoseconds) of an Apple epoch time; None when absent or unusable."""
    if (type(value) is not int and type(value) is not float) or not value:
        return None
    try:
        if abs(value) > _NANOSECOND_THRESHOLD:
            return APPLE_EPOCH + timedelta(microseconds=value // 1000), True
        return APPLE_EPOCH + timedelta(seconds=value), False
    except (OverflowError, ValueError):  # out of datetime's range, or NaN
        return None


def _clock(value: Any) -> tuple[WallClock, bool] | None:
    """The message time, and whether it was written in nanoseconds."""
    found = _apple_instant(value)
    if found is None:
        return None
    instant, nanoseconds = found
    fraction = value % _NS_PER_SECOND if nanoseconds else value % 1
    precision: Precision = "subsecond" if fraction else "second"
    return WallClock(str(value), instant=instant, precision=precision), nanoseconds


def _put_time(extra: dict[str, str], key: str, value: Any) -> bool:
    """Add an Apple time to extra as ISO UTC; False when it is absent (0 or NULL)."""
    found = _apple_instant(value)
    if found is None:
        if value not in (None, 0):
            extra[key] = str(value)  # kept raw when it is not a usable time
        return False
    extra[key] = found[0].isoformat()
    return True


def _channel(service: str | None) -> str:
    if not service:
        return _UNKNOWN_SERVICE
    return _SERVICES.get(service.lower(), service.lower())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is bytes:
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (", ..." if len(items) > _LISTED else "")


PARSER = IosSmsDbParser()
