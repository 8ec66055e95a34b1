"""X (Twitter) archive direct messages: ``data/direct-messages.js`` and its relatives.

Each file is one JavaScript assignment, ``window.YTD.direct_messages.part0 = [...]``,
whose JSON lists conversations, each with its ``conversationId`` and its events
(``messageCreate``, and in groups joins, leaves and renames). Senders are numeric
user ids, stable across handle changes, which is what attribution needs; the
archive never maps them to handles. The archive's own account id lives in
``account.js``, which this parser does not get, so direction is left unknown.
Section 6 of the format field notes has the details.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.identifiers import handle_id
from parsers.records import (
    AttachmentRef,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    WallClock,
)
from parsers.streamed_json import (
    JsonStream,
    Path,
    Tally,
    compact,
    iso_instant,
    json_head,
    json_path,
    opened,
    snowflake_clock,
    text_of,
)

CHANNEL = "x"
_PREFIX = re.compile(rb"window\.YTD\.(?P<var>[A-Za-z_]+)\.part(?P<part>\d+)\s*=\s*")
#: The prefix is short; a file whose first KiB holds no assignment is not an X file.
_PREFIX_SEARCH = 1024
#: (variable name) -> (group file, header-only file). The header files list who
#: wrote to whom and when, without the text.
_VARIANTS = {
    "direct_messages": (False, False),
    "direct_messages_group": (True, False),
    "direct_message_headers": (False, True),
    "direct_message_group_headers": (True, True),
}
_MESSAGE_EVENTS = ("messageCreate", "welcomeMessageCreate")
_SYSTEM_EVENTS = ("joinConversation", "participantsJoin", "participantsLeave",
                  "conversationNameUpdate")
_REACTION_EVENTS = ("reactionCreate",)
#: Snowflake ids carry their creation time: milliseconds since this epoch, shifted 22 bits.
_TWITTER_EPOCH_MS = 1_288_834_974_657


@dataclass(frozen=True, slots=True)
class _Variant:
    var: str
    part: str
    group: bool
    headers_only: bool
    offset: int

    @property
    def media_folder(self) -> str:
        return "direct_messages_group_media" if self.group else "direct_messages_media"

    def describe(self) -> str:
        kind = "group conversations" if self.group else "one-to-one conversations"
        extent = ("message headers only (who wrote to whom and when, no text)"
                  if self.headers_only else "messages with their text")
        return (f"X archive direct messages, {kind}, {extent}: "
                f"window.YTD.{self.var}.part{self.part}.")


def _variant_of(head: bytes) -> _Variant | None:
    start = len(head) - len(head.lstrip(b"\xef\xbb\xbf \t\r\n"))
    match = _PREFIX.match(head, start)
    if match is None or match.group("var").decode() not in _VARIANTS:
        return None
    if head[match.end():match.end() + 1] != b"[":
        return None
    var = match.group("var").decode()
    group, headers_only = _VARIANTS[var]
    return _Variant(var, match.group("part").decode(), group, headers_only, match.end())


class XDirectMessagesParser:
    name = "x_dms"
    version = "1.0.0"
    format = "x_dms"

    def detect(self, probe: Probe) -> bool:
        head = json_head(probe.head)
        return head.startswith(b"window.YTD.") and _variant_of(probe.head) is not None

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        variant = _read_variant(source)
        yield FileNote("x_dm_variant", variant.describe())
        members = _group_members(source, variant) if variant.group else {}
        reader = _Reader(source, variant, members)
        yield from reader.records()
        yield from reader.notes()


def _read_variant(source: SourceFile) -> _Variant:
    with opened(source) as stream:
        head = stream.read(_PREFIX_SEARCH)
    variant = _variant_of(head)
    if variant is None:
        raise DamagedInput(f"{source.name}: no 'window.YTD.direct_messages...' assignment "
                           "followed by a JSON list at the start of the file")
    # opened() dropped a byte order mark; the offset counts from after it.
    return variant


def _pick(path: list[Any]) -> bool:
    depth = len(path)
    if depth == 4:
        return bool(path[1] == "dmConversation" and path[2] == "messages")
    if depth == 3:
        return bool(path[1] == "dmConversation" and path[2] == "conversationId")
    if depth == 2:
        return bool(path[1] != "dmConversation")
    return False


_ID_FIELDS = ("senderId", "recipientId", "initiatingUserId")
_ID_LISTS = ("userIds", "participantsSnapshot")


def _member_id(path: list[Any]) -> bool:
    """An id inside a conversation's events: [i].dmConversation.messages[j].<event>.<field>."""
    depth = len(path)
    if depth == 2:
        return bool(path[1] != "dmConversation")
    if depth < 6 or path[1] != "dmConversation" or path[2] != "messages":
        return False
    return (depth == 6 and path[5] in _ID_FIELDS) or (depth == 7 and path[5] in _ID_LISTS)


def _group_members(source: SourceFile, variant: _Variant) -> dict[int, set[str]]:
    """First pass over a group file: every user id each conversation mentions.

    Groups have no recipient field, so who was in the conversation comes from
    senders, join snapshots and leaves across the whole conversation. Only the
    id strings are picked: no event is built in this pass.
    """
    members: dict[int, set[str]] = {}
    with opened(source, variant.offset) as stream:
        for path, value in JsonStream(stream, source.name).values(_member_id):
            if not isinstance(path[0], int):
                raise _not_a_list(source)
            found = text_of(value)
            if len(path) > 2 and found is not None:
                members.setdefault(path[0], set()).add(found)
    return members


def _not_a_list(source: SourceFile) -> DamagedInput:
    return DamagedInput(f"{source.name}: the assignment does not hold a list of conversations")


@lru_cache(maxsize=65536)
def _x_id(raw: str) -> str:
    return handle_id(CHANNEL, raw)


@dataclass(frozen=True, slots=True)
class _Conversation:
    key: tuple[int, str | None]
    id: str | None
    participants: tuple[str, ...]


def _media_name(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class _Reader:
    """Second pass: conversations in file order, each event a record."""

    def __init__(self, source: SourceFile, variant: _Variant,
                 members: dict[int, set[str]]) -> None:
        self.source = source
        self.variant = variant
        self.members = members
        self.siblings = source.siblings
        self.conversation_ids: list[set[str]] = []
        self.no_time = Tally("x_events_without_time",
                             "Events with no usable createdAt or message id time")
        self.unreadable = Tally("x_unreadable_entries",
                                "Entries that are not conversation events this parser knows")
        self.trailing = False
        self._current: _Conversation | None = None
        self.media_total = 0
        self.media_found = 0

    def records(self) -> Iterator[ParsedItem]:
        with opened(self.source, self.variant.offset) as stream:
            document = JsonStream(stream, self.source.name)
            current: int | None = None
            conversation: str | None = None
            waiting: list[tuple[Path, Any]] = []
            for path, value in document.values(_pick):
                index = path[0]
                if not isinstance(index, int):
                    raise _not_a_list(self.source)
                if index != current:
                    yield from self._events(waiting, current, None)
                    current, conversation, waiting = index, None, []
                if path[1] != "dmConversation":
                    self.unreadable.add(json_path(path))
                elif path[2] == "conversationId":
                    conversation = text_of(value)
                    if conversation is None:
                        self.unreadable.add(json_path(path))
                    yield from self._events(waiting, current, conversation)
                    waiting = []
                elif conversation is None:
                    # Key order is not guaranteed: events seen before their
                    # conversation's id wait for it (one conversation at most).
                    waiting.append((path, value))
                else:
                    yield from self._event(path, value, self._conversation(index, conversation))
            yield from self._events(waiting, current, None)
        if document.root != "start_array":
            raise _not_a_list(self.source)
        self.trailing = document.trailing

    def _events(self, waiting: list[tuple[Path, Any]], index: int | None,
                conversation: str | None) -> Iterator[EventRecord]:
        for path, value in waiting:
            yield from self._event(path, value, self._conversation(index or 0, conversation))

    def _conversation(self, index: int, conversation: str | None) -> _Conversation:
        """Who is in conversation ``index`` as far as the file says; worked out once."""
        if self._current is not None and self._current.key == (index, conversation):
            return self._current
        if self.variant.group:
            raw = self.members.get(index, set())
        else:
            raw = {part for part in (conversation or "").split("-") if part}
        self.conversation_ids.append(raw)
        self._current = _Conversation((index, conversation), conversation,
                                      tuple(sorted(_x_id(i) for i in raw)))
        return self._current

    def _event(self, path: Path, value: Any, conversation: _Conversation) -> Iterator[EventRecord]:
        where = (f"[{path[0]}].dmConversation.messages[{path[3]}]" if type(path[3]) is int
                 else json_path(path))
        if not isinstance(value, dict) or not value:
            self.unreadable.add(where)
            return
        for kind, body in value.items():
            if not isinstance(body, dict):
                self.unreadable.add(f"{where}.{kind}")
                continue
            record = self._record(kind, body, where, conversation.id, conversation.participants)
            if record is not None:
                yield record

    def _record(self, kind: str, body: dict[str, Any], where: str, conversation: str | None,
                participants: tuple[str, ...]) -> EventRecord | None:
        message_id = text_of(body.get("id"))
        defects: list[str] = []
        clock = self._clock(body.get("createdAt"), message_id, defects,
                            kind in _MESSAGE_EVENTS)
        if clock is None:
            self.no_time.add(where)
            return None
        locator = Locator(json_path=where, message_id=message_id)
        base = EventRecord(kind="message", time=clock, time_basis="sent", channel=CHANNEL,
                           locator=locator, conversation=conversation,
                           participants=participants)
        if kind in _MESSAGE_EVENTS:
            self._message(base, body, defects, kind)
        elif kind in _REACTION_EVENTS:
            self._reaction(base, body, defects)
        else:
            self._system(base, body, defects, kind)
        base.defects = tuple(defects)
        return base

    def _clock(self, created: Any, message_id: str | None, defects: list[str],
               may_use_id: bool) -> WallClock | None:
        if created is None:
            defects.append("missing_time")
        else:
            clock = iso_instant(created) if isinstance(created, str) else None
            if clock is not None:
                return clock
            defects.append("unparseable_time")
        return snowflake_clock(message_id, _TWITTER_EPOCH_MS) if may_use_id else None

    def _message(self, record: EventRecord, body: dict[str, Any], defects: list[str],
                 kind: str) -> None:
        sender = text_of(body.get("senderId"))
        recipient = text_of(body.get("recipientId"))
        record.sender = sender
        record.sender_id = _x_id(sender) if sender else None
        if sender is None:
            defects.append("missing_sender")
        if recipient is not None:
            record.recipients = (_x_id(recipient),)
        else:
            record.recipients = tuple(p for p in record.participants if p != record.sender_id)
        if not self.variant.group and record.conversation:
            parts = record.conversation.split("-")
            if sender is not None and sender not in parts:
                defects.append("sender_not_in_conversation_id")
            if recipient is not None and recipient not in parts:
                defects.append("recipient_not_in_conversation_id")
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            defects.append("text_not_a_string")
            text = None
        record.text = text
        record.attachments = self._media(body.get("mediaUrls"), record, defects)
        record.flags, record.extra = self._details(body, kind)

    def _details(self, body: dict[str, Any], kind: str) -> tuple[tuple[str, ...], dict[str, str]]:
        flags: list[str] = []
        extra: dict[str, str] = {}
        if self.variant.headers_only:
            flags.append("header_only")
        if kind != "messageCreate":
            extra["event"] = kind
        for key, name in (("urls", "urls"), ("reactions", "reactions"),
                          ("editHistory", "edit_history")):
            value = body.get(key)
            if value:
                extra[name] = compact(value)
        if body.get("editHistory"):
            flags.append("edited")
        return tuple(flags), extra

    def _media(self, urls: Any, record: EventRecord,
               defects: list[str]) -> tuple[AttachmentRef, ...]:
        if urls is None:
            return ()
        if not isinstance(urls, list):
            defects.append("media_urls_not_a_list")
            return ()
        found: list[AttachmentRef] = []
        for url in urls:
            if not isinstance(url, str) or not url:
                defects.append("unreadable_media_url")
                continue
            self.media_total += 1
            sha = self._media_sha(url, record.locator.message_id, record.conversation)
            self.media_found += sha is not None
            found.append(AttachmentRef(name=url, sha256=sha))
        return tuple(found)

    def _media_sha(self, url: str, message_id: str | None,
                   conversation: str | None) -> str | None:
        """The archive stores a DM's media as ``<message id>-<name from the URL>``."""
        if message_id is None:
            return None
        name = _media_name(url)
        folder = self.variant.media_folder
        candidates = [f"{folder}/{message_id}-{name}"]
        if conversation:
            candidates.append(f"{folder}/{conversation}-{message_id}-{name}")
        candidates.append(f"{message_id}-{name}")
        for candidate in candidates:
            sha = self.siblings.get(candidate)
            if sha is not None:
                return sha
        return None

    def _reaction(self, record: EventRecord, body: dict[str, Any], defects: list[str]) -> None:
        sender = text_of(body.get("senderId"))
        record.sender = sender
        record.sender_id = _x_id(sender) if sender else None
        key = body.get("reactionKey")
        record.text = key if isinstance(key, str) else None
        record.flags = ("reaction",)
        record.extra = {"event": "reactionCreate"}
        if (target := text_of(body.get("messageId"))) is not None:
            record.extra["reacted_to"] = target
        if sender is None:
            defects.append("missing_sender")

    def _system(self, record: EventRecord, body: dict[str, Any], defects: list[str],
                kind: str) -> None:
        record.kind = "system"
        if kind not in _SYSTEM_EVENTS:
            defects.append("unknown_event")
        # initiatingUserId is a field naming who acted, not a name read from text.
        actor = text_of(body.get("initiatingUserId"))
        record.sender = actor
        record.sender_id = _x_id(actor) if actor else None
        extra = {"event": kind}
        users = [u for key in ("userIds", "participantsSnapshot")
                 if isinstance(body.get(key), list)
                 for item in body[key] if (u := text_of(item)) is not None]
        if users:
            extra["user_ids"] = ",".join(users)
        name = body.get("name")
        if isinstance(name, str):
            record.text = name
        record.extra = extra

    def notes(self) -> Iterator[FileNote]:
        for tally in (self.no_time, self.unreadable):
            note = tally.note()
            if note is not None:
                yield note
        if self.media_total:
            yield FileNote("x_media_linked",
                           f"Media links: {self.media_total}; files delivered with the archive "
                           f"and linked: {self.media_found} (looked up as "
                           f"{self.variant.media_folder}/<message id>-<file name>).")
        if self.trailing:
            yield FileNote("x_trailing_bytes", "Bytes after the JSON list (such as a "
                           "closing ';') were not read.")
        yield self._owner_note()
        yield FileNote("x_absent", "The archive holds the conversations still in the account "
                       "holder's inbox: messages or conversations they deleted are absent, so "
                       "absence proves nothing.")

    def _owner_note(self) -> FileNote:
        seen = [ids for ids in self.conversation_ids if ids]
        common = set.intersection(*seen) if len(seen) > 1 else set()
        if len(common) == 1:
            owner = common.pop()
            return FileNote("x_probable_account_holder",
                            f"User id {owner} takes part in every one of the {len(seen)} "
                            "conversations, so it is probably the archive's own account. "
                            "That is an inference, not stated in this file (account.js says "
                            "it): directions are left unknown.")
        return FileNote("x_direction_unknown",
                        "The archive's own account id is in account.js, not in this file: "
                        "directions are left unknown; sender ids show who wrote each message.")


PARSER = XDirectMessagesParser()
