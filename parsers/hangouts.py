"""Legacy Google Hangouts Takeout: ``Hangouts/Hangouts.json``.

One JSON document for every conversation of the account, often gigabytes, so
it is streamed: each conversation's header (its participants and their
fallback names) is kept while that conversation's events are read one at a
time. Two layouts exist: ``conversations[].conversation`` + ``events[]`` (since
about 2018) and the older ``conversation_state[].conversation_state``
+ ``event[]``. Times are microseconds since 1970; senders are Google account
(gaia) ids. Each event's ``self_event_state.user_id`` names the account that
exported the data, which gives direction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.identifiers import handle_id
from parsers.records import (
    AttachmentRef,
    Direction,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
)
from parsers.streamed_json import (
    JsonStream,
    Path,
    Tally,
    epoch_clock,
    json_head,
    json_path,
    opened,
    text_of,
)

CHANNEL = "hangouts"
_START = re.compile(
    rb'\{\s*"(?:conversations|conversation_state|continuation_end_timestamp)"\s*:')
_FIELDS = (re.compile(rb'"conversation_id"\s*:\s*\{\s*"id"\s*:'), re.compile(rb'"gaia_id"\s*:'))
_MICROSECONDS = 1_000_000


@dataclass
class _Conversation:
    """One conversation's header: who is in it, by gaia id."""

    index: int
    id: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    participants: tuple[str, ...] = ()
    self_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: Whether the details (participants) were read; events wait for them.
    header: bool = False


def _pick(path: list[Any]) -> bool:
    depth = len(path)
    if depth < 3:
        return False
    if path[0] == "conversations":
        return (depth == 3 and path[2] == "conversation") or (depth == 4 and path[2] == "events")
    if path[0] == "conversation_state":
        if depth == 3:
            return bool(path[2] == "conversation_id")
        if path[2] != "conversation_state":
            return False
        return (depth == 4 and path[3] == "conversation") or (depth == 5 and path[3] == "event")
    return False


def _is_event(path: Path) -> bool:
    return (len(path) == 4 and path[2] == "events") or len(path) == 5


def _gaia(value: Any) -> str | None:
    return text_of(value.get("gaia_id")) if isinstance(value, dict) else None


def _hangouts_id(gaia: str) -> str:
    return handle_id(CHANNEL, gaia)


class HangoutsParser:
    name = "hangouts"
    version = "1.0.0"
    format = "hangouts"

    def detect(self, probe: Probe) -> bool:
        head = json_head(probe.head)
        return bool(_START.match(head)) and all(p.search(head) for p in _FIELDS)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        reader = _Reader(source)
        yield from reader.records()
        yield from reader.notes()


class _Reader:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.no_time = Tally("hangouts_events_without_time", "Events with no usable timestamp")
        self.unreadable = Tally("hangouts_unreadable_entries",
                                "Entries that are not Hangouts events")
        self.self_ids: set[str] = set()
        self.conversations = 0
        self.links = 0

    def records(self) -> Iterator[EventRecord]:
        with opened(self.source) as stream:
            document = JsonStream(stream, self.source.name)
            current: _Conversation | None = None
            waiting: list[tuple[Path, Any]] = []
            for path, value in document.values(_pick):
                index = int(path[1]) if isinstance(path[1], int) else -1
                if current is None or index != current.index:
                    yield from self._events(waiting, current)
                    current, waiting = _Conversation(index), []
                    self.conversations += 1
                if _is_event(path):
                    # Events seen before their conversation's header wait for it.
                    if not current.header:
                        waiting.append((path, value))
                    else:
                        yield from self._event(path, value, current)
                    continue
                self._header(path, value, current)
                yield from self._events(waiting, current)
                waiting = []
            yield from self._events(waiting, current)
        if document.root != "start_map":
            raise DamagedInput(f"{self.source.name}: not a Hangouts.json document")

    def _events(self, waiting: list[tuple[Path, Any]],
                conversation: _Conversation | None) -> Iterator[EventRecord]:
        for path, value in waiting:
            yield from self._event(path, value, conversation or _Conversation(-1))

    def _header(self, path: Path, value: Any, conversation: _Conversation) -> None:
        if path[2] == "conversation_id":  # older layout: the id sits apart from the details
            conversation.id = _id_of(value)
            return
        conversation.header = True
        if not isinstance(value, dict):
            self.unreadable.add(json_path(path))
            return
        details = value.get("conversation") if path[0] == "conversations" else value
        if path[0] == "conversations":
            conversation.id = _conversation_of(value)
        if not isinstance(details, dict):
            return
        conversation.id = conversation.id or _id_of(details.get("id"))
        people = details.get("participant_data")
        for person in people if isinstance(people, list) else ():
            gaia = _gaia(person.get("id")) if isinstance(person, dict) else None
            if gaia is None:
                continue
            name = person.get("fallback_name")
            conversation.names[gaia] = name if isinstance(name, str) else ""
        conversation.participants = tuple(sorted(_hangouts_id(g) for g in conversation.names))
        state = details.get("self_conversation_state")
        read_state = state.get("self_read_state") if isinstance(state, dict) else None
        if isinstance(read_state, dict):
            conversation.self_id = _gaia(read_state.get("participant_id"))
        for key in ("type", "name"):
            if isinstance(details.get(key), str):
                conversation.extra[f"conversation_{key}"] = details[key]

    def _event(self, path: Path, event: Any,
               conversation: _Conversation) -> Iterator[EventRecord]:
        where = json_path(path)
        if not isinstance(event, dict):
            self.unreadable.add(where)
            return
        defects: list[str] = []
        clock = epoch_clock(event.get("timestamp"), _MICROSECONDS)
        if clock is None:
            self.no_time.add(where)
            return
        event_id = event.get("event_id")
        extra = dict(conversation.extra)
        record = EventRecord(
            kind="message", time=clock, time_basis="sent", channel=CHANNEL,
            locator=Locator(json_path=where,
                            message_id=event_id if isinstance(event_id, str) else None),
            conversation=conversation.id or _conversation_of(event),
            participants=conversation.participants,
            extra=extra,
        )
        self._sender(record, event, conversation, defects)
        self._content(record, extra, event, defects)
        record.defects = tuple(defects)
        yield record

    def _sender(self, record: EventRecord, event: dict[str, Any],
                conversation: _Conversation, defects: list[str]) -> None:
        gaia = _gaia(event.get("sender_id"))
        if gaia is None:
            defects.append("missing_sender")
        else:
            record.sender = conversation.names.get(gaia) or None
            record.sender_id = _hangouts_id(gaia)
        record.recipients = tuple(p for p in record.participants if p != record.sender_id)
        state = event.get("self_event_state")
        self_id = _gaia(state.get("user_id")) if isinstance(state, dict) else None
        self_id = self_id or conversation.self_id
        direction: Direction = "unknown"
        if self_id is not None:
            self.self_ids.add(self_id)
            if gaia is not None:
                direction = "outgoing" if gaia == self_id else "incoming"
        record.direction = direction

    def _content(self, record: EventRecord, extra: dict[str, str], event: dict[str, Any],
                 defects: list[str]) -> None:
        event_type = event.get("event_type")
        if isinstance(event_type, str):
            extra["event_type"] = event_type
        if isinstance(event.get("chat_message"), dict):
            self._chat(record, event["chat_message"], defects)
        elif isinstance(event.get("hangout_event"), dict):
            _call(record, extra, event["hangout_event"])
        elif isinstance(event.get("membership_change"), dict):
            change = event["membership_change"]
            record.kind = "system"
            if isinstance(change.get("type"), str):
                extra["membership_change"] = change["type"]
            _user_ids(extra, change.get("participant_id"))
        elif isinstance(event.get("conversation_rename"), dict):
            rename = event["conversation_rename"]
            record.kind = "system"
            new, old = rename.get("new_name"), rename.get("old_name")
            record.text = new if isinstance(new, str) else None
            if isinstance(old, str):
                extra["old_name"] = old
        else:
            record.kind = "system"
            defects.append("unknown_event")

    def _chat(self, record: EventRecord, chat: dict[str, Any], defects: list[str]) -> None:
        content = chat.get("message_content")
        if not isinstance(content, dict):
            defects.append("missing_message_content")
            return
        segments = content.get("segment")
        if isinstance(segments, list):
            parts = [_segment_text(s) for s in segments]
            if any(p is None for p in parts):
                defects.append("unreadable_segment")
            record.text = "".join(p for p in parts if p) or None
        attachments = content.get("attachment")
        if isinstance(attachments, list):
            record.attachments = tuple(_attachment(a) for a in attachments)
            self.links += len(record.attachments)

    def notes(self) -> Iterator[FileNote]:
        for tally in (self.no_time, self.unreadable):
            note = tally.note()
            if note is not None:
                yield note
        if len(self.self_ids) == 1:
            yield FileNote("hangouts_account_holder",
                           f"Events name gaia id {next(iter(self.self_ids))} as the exporting "
                           "account (self_event_state); directions follow from it.")
        elif len(self.self_ids) > 1:
            yield FileNote("hangouts_account_holder_unclear",
                           "Events name more than one exporting account: "
                           f"{', '.join(sorted(self.self_ids))}.")
        if self.links:
            yield FileNote("hangouts_media_not_included",
                           f"Attachments: {self.links}, given as Google links; Hangouts.json "
                           "does not carry the files themselves.")


def _conversation_of(item: dict[str, Any]) -> str | None:
    return _id_of(item.get("conversation_id"))


def _id_of(value: Any) -> str | None:
    """``{"id": "Ugx..."}``, the way Hangouts wraps conversation ids."""
    return text_of(value.get("id")) if isinstance(value, dict) else None


def _segment_text(segment: Any) -> str | None:
    if not isinstance(segment, dict):
        return None
    text = segment.get("text")
    if isinstance(text, str):
        return text
    # Line breaks are written as a segment, often without a text of their own.
    return "\n" if segment.get("type") == "LINE_BREAK" else None


def _attachment(item: Any) -> AttachmentRef:
    embed = item.get("embed_item") if isinstance(item, dict) else None
    if isinstance(embed, dict):
        for part in embed.values():
            if isinstance(part, dict):
                for key in ("url", "original_content_url"):
                    if isinstance(part.get(key), str) and part[key]:
                        return AttachmentRef(name=part[key])
        if isinstance(embed.get("id"), str):
            return AttachmentRef(name=embed["id"])
    return AttachmentRef(name="(attachment without a link)")


def _call(record: EventRecord, extra: dict[str, str], hangout: dict[str, Any]) -> None:
    kind = hangout.get("event_type")
    if isinstance(kind, str):
        extra["hangout_event"] = kind
    if isinstance(hangout.get("media_type"), str):
        extra["media_type"] = hangout["media_type"]
    _user_ids(extra, hangout.get("participant_id"))
    if kind == "END_HANGOUT":
        # The end of a call: its time is not when the call started.
        record.kind = "system"
        record.flags = ("call_ended",)
        duration = text_of(hangout.get("hangout_duration_secs"))
        if duration is not None:
            extra["duration_seconds"] = duration
        return
    record.kind = "call"
    record.time_basis = "call_started"


def _user_ids(extra: dict[str, str], people: Any) -> None:
    if isinstance(people, list):
        ids = [g for p in people if (g := _gaia(p)) is not None]
        if ids:
            extra["user_ids"] = ",".join(ids)


PARSER = HangoutsParser()
