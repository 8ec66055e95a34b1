"""Snapchat "My Data" chat and snap history (``json/chat_history.json``, ``snap_history.json``).

Two shapes exist. The older one files entries under "Received Saved Chat History",
"Sent Chat History" and the like, each entry naming the other person in
``From`` or ``To``. The newer one is keyed by conversation and says on each entry
who sent it (``From``) and whether that was the account holder (``IsSender``).
Snapchat deletes chats after viewing unless someone saved them and never keeps
a snap's content, so the export holds far from everything (section 7 of the
format field notes).
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

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
    WallClock,
)
from parsers.streamed_json import (
    JsonStream,
    Tally,
    epoch_clock,
    is_digits,
    json_head,
    json_path,
    opened,
    text_of,
)

CHANNEL = "snapchat"

_Side = Literal["incoming", "outgoing"]


@dataclass(frozen=True, slots=True)
class _OldSection:
    direction: _Side
    snap: bool
    saved: bool


_OLD_SECTIONS = {
    "Received Saved Chat History": _OldSection("incoming", snap=False, saved=True),
    "Sent Saved Chat History": _OldSection("outgoing", snap=False, saved=True),
    "Received Chat History": _OldSection("incoming", snap=False, saved=False),
    "Sent Chat History": _OldSection("outgoing", snap=False, saved=False),
    "Received Snap History": _OldSection("incoming", snap=True, saved=False),
    "Sent Snap History": _OldSection("outgoing", snap=True, saved=False),
}
_OLD_START = re.compile(
    rb'\{\s*"(?:Received|Sent) (?:Saved )?(?:Chat|Snap) History"\s*:\s*\[')
_NEW_START = re.compile(rb'\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\[')
_NEW_FIELDS = (
    re.compile(rb'"From"\s*:'),
    re.compile(rb'"Media Type"\s*:'),
    re.compile(rb'"Created"\s*:\s*"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"'),
    re.compile(rb'"(?:IsSender|Created\(microseconds\))"\s*:'),
)
_CREATED = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC\Z")
#: Keys whose presence marks a chat entry; snap entries have none of them.
_CHAT_KEYS = ("Content", "Text", "Media IDs", "IsSaved")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_MEDIA_FILE = re.compile(r"\d{4}-\d\d-\d\d_(?P<id>.+)\.[A-Za-z0-9]+\Z")
_MEDIA_SEPARATOR = " | "


def _pick(path: list[Any]) -> bool:
    return len(path) == 2


def _sn_id(username: str) -> str:
    return handle_id(CHANNEL, username)


class SnapchatParser:
    name = "snapchat"
    version = "1.0.0"
    format = "snapchat"

    def detect(self, probe: Probe) -> bool:
        head = json_head(probe.head)
        if _OLD_START.match(head):
            return True
        return bool(_NEW_START.match(head)) and all(p.search(head) for p in _NEW_FIELDS)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        survey = _survey(source)
        reader = _Reader(source, survey)
        yield from reader.records()
        yield from reader.notes()


@dataclass
class _Survey:
    """What a first pass learns: who is in each conversation, who the account holder is."""

    members: dict[str, set[str]] = field(default_factory=dict)
    holders: set[str] = field(default_factory=set)
    entries: int = 0
    chat_entries: int = 0
    old_sections: set[str] = field(default_factory=set)

    @property
    def snaps_only(self) -> bool:
        """A file whose entries never carry chat fields is snap history, whatever its name."""
        return self.entries > 0 and self.chat_entries == 0


def _survey(source: SourceFile) -> _Survey:
    survey = _Survey()
    with opened(source) as stream:
        document = JsonStream(stream, source.name)
        for path, entry in document.values(_pick):
            if not isinstance(entry, dict):
                continue
            key = str(path[0])
            survey.entries += 1
            survey.chat_entries += any(k in entry for k in _CHAT_KEYS)
            sender = entry.get("From")
            if key in _OLD_SECTIONS:
                survey.old_sections.add(key)
            elif isinstance(sender, str) and sender:
                survey.members.setdefault(key, set()).add(sender)
                if entry.get("IsSender") is True:
                    survey.holders.add(sender)
    if document.root != "start_map":
        raise DamagedInput(f"{source.name}: not a Snapchat history (the JSON is not an object)")
    return survey


def _created_clock(value: Any) -> WallClock | None:
    if not isinstance(value, str):
        return None
    match = _CREATED.match(value)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return WallClock(text=value, instant=stamp)


def _number_clock(value: Any) -> WallClock | None:
    """``Created(microseconds)``: despite the name, exports seen hold milliseconds."""
    text = text_of(value)
    if text is None or not is_digits(text):
        return None
    digits = len(text)
    per_second = 1_000_000 if digits >= 15 else 1000 if digits >= 12 else 1
    return epoch_clock(text, per_second, flags=("time_from_created_number",))


def _kind_of(media_type: Any) -> Kind:
    if isinstance(media_type, str) and media_type.upper().startswith("STATUS"):
        return "system"
    return "message"


class _Reader:
    def __init__(self, source: SourceFile, survey: _Survey) -> None:
        self.source = source
        self.survey = survey
        self.siblings = source.siblings
        self._media: dict[str, str | None] | None = None
        self._participants: dict[str, tuple[str, ...]] = {
            key: tuple(sorted(_sn_id(m) for m in members))
            for key, members in survey.members.items()
        }
        self.no_time = Tally("snapchat_entries_without_time",
                             "Entries with no usable Created time")
        self.unreadable = Tally("snapchat_unreadable_entries",
                                "Entries that are not chat or snap objects")
        self.media_total = 0
        self.media_found = 0

    def records(self) -> Iterator[EventRecord]:
        with opened(self.source) as stream:
            for path, entry in JsonStream(stream, self.source.name).values(_pick):
                key, where = str(path[0]), json_path(path)
                if not isinstance(entry, dict) or not isinstance(path[1], int):
                    self.unreadable.add(where)
                    continue
                record = self._record(key, entry, where)
                if record is not None:
                    yield record

    def _record(self, key: str, entry: dict[str, Any], where: str) -> EventRecord | None:
        defects: list[str] = []
        clock = self._clock(entry, defects)
        if clock is None:
            self.no_time.add(where)
            return None
        record = EventRecord(kind=_kind_of(entry.get("Media Type")), time=clock,
                             time_basis="sent", channel=CHANNEL,
                             locator=Locator(json_path=where))
        section = _OLD_SECTIONS.get(key)
        if section is not None:
            self._old_entry(record, section, entry, defects)
        else:
            self._new_entry(record, key, entry, defects)
        text_field = "Text" if "Text" in entry else "Content"
        record.text = self._text(entry.get(text_field), defects)
        record.flags, record.extra = self._details(entry, record.text, section)
        record.attachments = self._attachments(entry.get("Media IDs"), defects)
        record.defects = tuple(defects)
        return record

    def _clock(self, entry: dict[str, Any], defects: list[str]) -> WallClock | None:
        created = entry.get("Created")
        clock = _created_clock(created)
        if clock is not None:
            return clock
        defects.append("missing_time" if created is None else "unparseable_time")
        return _number_clock(entry.get("Created(microseconds)"))

    def _old_entry(self, record: EventRecord, section: _OldSection, entry: dict[str, Any],
                   defects: list[str]) -> None:
        """Older shape: the section says the direction; From or To names the other person."""
        record.direction = section.direction
        other_field = "From" if section.direction == "incoming" else "To"
        other = entry.get(other_field)
        if not isinstance(other, str) or not other:
            defects.append(f"missing_{other_field.lower()}")
            return
        other_id = _sn_id(other)
        record.conversation = other
        record.participants = (other_id,)
        if section.direction == "incoming":
            record.sender, record.sender_id = other, other_id
        else:
            record.recipients = (other_id,)

    def _new_entry(self, record: EventRecord, key: str, entry: dict[str, Any],
                   defects: list[str]) -> None:
        record.conversation = key
        record.participants = self._participants.get(key, ())
        sender = entry.get("From")
        if isinstance(sender, str) and sender:
            record.sender, record.sender_id = sender, _sn_id(sender)
        else:
            defects.append("missing_from")
        record.recipients = tuple(p for p in record.participants if p != record.sender_id)
        is_sender = entry.get("IsSender")
        direction: Direction = "unknown"
        if is_sender is True:
            direction = "outgoing"
        elif is_sender is False:
            direction = "incoming"
        elif is_sender is not None:
            defects.append("unreadable_is_sender")
        record.direction = direction

    def _text(self, value: Any, defects: list[str]) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            defects.append("text_not_a_string")
            return None
        return value

    def _details(self, entry: dict[str, Any], text: str | None,
                 section: _OldSection | None) -> tuple[tuple[str, ...], dict[str, str]]:
        flags: list[str] = []
        extra: dict[str, str] = {}
        snap = section.snap if section is not None else self.survey.snaps_only
        if snap:
            flags.append("snap")
        if entry.get("IsSaved") is True or (section is not None and section.saved):
            flags.append("saved")
        media_type = entry.get("Media Type")
        if isinstance(media_type, str):
            extra["media_type"] = media_type
        title = entry.get("Conversation Title")
        if isinstance(title, str) and title:
            extra["conversation_title"] = title
        number = text_of(entry.get("Created(microseconds)"))
        if number is not None:
            extra["created_number"] = number
        if text is not None and _ENTITY.search(text):
            # Exports write some characters as HTML entities (&#39;): the text stays
            # as written and a readable copy is kept beside it.
            flags.append("html_entities")
            extra["text_unescaped"] = html.unescape(text)
        return tuple(flags), extra

    def _attachments(self, value: Any, defects: list[str]) -> tuple[AttachmentRef, ...]:
        if value is None or value == "":
            return ()
        if not isinstance(value, str):
            defects.append("unreadable_media_ids")
            return ()
        found = []
        for media_id in value.split(_MEDIA_SEPARATOR):
            media_id = media_id.strip()
            if not media_id:
                continue
            self.media_total += 1
            sha = self._media_sha(media_id)
            self.media_found += sha is not None
            found.append(AttachmentRef(name=media_id, sha256=sha))
        return tuple(found)

    def _media_sha(self, media_id: str) -> str | None:
        """chat_media/ files are named ``<date>_<media id>.<ext>``: found by their id."""
        if self._media is None:
            self._media = _media_index(self.siblings)
        path = self._media.get(media_id)
        return self.siblings.get(path) if path else None

    def notes(self) -> Iterator[FileNote]:
        for tally in (self.no_time, self.unreadable):
            note = tally.note()
            if note is not None:
                yield note
        survey = self.survey
        if survey.old_sections:
            yield FileNote("snapchat_old_layout", "Older layout: entries filed under "
                           f"{', '.join(sorted(survey.old_sections))}; the section gives the "
                           "direction and From/To the other person.")
        if len(survey.holders) == 1:
            holder = next(iter(survey.holders))
            yield FileNote("snapchat_account_holder",
                           f"Entries marked IsSender come from {holder!r}, the account holder.")
        elif len(survey.holders) > 1:
            yield FileNote("snapchat_account_holder_unclear",
                           "Entries marked IsSender name more than one sender: "
                           f"{', '.join(sorted(survey.holders))}.")
        if self.media_total:
            yield FileNote("snapchat_media_linked",
                           f"Media ids: {self.media_total}; files delivered in chat_media and "
                           f"linked: {self.media_found}.")
        if survey.snaps_only or any(_OLD_SECTIONS[s].snap for s in survey.old_sections):
            yield FileNote("snapchat_snaps_without_content",
                           "Snap history lists when snaps were sent or received, never what "
                           "they showed.")
        yield FileNote("snapchat_saved_only",
                       "Snapchat keeps only chats someone saved or that had not yet expired "
                       "when the data was requested; unsaved messages and viewed snaps are "
                       "absent, so absence proves nothing.")


def _media_index(siblings: Mapping[str, str]) -> dict[str, str | None]:
    """Media id -> delivered path; an id found under two paths is not guessed."""
    index: dict[str, str | None] = {}
    for path in siblings:
        match = _MEDIA_FILE.match(posixpath.basename(path))
        if match is None:
            continue
        media_id = match.group("id")
        index[media_id] = None if media_id in index else path
    return index


PARSER = SnapchatParser()
