"""Telegram Desktop JSON exports (``result.json``): one chat, or the whole account.

A per-chat export ("Export chat history") is ``{name, type, id, messages}``; a
full export ("Export Telegram data") starts with ``about`` and holds the chats
under ``chats.list`` (and ``left_chats.list``), each ``{name, type, id,
messages}``. Either may be hundreds of megabytes, so the file is streamed with
ijson and never loaded whole. Section 3 of the format field notes describes the
fields; the writer is Telegram Desktop's export_output_json.cpp.

Choices worth knowing when reading the records:

* ``date_unixtime`` is the true time; ``date`` is the exporting computer's wall
  clock and is kept in ``extra["date_local"]``. Old exports without
  ``date_unixtime`` fall back to ``date`` as a local time, flagged.
* ``direction`` is known only in a full export, whose ``personal_information``
  names the account owner; a per-chat export does not say who exported it.
* ``participants`` cannot be known before the messages have streamed past, so
  they come from the chat itself: the peer of a personal or bot chat (the chat
  id is that user's id) and, in a full export, the owner. Group and channel
  records carry none; their senders' ids still scope them.
* A per-chat export is read by ijson's C items() directly (fast); a full
  export goes through parse events so chat boundaries can be seen, which is
  about half as fast.
* Messages Telegram wrote without a date (type "unsupported") are skipped and
  listed in a note, never given an invented time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

import ijson

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.identifiers import handle_id
from parsers.records import (
    AttachmentRef,
    Direction,
    EventRecord,
    FileNote,
    Kind,
    Locator,
    ParsedItem,
    Precision,
    TimeBasis,
    WallClock,
)

CHANNEL = "telegram"

_BOM = b"\xef\xbb\xbf"
_JSON_STRING = rb'"(?:[^"\\]|\\.)*"'
# Telegram Desktop writes a per-chat export's keys in this order; "name" is left
# out for Saved Messages and Replies, and an unknown chat type is null.
_SINGLE_CHAT_HEAD = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*\{\s*(?:\"name\"\s*:\s*(?:null|" + _JSON_STRING + rb")\s*,\s*)?"
    rb"\"type\"\s*:\s*(?:null|\"[a-z_]+\")\s*,\s*\"id\"\s*:\s*-?\d+\s*,\s*\"messages\"\s*:\s*\["
)
# A full export opens with "about" (a sentence in the app's language) followed by
# one of the sections only Telegram's writer produces.
_FULL_EXPORT_HEAD = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*\{\s*\"about\"\s*:\s*" + _JSON_STRING + rb"\s*,\s*"
    rb"\"(?:personal_information|profile_pictures|stories|contacts|frequent_contacts|"
    rb"sessions|web_sessions|chats|left_chats|other_data)\"\s*:"
)

#: Prefix the message items are rewritten to, so one ijson.items call serves every chat.
_MESSAGE = "message"
_SECTIONS = ("chats", "left_chats")
#: ijson events that begin a list item (a message object, or a value where one should be).
_ITEM_STARTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})
#: Top-level keys that only a full export has (a per-chat export has name, type, id, messages).
_FULL_EXPORT_KEYS = frozenset({"about", "personal_information", *_SECTIONS})
_PERSONAL_TYPES = frozenset({"personal_chat", "bot_chat"})
_CALL_ACTIONS = frozenset({"phone_call", "group_call"})
_CALL_FLAGS = {"missed": ("missed",), "busy": ("declined",)}
_MEDIA_KEYS = ("photo", "file", "thumbnail", "contact_vcard")
# Keys read into record fields; every other key of a message goes to extra as text.
_READ_KEYS = frozenset({
    "id", "type", "date", "date_unixtime", "from", "from_id", "actor", "actor_id",
    "text", "text_entities", *_MEDIA_KEYS,
})
_NOT_EDITED_YEARS = ("1970-01-01", "1969-12-31")
_PATHS_LISTED = 10
EXPORT_LIMITS = (
    "Telegram exports hold only what the exporting account could still see in its cloud "
    "chats: secret chats exist only on the phones and are never exported, messages deleted "
    "before the export are absent, and media is included only as far as the export "
    "settings allowed."
)


class _JsonMender:
    """A read-only stream over the original that mends two writer faults before parsing.

    Telegram Desktop writes control characters other than tab, CR and LF as
    ``\\xHH``, which is not JSON: one such character would make the whole export
    unreadable. They are rewritten to ``\\u00HH`` (the character the writer
    meant) and counted. A leading UTF-8 byte order mark (left by an editor) is
    skipped. Nothing else is touched.

    It also refuses absurdly deep nesting: ijson builds a prefix string per
    level, so memory grows with the square of the depth, and a run of tens of
    thousands of "[" (damaged or hostile input) would exhaust it. Real exports
    nest less than ten levels. Quote parity is tracked so brackets inside
    message text are not counted. Only runs of openers (each maybe after a key)
    are caught, which is what damage produces; values between the openers
    ("[1,[1,[1,") would slip through.
    """

    _ESCAPE = re.compile(rb"(\\+)x([0-9A-Fa-f]{2})")
    _CHUNK = 64 * 1024
    # 2,000 levels cost ijson about 10 MB of prefixes; 20,000 would cost a gigabyte.
    _MAX_RUN = 2000
    # Openers in a row, each optionally followed by a key: "[[[", "[{"a": [{"a": ...".
    _DEEP = re.compile(rb'(?:[\[{]\s*(?:"(?:[^"\\]|\\.)*"\s*:\s*)?){%d}' % _MAX_RUN)
    _ESCAPED_QUOTE = re.compile(rb'(\\+)"')

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.carry = b""
        self.started = False
        self.bom = False
        self.escapes = 0
        self.in_string = False  # whether the bytes handed out so far end inside a string

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        size = size if size > 0 else self._CHUNK
        while True:
            chunk = self.raw.read(size)
            if not self.started:
                chunk = self._skip_bom(chunk)
            data = self.carry + chunk
            if not chunk:
                self.carry = b""
                return self._mend(data)
            cut = self._safe_end(data)
            self.carry = data[cut:]
            if cut:  # an empty read would tell ijson the file has ended
                return self._mend(data[:cut])

    def _skip_bom(self, chunk: bytes) -> bytes:
        # A read shorter than the BOM is rare enough to be read whole first.
        while len(chunk) < len(_BOM) and (more := self.raw.read(len(_BOM))):
            chunk += more
        self.started = True
        if chunk.startswith(_BOM):
            self.bom = True
            return chunk[len(_BOM):]
        return chunk

    @staticmethod
    def _safe_end(data: bytes) -> int:
        """Where data may be cut without splitting an escape or the backslashes before it."""
        last = data.rfind(b"\\", max(0, len(data) - 3))
        if last == -1:
            return len(data)
        while last > 0 and data[last - 1] == 0x5C:
            last -= 1
        return last

    def _mend(self, data: bytes) -> bytes:
        self._refuse_deep_nesting(data)
        if self._quotes(data) % 2:
            self.in_string = not self.in_string
        if b"\\x" not in data:
            return data
        return self._ESCAPE.sub(self._mend_one, data)

    def _refuse_deep_nesting(self, data: bytes) -> None:
        # Counting is fast; the pattern is slow, so it runs only where a run is possible.
        if data.count(b"[") + data.count(b"{") < self._MAX_RUN:
            return
        for run in self._DEEP.finditer(data):
            if self.in_string == (self._quotes(data[:run.start()]) % 2 == 0):
                continue  # inside a string: message text, not structure
            raise DamagedInput(f"JSON nested more than {self._MAX_RUN} levels deep; "
                               "no Telegram export is")

    def _quotes(self, data: bytes) -> int:
        """Unescaped double quotes in data (no backslash run is split between reads)."""
        count = data.count(b'"')
        if b'\\"' in data:
            count -= sum(len(m.group(1)) % 2 for m in self._ESCAPED_QUOTE.finditer(data))
        return count

    def _mend_one(self, match: re.Match[bytes]) -> bytes:
        slashes = match.group(1)
        if len(slashes) % 2 == 0:  # an escaped backslash followed by a plain "x"
            return match.group(0)
        self.escapes += 1
        return slashes[:-1] + b"\\u00" + match.group(2)

    def close(self) -> None:
        self.raw.close()


@dataclass(slots=True)
class _Chat:
    """The chat the messages being read belong to."""

    path: str  # json_path prefix: "" for a per-chat export, "chats.list[3]." in a full one
    fallback_key: str
    id: Any = None
    type: Any = None
    name: Any = None
    # Derived once, when the first message arrives (the header keys precede the messages).
    ready: bool = False
    conversation: str = ""
    participants: tuple[str, ...] = ()
    peer: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def prepare(self, owner: str | None) -> None:
        self.ready = True
        has_id = isinstance(self.id, int) and not isinstance(self.id, bool)
        self.conversation = str(self.id) if has_id else self.fallback_key
        if has_id and self.type in _PERSONAL_TYPES:
            # A personal or bot chat's id is the other user's id (export_output_json.cpp).
            self.peer = handle_id(CHANNEL, f"user{self.id}")
            self.participants = (self.peer,) if owner is None else (self.peer, owner)
        elif has_id and self.type == "saved_messages":
            # Saved Messages is the account's chat with itself: its id is the owner's.
            self.participants = (handle_id(CHANNEL, f"user{self.id}"),)
        if isinstance(self.name, str):
            self.extra["chat_name"] = self.name
        if isinstance(self.type, str):
            self.extra["chat_type"] = self.type


@dataclass(slots=True)
class _Tally:
    """What the whole file showed, for the closing notes."""

    messages: int = 0
    chats: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    media_not_exported: int = 0
    media_not_delivered: int = 0
    local_only: int = 0
    old_from_ids: int = 0
    offsets: Counter[timedelta] = field(default_factory=Counter)
    not_edited_placeholder: str | None = None

    def skip(self, code: str, path: str) -> None:
        self.skipped.setdefault(code, []).append(path)


class TelegramParser:
    name = "telegram"
    version = "1.0.0"
    format = "telegram"

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        return bool(_SINGLE_CHAT_HEAD.match(head) or _FULL_EXPORT_HEAD.match(head))

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        header = _read_header(source)
        yield FileNote("telegram_export_limits", EXPORT_LIMITS)
        reader = _Reader(source)
        if header.full:
            yield FileNote("telegram_full_export",
                           "A full Telegram account export (chats.list and left_chats.list).")
        else:
            chat = _Chat("", "messages", header.id, header.type, header.name)
            title = repr(header.name) if isinstance(header.name, str) else "an unnamed chat"
            yield FileNote("telegram_single_chat",
                           f"A single-chat export of {title} (type {header.type}, "
                           f"id {header.id}); it does not say which account exported it, so "
                           "no direction is given.")
        stream = _JsonMender(source.open())
        try:
            if header.full:
                yield from reader.full_export(stream)
            else:
                yield from reader.single_chat(stream, chat)
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            yield from reader.notes(stream)
            raise DamagedInput(f"{source.name}: JSON unreadable after {reader.tally.messages} "
                               f"message(s) ({reader.where}): {_first_line(exc)}") from exc
        finally:
            stream.close()
        yield from reader.notes(stream)


def _first_line(exc: BaseException) -> str:
    # yajl's messages are bytes and go on with a picture of the bad spot on later lines.
    text: Any = exc.args[0] if isinstance(exc, ijson.JSONError) and exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@dataclass(slots=True)
class _Header:
    full: bool = False
    id: Any = None
    type: Any = None
    name: Any = None


def _read_header(source: SourceFile) -> _Header:
    """The top-level keys before the first message: which kind of export, and its chat."""
    header = _Header()
    scalars = ("string", "number", "null", "boolean")
    stream = _JsonMender(source.open())
    try:
        for prefix, event, value in ijson.parse(stream):
            if prefix == "" and event not in ("start_map", "map_key"):
                raise DamagedInput(f"{source.name}: not a JSON object of a Telegram export")
            if prefix == "" and event == "map_key" and value in _FULL_EXPORT_KEYS:
                header.full = True
                return header
            if prefix in ("id", "type", "name") and event in scalars:
                setattr(header, prefix, value)
            elif prefix == "messages":
                if event != "start_array":
                    raise DamagedInput(f"{source.name}: 'messages' is not a list")
                return header
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise DamagedInput(f"{source.name}: JSON unreadable before the first message: "
                           f"{_first_line(exc)}") from exc
    finally:
        stream.close()
    raise DamagedInput(f"{source.name}: no 'messages' list or 'chats' section found")


class _Reader:
    """Turns message objects into records; shared by both export shapes."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.siblings = source.siblings
        self.owner: str | None = None
        self.tally = _Tally()
        self.where = "before the first message"
        self.chat = _Chat("", "messages")
        self.index = -1
        self.full = False

    # -- the two shapes ------------------------------------------------------------

    def single_chat(self, stream: _JsonMender, chat: _Chat) -> Iterator[ParsedItem]:
        self.chat = chat
        chat.prepare(None)
        self.tally.chats["messages"] += 1
        record = self.record
        # The C backend builds each message object itself: the fast path for big chats.
        for index, message in enumerate(ijson.items(stream, "messages.item")):
            item = record(message, chat, index)
            if item is not None:
                yield item

    def full_export(self, stream: _JsonMender) -> Iterator[ParsedItem]:
        self.full = True
        record = self.record
        for message in ijson.items(self._watched(ijson.parse(stream)), _MESSAGE):
            chat = self.chat
            if not chat.ready:
                chat.prepare(self.owner)
            item = record(message, chat, self.index)
            if item is not None:
                yield item

    def _watched(self, events: Iterable[tuple[str, str, Any]]) -> Iterator[tuple[str, str, Any]]:
        """Pass ijson events through, noting the owner and each chat's header on the way.

        Message items are renamed to one prefix so a single C items() builds them;
        items() consumes events lazily, so self.chat is the chat of the message it
        returns.
        """
        watch: dict[str, tuple[int, str]] = {"personal_information.user_id": (0, "")}
        for section in _SECTIONS:
            base = f"{section}.list.item"
            watch[base] = (1, section)
            for key in ("id", "type", "name"):
                watch[f"{base}.{key}"] = (2, key)
            watch[f"{base}.messages.item"] = (3, section)
        get = watch.get
        for event in events:
            seen = get(event[0])
            if seen is None:
                yield event
                continue
            what, detail = seen
            kind = event[1]
            if what == 3 and kind in _ITEM_STARTS:  # not its map_key or end events
                self.index += 1
                yield _MESSAGE, kind, event[2]
                continue
            if what == 0 and kind in ("number", "string"):
                self.owner = handle_id(CHANNEL, f"user{event[2]}")
            elif what == 1 and kind == "start_map":
                self._new_chat(detail)
            elif what == 2 and kind in ("string", "number", "null"):
                setattr(self.chat, detail, event[2])
            yield event

    def _new_chat(self, section: str) -> None:
        number = self.tally.chats[section]
        self.tally.chats[section] += 1
        path = f"{section}.list[{number}]"
        self.chat = _Chat(path + ".", path)
        self.index = -1

    # -- one message ---------------------------------------------------------------

    def record(self, message: Any, chat: _Chat, index: int) -> EventRecord | None:
        path = f"{chat.path}messages[{index}]"
        self.where = f"last read: {path}"
        self.tally.messages += 1
        if type(message) is not dict:
            self.tally.skip("not_an_object", path)
            return None
        if message.get("type") == "unsupported":
            self.tally.skip("unsupported", path)
            return None
        defects: list[str] = []
        clock = self._clock(message, defects)
        if clock is None:
            self.tally.skip("no_readable_date", path)
            return None
        raw_id = message.get("id")
        locator = Locator(json_path=path, message_id=None if raw_id is None else _as_text(raw_id))
        extra: dict[str, str] = {}
        if "date" in message:
            extra["date_local"] = _as_text(message["date"])
        if chat.extra:
            extra.update(chat.extra)
        for key, value in message.items():
            if key not in _READ_KEYS:
                extra[key] = _as_text(value)
        flags: list[str] = []
        service = message.get("type") == "service"
        # Service messages name who acted as "actor"; a few (proximity_reached) use "from".
        acted = service and ("actor" in message or "actor_id" in message)
        sender, sender_id = self._who(message, "actor" if acted else "from", defects)
        kind, basis = self._kind(message, service, flags)
        text = self._text(message, extra, defects)
        attachments = self._media(message, flags, defects, extra) if _has_media(message) else ()
        self._edit_and_forward(message, flags)
        direction: Direction = "unknown"
        recipients: tuple[str, ...] = ()
        owner = self.owner
        if owner is not None and sender_id is not None:
            direction = "outgoing" if sender_id == owner else "incoming"
            if chat.peer is not None:
                recipients = (chat.peer,) if direction == "outgoing" else (owner,)
        return EventRecord(
            kind, clock, basis, CHANNEL, locator, sender, sender_id, recipients, direction,
            text, None, attachments, tuple(flags), tuple(defects), extra,
            chat.conversation, chat.participants,
        )

    def _clock(self, message: dict[str, Any], defects: list[str]) -> WallClock | None:
        raw = message.get("date_unixtime")
        local_text = message.get("date")
        if raw is not None:
            instant = _from_epoch(raw)
            if instant is not None:
                if type(local_text) is str:
                    self._note_offset(local_text, instant)
                return WallClock(str(raw), None, instant, "second")
            defects.append("bad_date_unixtime")
        if type(local_text) is not str:
            if local_text is not None:
                defects.append("bad_date")
            return None
        try:
            stamp = datetime.fromisoformat(local_text)
        except ValueError:
            defects.append("bad_date")
            return None
        self.tally.local_only += 1
        if stamp.tzinfo is not None:  # not written by Telegram, but then the offset is known
            return WallClock(local_text, instant=stamp, flags=("date_has_offset",))
        precision: Precision = "second" if len(local_text) > 16 else "minute"
        # Telegram's "date" is the exporting computer's wall clock; its zone is unknown.
        return WallClock(local_text, local=stamp, precision=precision,
                         flags=("exporter_local_time",))

    def _note_offset(self, local_text: str, instant: datetime) -> None:
        try:
            local = datetime.fromisoformat(local_text)
        except ValueError:
            return
        if local.tzinfo is None:
            self.tally.offsets[local - instant.replace(tzinfo=None)] += 1

    def _who(self, message: dict[str, Any], role: str,
             defects: list[str]) -> tuple[str | None, str | None]:
        name = message.get(role)
        raw = message.get(f"{role}_id")
        sender = name if type(name) is str else None
        if raw is None:
            return sender, None
        if type(raw) is str and raw:
            return sender, handle_id(CHANNEL, raw)
        if type(raw) is int:
            # Old exports wrote a bare user id; newer ones prefix it with its kind.
            self.tally.old_from_ids += 1
            return sender, handle_id(CHANNEL, f"user{raw}")
        defects.append(f"bad_{role}_id")
        return sender, None

    @staticmethod
    def _kind(message: dict[str, Any], service: bool,
              flags: list[str]) -> tuple[Kind, TimeBasis]:
        if not service:
            return "message", "sent"
        action = message.get("action")
        if action in _CALL_ACTIONS:
            if action == "group_call":
                flags.append("group_call")
            reason = message.get("discard_reason")
            if type(reason) is str:
                flags.extend(_CALL_FLAGS.get(reason, ()))
            return "call", "call_started"
        return "system", "sent"

    def _text(self, message: dict[str, Any], extra: dict[str, str],
              defects: list[str]) -> str | None:
        text = message.get("text")
        if type(text) is str:
            return text or None
        if text is None:
            text = message.get("text_entities")
            if text is None:
                return None
        if type(text) is not list:
            defects.append("bad_text")
            extra["text_raw"] = _as_text(text)
            return None
        parts: list[str] = []
        links: list[str] = []
        mentions: list[str] = []
        for part in text:
            if type(part) is str:
                parts.append(part)
            elif type(part) is dict and type(part.get("text")) is str:
                parts.append(part["text"])
                if type(part.get("href")) is str:
                    links.append(part["href"])
                if part.get("type") == "mention_name" and part.get("user_id") is not None:
                    mentions.append(handle_id(CHANNEL, f"user{part['user_id']}"))
            else:
                if "bad_text_part" not in defects:
                    defects.append("bad_text_part")
        if links:
            extra["links"] = "\n".join(links)
        if mentions:
            extra["mentioned_ids"] = " ".join(mentions)
        # Plain concatenation: the parts are consecutive pieces of one text.
        return "".join(parts) or None

    def _media(self, message: dict[str, Any], flags: list[str], defects: list[str],
               extra: dict[str, str]) -> tuple[AttachmentRef, ...]:
        found: list[AttachmentRef] = []
        mime = message.get("mime_type")
        for key in _MEDIA_KEYS:
            value = message.get(key)
            if type(value) is not str or not value:
                if value is not None:
                    if "bad_media_path" not in defects:
                        defects.append("bad_media_path")
                    extra[f"{key}_raw"] = _as_text(value)
                continue
            media_type = mime if key == "file" and type(mime) is str else None
            if _not_exported(value):
                self.tally.media_not_exported += 1
                if "media_not_exported" not in flags:
                    flags.append("media_not_exported")
                found.append(AttachmentRef(value, None, media_type))
                continue
            sha = self.siblings.get(value)
            if sha is None:
                self.tally.media_not_delivered += 1
            found.append(AttachmentRef(value, sha, media_type))
        return tuple(found)

    def _edit_and_forward(self, message: dict[str, Any], flags: list[str]) -> None:
        edited = message.get("edited")
        unix = message.get("edited_unixtime")
        if edited is not None or unix is not None:
            placeholder = (unix in ("0", 0) or
                           (type(edited) is str and edited.startswith(_NOT_EDITED_YEARS)))
            if placeholder:
                if self.tally.not_edited_placeholder is None and type(edited) is str:
                    self.tally.not_edited_placeholder = edited
            else:
                flags.append("edited")
        if "forwarded_from" in message:  # null when the original sender is hidden
            flags.append("forwarded")

    # -- the closing notes ---------------------------------------------------------

    def notes(self, stream: _JsonMender) -> Iterator[FileNote]:
        tally = self.tally
        if stream.bom:
            yield FileNote("bom", "The file starts with a UTF-8 byte order mark (not written "
                           "by Telegram; the file was re-saved); it was skipped.")
        if stream.escapes:
            yield FileNote("control_escapes_repaired",
                           f"{stream.escapes} control character(s) were written by Telegram "
                           "Desktop as \\xHH, which is not JSON; they were read as the "
                           "characters meant (\\u00HH). The original is unchanged.")
        if self.full and not tally.chats:
            yield FileNote("no_chats", "This account export holds no chats (chat history "
                           "was not ticked when exporting); it gives no records.")
        if "chats" in tally.chats or "left_chats" in tally.chats:
            yield FileNote("telegram_chats",
                           f"Chats read: {tally.chats['chats']} in chats.list, "
                           f"{tally.chats['left_chats']} in left_chats.list.")
        for code, paths in tally.skipped.items():
            yield FileNote(f"skipped_{code}",
                           f"{len(paths)} message item(s) skipped ({_SKIP_REASONS[code]}): "
                           f"{listed(paths)}.")
        yield from media_notes(tally.media_not_exported, tally.media_not_delivered)
        if tally.local_only:
            yield FileNote("exporter_local_time",
                           f"{tally.local_only} message(s) have no date_unixtime (an older "
                           "export): their 'date' is the exporting computer's wall clock, "
                           "of a zone the file does not state, and is read as local time.")
        if tally.old_from_ids:
            yield FileNote("bare_from_ids",
                           f"{tally.old_from_ids} sender id(s) are bare numbers (an older "
                           "export); they were read as user ids (telegram:user<id>).")
        if tally.offsets:
            seen = ", ".join(f"{offset_text(o)} ({n} message(s))"
                             for o, n in sorted(tally.offsets.items()))
            yield FileNote("exporter_utc_offsets",
                           "The exporting computer's local 'date' differs from the true time "
                           f"(date_unixtime) by: {seen}. This shows that computer's time "
                           "zone, not the sender's.")
        if tally.not_edited_placeholder is not None:
            yield FileNote("not_edited_placeholder",
                           f"'edited' reads {tally.not_edited_placeholder!r} on messages never "
                           "edited (an older export): the Unix epoch in the exporting "
                           "computer's local time, which shows its UTC offset in 1970.")


_SKIP_REASONS = {
    "not_an_object": "not a JSON object",
    "unsupported": "Telegram wrote only its id and type 'unsupported'",
    "no_readable_date": "no readable date_unixtime or date",
}


def _from_epoch(raw: Any) -> datetime | None:
    """date_unixtime (a string of whole seconds; a number is accepted too) as a UTC instant."""
    if type(raw) is str:
        if not (raw.isascii() and raw.isdigit()):  # int() would take " 1_0", "١٢" too
            return None
    elif type(raw) is not int:
        return None
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _has_media(message: dict[str, Any]) -> bool:
    return "photo" in message or "file" in message or "thumbnail" in message or (
        "contact_vcard" in message)


def _not_exported(value: str) -> bool:
    # "(File not included. Change data exporting settings to download.)", "(File exceeds
    # maximum size. ...)", "(File unavailable, please try again later)", "(Photo ...)".
    return value.endswith(")") and ("(File " in value or "(Photo " in value)


def _as_text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int or isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def media_notes(not_exported: int, not_delivered: int) -> Iterator[FileNote]:
    """What the export left out and what was not handed over with it (JSON and HTML alike)."""
    if not_exported:
        yield FileNote("media_not_exported",
                       f"{not_exported} media file(s) were left out by the export settings "
                       "or were unavailable; the messages say so and are flagged "
                       "media_not_exported.")
    if not_delivered:
        yield FileNote("media_not_delivered",
                       f"{not_delivered} media file(s) named by the export were not among "
                       "the files delivered with it.")


def offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def listed(paths: list[str]) -> str:
    """The first few, then "..." if there are more (JSON and HTML notes alike)."""
    shown = ", ".join(paths[:_PATHS_LISTED])
    return shown + (", ..." if len(paths) > _PATHS_LISTED else "")


PARSER = TelegramParser()
