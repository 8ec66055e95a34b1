"""Facebook Messenger and Instagram "Download your information" thread files (message_N.json).

One file is one conversation (or one part of a long one), newest message
first. A thread file is small (about 10,000 messages at most), so it is read
whole with the json module; a file too large for that, or one whose JSON is
broken, is streamed with ijson instead, keeping every message before the
damage. Section 2 of the format field notes describes the layouts, fields and
Meta's mojibake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import ijson

from parsers import meta_common as common
from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.records import (
    AttachmentRef,
    EventRecord,
    FileNote,
    Kind,
    Locator,
    ParsedItem,
    TimeBasis,
    WallClock,
)

#: Files up to this size are read whole (fast); larger ones are streamed.
WHOLE_FILE_LIMIT = 64 * 1024 * 1024


def _key(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb'"' + name + rb'"\s*:')


_PARTICIPANTS = re.compile(rb'"participants"\s*:\s*\[')
_MESSAGES = re.compile(rb'"messages"\s*:\s*\[')
_TIMESTAMP_MS = _key(rb"timestamp_ms")
_THREAD_PATH = _key(rb"thread_path")
_SENDER_NAME = _key(rb"sender_name")
_E2EE = _key(rb"threadName")

#: Message keys this parser reads; others are reported in a note, never dropped silently.
_KNOWN_KEYS = frozenset({
    "sender_name", "timestamp_ms", "content", *common.MEDIA_KEYS, "sticker", "share",
    "reactions", "call_duration", "missed", "users", "is_unsent", "is_taken_down",
    "is_geoblocked_for_viewer", "is_unsent_image_by_messenger_kid_parent",
    "bumped_message_metadata", "type", "ip",
})
#: Boolean message keys and the flag each sets when true.
_TRUE_FLAGS = (
    ("is_unsent", "unsent"),
    ("is_taken_down", "taken_down"),
    ("is_geoblocked_for_viewer", "geoblocked"),
    ("is_unsent_image_by_messenger_kid_parent", "unsent_by_parent"),
)
_SYSTEM_TYPES = frozenset({"Subscribe", "Unsubscribe"})
# A message holding only these keys (the two flags false) needs no further reading.
_PLAIN_KEYS = frozenset({"sender_name", "timestamp_ms", "content", "is_geoblocked_for_viewer",
                         "is_unsent_image_by_messenger_kid_parent"})


class MetaJsonParser:
    name = "meta_json"
    version = "1.0.0"
    format = "meta_json"

    def detect(self, probe: Probe) -> bool:
        """A JSON object with participants, messages and Meta's timestamp_ms or thread_path.

        Only the head is sniffed (a prefix of a large file is not valid JSON).
        The e2ee download (threadName/senderName) belongs to meta_e2ee_json.
        """
        head = probe.head.removeprefix(common.BOM).lstrip()
        if not head.startswith(b"{"):
            return False
        if not (_PARTICIPANTS.search(head) and _MESSAGES.search(head)):
            return False
        if _E2EE.search(head):
            return False
        if _TIMESTAMP_MS.search(head):
            return _SENDER_NAME.search(head) is not None
        return _THREAD_PATH.search(head) is not None

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        too_big = source.size > WHOLE_FILE_LIMIT
        document = None if too_big else common.load_whole(source, WHOLE_FILE_LIMIT)
        if document is not None:
            data, bad_utf8 = document
            yield from _from_document(source, data, bad_utf8)
        else:
            yield from _streamed(source)


# -- the whole-document path ---------------------------------------------------------


def _from_document(source: SourceFile, data: Any, bad_utf8: int | None) -> Iterator[ParsedItem]:
    if not isinstance(data, dict):
        raise DamagedInput(f"{source.name}: the JSON is not an object, so not a Meta thread file")
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise DamagedInput(f"{source.name}: 'messages' is not a list")
    header = _Header.of(data)
    choice = common.choose_service(
        _uris(messages), ["thread_type"] if "thread_type" in data else [], _links(messages))
    thread = _Thread(source, header, choice)
    yield from thread.opening_notes(len(messages))
    if bad_utf8 is not None:
        thread.flag_invalid_utf8 = True
        yield common.invalid_utf8_note(bad_utf8)
    record = thread.record
    for index, message in enumerate(messages):
        built = record(index, message)
        if built is not None:
            yield built
    yield from thread.closing_notes()


def _uris(messages: Iterable[Any]) -> Iterator[str]:
    for message in messages:
        if not isinstance(message, dict):
            continue
        for key in common.MEDIA_KEYS:
            items = message.get(key)
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict) and isinstance(item.get("uri"), str):
                        yield item["uri"]
        sticker = message.get("sticker")
        if isinstance(sticker, dict) and isinstance(sticker.get("uri"), str):
            yield sticker["uri"]


def _links(messages: Iterable[Any]) -> Iterator[str]:
    for message in messages:
        if isinstance(message, dict):
            share = message.get("share")
            if isinstance(share, dict) and isinstance(share.get("link"), str):
                yield share["link"]


# -- the streamed path (large or damaged files) ---------------------------------------

_URI_PREFIXES = frozenset(
    [f"messages.item.{key}.item.uri" for key in common.MEDIA_KEYS]
    + ["messages.item.sticker.uri"])


@dataclass(slots=True)
class _Survey:
    """What a first streaming pass learns: the header fields and the evidence on the service."""

    header: dict[str, Any] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    messages: int = 0
    damage: str | None = None
    first_bad_byte: int | None = None


def _survey(source: SourceFile) -> _Survey:
    survey = _Survey()
    try:
        with source.open() as stream:
            clean = common.CleanUtf8(stream)
            for prefix, event, value in ijson.parse(clean, use_float=True):
                if event == "start_map":
                    if prefix == "messages.item":
                        survey.messages += 1
                elif event in ("string", "boolean"):
                    _surveyed(survey, prefix, value)
            survey.first_bad_byte = clean.first_bad
    except (ijson.JSONError, ValueError, RecursionError) as exc:
        survey.damage = common.first_line(exc)
    except OSError as exc:
        raise DamagedInput(f"{source.name}: unreadable: {exc}") from exc
    return survey


_SCALARS = frozenset({"title", "thread_path", "thread_type", "is_still_participant"})


def _surveyed(survey: _Survey, prefix: str, value: Any) -> None:
    if prefix in _SCALARS:
        survey.header[prefix] = value
    elif prefix in ("participants.item.name", "participants.item") and isinstance(value, str):
        # Names are objects ({"name": ...}) in Meta files, plain strings in some.
        survey.names.append(value)
    elif prefix in _URI_PREFIXES and len(survey.uris) < 100:
        survey.uris.append(str(value))
    elif prefix == "messages.item.share.link" and len(survey.links) < 100:
        survey.links.append(str(value))


def _streamed(source: SourceFile) -> Iterator[ParsedItem]:
    survey = _survey(source)
    header = _Header.of({**survey.header,
                         "participants": [{"name": name} for name in survey.names]})
    choice = common.choose_service(
        survey.uris, ["thread_type"] if "thread_type" in survey.header else [], survey.links)
    thread = _Thread(source, header, choice)
    yield from thread.opening_notes(survey.messages)
    if survey.first_bad_byte is not None:
        thread.flag_invalid_utf8 = True
        yield common.invalid_utf8_note(survey.first_bad_byte)
    seen = yield from common.streamed_records(source, thread)
    if survey.damage is not None:
        # The messages list itself was whole; the damage lies after it.
        yield from thread.closing_notes()
        raise DamagedInput(f"{source.name}: the JSON is broken after the messages list: "
                           f"{survey.damage}")
    if seen == 0 and survey.messages == 0 and "thread_path" not in survey.header:
        raise DamagedInput(f"{source.name}: no messages list found")
    yield from thread.closing_notes()


# -- one thread ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    """The thread-level fields, raw (before any mojibake repair)."""

    names: tuple[str, ...]
    title: str | None
    thread_path: str | None
    thread_type: str | None
    still_participant: bool | None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Header:
        names = []
        participants = data.get("participants")
        if isinstance(participants, list):
            for person in participants:
                name = person.get("name") if isinstance(person, dict) else person
                if isinstance(name, str):
                    names.append(name)
        still = data.get("is_still_participant")
        return cls(tuple(names), _text(data.get("title")), _text(data.get("thread_path")),
                   _text(data.get("thread_type")), still if isinstance(still, bool) else None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class _Thread:
    """Builds the records of one thread file and counts what the closing notes report."""

    def __init__(self, source: SourceFile, header: _Header, choice: common.ServiceChoice) -> None:
        self.source = source
        self.choice = choice
        self.channel = choice.channel
        self.moji = common.Mojibake()
        fix = self.moji.fix
        self.names = tuple(fix(n) for n in header.names)
        self.title = fix(header.title) if header.title is not None else None
        self.thread_path = fix(header.thread_path) if header.thread_path is not None else None
        self.header = header
        self.folder = common.folder_of(self.thread_path)
        self.moji.discard()  # header repairs are counted in the note, not on a record
        base: dict[str, str] = {
            "participants": json.dumps(list(self.names), ensure_ascii=False),
        }
        if self.title is not None:
            base["title"] = self.title
        if self.folder is not None:
            base["folder"] = self.folder
        thread_id = common.thread_id_of(self.thread_path)
        if thread_id is not None:
            base["thread_id"] = thread_id
        self.base = base
        self.shared_extra: Mapping[str, str] = MappingProxyType(dict(base))
        self.media = common.Media(source.siblings)
        self.untimed: list[int] = []
        self.not_objects: list[int] = []
        self.unknown_keys: dict[str, int] = {}
        self.flag_invalid_utf8 = False

    # -- notes ----------------------------------------------------------------

    def opening_notes(self, messages: int) -> Iterator[FileNote]:
        yield self.choice.note()
        title = f"{self.title!r}" if self.title is not None else "(no title)"
        people = ", ".join(self.names) if self.names else "none listed"
        kind = f", thread_type {self.header.thread_type}" if self.header.thread_type else ""
        yield FileNote("meta_thread",
                       f"Thread {title} at {self.thread_path or '(no thread_path)'}{kind}: "
                       f"{messages} message(s), participants by display name: {people}. "
                       "Messages are listed newest first; locators keep the file's order.")
        if self.thread_path is None:
            yield FileNote("no_thread_path",
                           "The file has no thread_path, so its records carry no conversation "
                           "key; the file itself is the conversation.")
        if self.header.still_participant is False:
            yield FileNote("left_thread",
                           "is_still_participant is false: the account holder had left or been "
                           "removed from this thread when the download was made.")
        folder_note = common.folder_note(self.folder, self.thread_path or "")
        if folder_note is not None:
            yield folder_note
        yield common.limits_note(self.channel)

    def closing_notes(self) -> Iterator[FileNote]:
        yield from self.moji.notes()
        yield from self.media.notes()
        yield from common.skipped_notes("timestamp_ms", self.untimed, self.not_objects,
                                        self.unknown_keys)

    # -- records --------------------------------------------------------------

    def record(self, index: int, message: Any) -> EventRecord | None:
        if not isinstance(message, dict):
            self.not_objects.append(index)
            return None
        defects: list[str] = []
        clock = common.clock_from_ms(message.get("timestamp_ms"), defects)
        if clock is None:
            self.untimed.append(index)
            return None
        fix = self.moji.fix
        sender = message.get("sender_name")
        if not isinstance(sender, str):
            defects.append("no_sender" if sender is None else "sender_not_text")
            sender = None
        else:
            sender = fix(sender)
        content = message.get("content")
        text: str | None = None
        if isinstance(content, str):
            text = fix(content)
        elif content is not None:
            defects.append("content_not_text")
        if (not defects and not self.moji.pending and _PLAIN_KEYS.issuperset(message)
                and message.get("is_geoblocked_for_viewer") is not True
                and message.get("is_unsent_image_by_messenger_kid_parent") is not True
                and not self.flag_invalid_utf8
                and not (text and self.channel == common.INSTAGRAM
                         and text.endswith("(edited)"))):
            # The common case: sender, time and text, nothing else to read.
            return self._plain(index, clock, sender, text)
        return self._full(index, message, clock, sender, text, defects)

    def _plain(self, index: int, clock: WallClock, sender: str | None,
               text: str | None) -> EventRecord:
        info = common.classify_text(text, sender)
        if info is not common.PLAIN:
            return self._finish(index, clock, sender, text, info.kind, list(info.flags), [], (),
                                {"text_cue": info.cue or ""})
        # The extra mapping is shared by every plain record of the file, read-only.
        return EventRecord("message", clock, "sent", self.channel,
                           Locator(json_path=f"messages[{index}]"), sender=sender, text=text,
                           extra=self.shared_extra, conversation=self.thread_path)

    def _full(self, index: int, message: dict[str, Any], clock: WallClock, sender: str | None,
              text: str | None, defects: list[str]) -> EventRecord:
        flags: list[str] = []
        extra: dict[str, str] = {}
        for key in message:
            if key not in _KNOWN_KEYS:
                self.unknown_keys[key] = self.unknown_keys.get(key, 0) + 1
        for key, flag in _TRUE_FLAGS:
            if message.get(key) is True:
                flags.append(flag)
        attachments = self._attachments(message, flags, defects)
        kind = self._kind(message, sender, text, flags, defects, extra)
        if (self.channel == common.INSTAGRAM and text is not None
                and text.endswith("(edited)")):
            # Instagram writes an edit as a new entry ending "(edited)" (field notes 2.2).
            flags.append("edited")
        self._share(message.get("share"), extra, defects)
        self._reactions(message.get("reactions"), extra, defects)
        ip = message.get("ip")
        if isinstance(ip, str):
            extra["ip"] = ip
        return self._finish(index, clock, sender, text, kind, flags, defects, attachments, extra)

    def _kind(self, message: dict[str, Any], sender: str | None, text: str | None,
              flags: list[str], defects: list[str], extra: dict[str, str]) -> Kind:
        """Call, notice or message: from the call and join fields first, then the text."""
        mtype = message.get("type")
        if isinstance(mtype, str) and mtype != "Generic":
            extra["type"] = mtype
        if "call_duration" in message or mtype == "Call":
            duration = message.get("call_duration")
            if isinstance(duration, int | float) and not isinstance(duration, bool):
                extra["call_duration_s"] = str(duration)
            elif duration is not None:
                defects.append("call_duration_not_number")
            if message.get("missed") is True:
                flags.append("missed")
            return "call"
        if mtype in _SYSTEM_TYPES or "users" in message:
            extra["text_cue"] = "type" if mtype in _SYSTEM_TYPES else "users"
            users = common.names_of(message.get("users"), self.moji.fix)
            if users is not None:
                extra["users"] = json.dumps(users, ensure_ascii=False)
            return "system"
        info = common.classify_text(text, sender)
        if info is common.PLAIN:
            return "message"
        flags.extend(f for f in info.flags if f not in flags)
        extra["text_cue"] = info.cue or ""
        return info.kind

    def _finish(self, index: int, clock: WallClock, sender: str | None, text: str | None,
                kind: Kind, flags: list[str], defects: list[str],
                attachments: tuple[AttachmentRef, ...], extra: dict[str, str]) -> EventRecord:
        outcome = self.moji.take()
        self.moji.mark(extra, outcome)
        if self.flag_invalid_utf8 and "\ufffd" in f"{sender}{text}":
            defects.append("invalid_utf8")
        basis: TimeBasis = "call_started" if kind == "call" else "sent"
        return EventRecord(
            kind, clock, basis, self.channel, Locator(json_path=f"messages[{index}]"),
            sender=sender, text=text, attachments=attachments, flags=tuple(flags),
            defects=tuple(defects), extra={**self.base, **extra},
            conversation=self.thread_path,
        )

    def _attachments(self, message: dict[str, Any], flags: list[str],
                     defects: list[str]) -> tuple[AttachmentRef, ...]:
        found: list[AttachmentRef] = []
        for key in common.MEDIA_KEYS:
            items = message.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                defects.append(f"{key}_not_list")
                continue
            for item in items:
                self._one_attachment(item, key, found, defects)
        sticker = message.get("sticker")
        if sticker is not None and self._one_attachment(sticker, "sticker", found, defects):
            flags.append("sticker")
        return tuple(found)

    def _one_attachment(self, item: Any, key: str, found: list[AttachmentRef],
                        defects: list[str]) -> bool:
        uri = item.get("uri") if isinstance(item, dict) else None
        if not isinstance(uri, str) or not uri:
            if "media_without_uri" not in defects:
                defects.append("media_without_uri")
            return False
        found.append(self.media.ref(self.moji.fix(uri), key, raw=uri))
        return True

    def _share(self, share: Any, extra: dict[str, str], defects: list[str]) -> None:
        if share is None:
            return
        if not isinstance(share, dict):
            defects.append("share_not_object")
            return
        fix = self.moji.fix
        for key, name in (("link", "share_link"), ("share_text", "share_text"),
                          ("original_content_owner", "share_owner")):
            value = share.get(key)
            if isinstance(value, str):
                extra[name] = fix(value)

    def _reactions(self, reactions: Any, extra: dict[str, str], defects: list[str]) -> None:
        text = common.reactions_json(reactions, self.moji.fix, defects)
        if text is not None:
            extra["reactions"] = text


PARSER = MetaJsonParser()
