"""Google Chat Takeout: ``Google Chat/Groups/<DM|Space> <id>/messages.json``.

One file per conversation, ``{"messages": [...]}``, each message naming its
creator by display name and e-mail address (a stable identity). Times are
English text such as ``Tuesday, March 12, 2024 at 10:15:03 PM UTC``; the zone
word decides whether the time is an instant or a wall clock. The account
holder's own address is in ``Users/User <id>/user_info.json``, not here, so
direction is left unknown. The conversation's members are in ``group_info.json``
beside it and are read when delivered, so members who never wrote are
participants too. Legacy Hangouts.json is parsers.hangouts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.identifiers import email_id
from parsers.records import (
    AttachmentRef,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    Precision,
    WallClock,
)
from parsers.streamed_json import JsonStream, Tally, compact, json_head, opened

CHANNEL = "google_chat"
_START = re.compile(rb'\{\s*"messages"\s*:\s*\[')
_FIELDS = (re.compile(rb'"creator"\s*:\s*\{'), re.compile(rb'"created_date"\s*:\s*"'))

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_CREATED = re.compile(
    r"(?:(?P<weekday>" + "|".join(_WEEKDAYS) + r"),\s)?"
    r"(?P<month>" + "|".join(_MONTHS) + r")\s(?P<day>\d{1,2}),\s(?P<year>\d{4})"
    r"(?:\sat\s|,\s)(?P<hour>\d{1,2}):(?P<minute>\d\d)(?::(?P<second>\d\d))?"
    r"(?:[\s\u202f\u00a0](?P<ampm>[AaPp]\.?[Mm]\.?))?"
    r"(?:\s(?P<zone>\S+))?\Z"
)
_UTC_WORDS = ("UTC", "GMT", "UT", "Z")
_OFFSET = re.compile(r"(?:UTC|GMT)?(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d\d))?\Z")
#: Abbreviations Google writes for English locales, kept to those with one meaning
#: (CST and IST name several zones and are treated as unknown).
_ABBREVIATIONS = {
    "BST": 60, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180, "SAST": 120, "EST": -300, "EDT": -240, "CDT": -300, "MST": -420,
    "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
    "JST": 540, "KST": 540, "AWST": 480, "ACST": 570, "ACDT": 630, "AEST": 600,
    "AEDT": 660, "NZST": 720, "NZDT": 780,
}


def parse_created(text: str) -> tuple[WallClock, list[str]] | None:
    """A created_date as a clock, with defects (a weekday that does not match the date)."""
    match = _CREATED.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    hour = int(parts["hour"])
    if parts["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if parts["ampm"][0] in "Pp" else 0)
    try:
        stamp = datetime(  # noqa: DTZ001 - the zone word is applied below, or stays unknown
            int(parts["year"]), _MONTHS.index(parts["month"]) + 1, int(parts["day"]),
            hour, int(parts["minute"]), int(parts["second"] or 0))
    except ValueError:
        return None
    defects = []
    if parts["weekday"] and _WEEKDAYS.index(parts["weekday"]) != stamp.weekday():
        defects.append("weekday_does_not_match_date")
    precision: Precision = "second" if parts["second"] else "minute"
    return _zoned(text, stamp, parts["zone"], precision), defects


def _zoned(text: str, stamp: datetime, zone: str | None, precision: Precision) -> WallClock:
    if zone is None:
        return WallClock(text=text, local=stamp, precision=precision,
                         flags=("zone_text_missing",))
    minutes: int | None = None
    flags: tuple[str, ...] = ()
    if zone in _UTC_WORDS:
        minutes = 0
    elif (offset := _OFFSET.match(zone)) is not None:
        minutes = int(offset["hours"]) * 60 + int(offset["minutes"] or 0)
        minutes = -minutes if offset["sign"] == "-" else minutes
    elif zone in _ABBREVIATIONS:
        minutes, flags = _ABBREVIATIONS[zone], ("zone_from_abbreviation",)
    if minutes is None or abs(minutes) > 14 * 60:
        return WallClock(text=text, local=stamp, precision=precision,
                         flags=("zone_text_unknown",))
    aware = stamp.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return WallClock(text=text, instant=aware.astimezone(UTC), precision=precision, flags=flags)


def _pick(path: list[Any]) -> bool:
    return len(path) == 2 and path[0] == "messages"


class GoogleChatParser:
    name = "google_chat"
    version = "1.0.0"
    format = "google_chat"

    def detect(self, probe: Probe) -> bool:
        head = json_head(probe.head)
        return bool(_START.match(head)) and all(p.search(head) for p in _FIELDS)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        creators = _creators(source)
        members, note = _group_members(source)
        reader = _Reader(source, tuple(sorted(set(creators) | set(members))))
        yield from reader.records()
        yield from reader.notes()
        if note is not None:
            yield note


#: group_info.json is a name and a member list: anything much larger is not one.
_GROUP_INFO_LIMIT = 4 << 20


def _group_members(source: SourceFile) -> tuple[tuple[str, ...], FileNote | None]:
    raw = source.read_sibling("group_info.json", _GROUP_INFO_LIMIT)
    if raw is None:
        return (), None
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        return (), FileNote("google_chat_group_info_unreadable",
                            "group_info.json beside this file is not readable JSON; it is "
                            "stored, and participants are those who wrote.")
    members = info.get("members") if isinstance(info, dict) else None
    found = tuple(dict.fromkeys(
        address for member in (members if isinstance(members, list) else ())
        if isinstance(member, dict) and isinstance(member.get("email"), str)
        and (address := email_id(member["email"])) is not None))
    name = info.get("name") if isinstance(info, dict) else None
    label = f" ({name!r})" if isinstance(name, str) and name else ""
    return found, FileNote("google_chat_members_from_group_info",
                           f"Members of the conversation{label} read from group_info.json "
                           f"beside this file: {', '.join(found) or 'none listed'}.")


def _creator_email(path: list[Any]) -> bool:
    return (len(path) == 4 and path[0] == "messages" and path[2] == "creator"
            and path[3] == "email")


def _creators(source: SourceFile) -> tuple[str, ...]:
    """First pass: the addresses of everyone who wrote in this conversation.

    Only the creators' address strings are picked, so no message is built twice.
    """
    found: set[str] = set()
    with opened(source) as stream:
        document = JsonStream(stream, source.name)
        for _path, email in document.values(_creator_email):
            address = email_id(email) if isinstance(email, str) else None
            if address is not None:
                found.add(address)
    if document.root != "start_map":
        raise DamagedInput(f"{source.name}: not a Google Chat messages file")
    return tuple(sorted(found))


class _Reader:
    def __init__(self, source: SourceFile, participants: tuple[str, ...]) -> None:
        self.source = source
        self.participants = participants
        self.siblings = source.siblings
        self.no_time = Tally("google_chat_messages_without_time",
                             "Messages with no readable created_date")
        self.unreadable = Tally("google_chat_unreadable_entries",
                                "Entries that are not message objects")
        self.zones: set[str] = set()

    def records(self) -> Iterator[EventRecord]:
        with opened(self.source) as stream:
            for path, message in JsonStream(stream, self.source.name).values(_pick):
                where = f"messages[{path[1]}]"
                if not isinstance(message, dict):
                    self.unreadable.add(where)
                    continue
                record = self._record(message, where)
                if record is not None:
                    yield record

    def _record(self, message: dict[str, Any], where: str) -> EventRecord | None:
        defects: list[str] = []
        created = message.get("created_date")
        parsed = parse_created(created) if isinstance(created, str) else None
        if parsed is None:
            self.no_time.add(where)
            return None
        clock, time_defects = parsed
        defects.extend(time_defects)
        if "zone_text_unknown" in clock.flags:
            self.zones.add(clock.text.rsplit(" ", 1)[-1])
        message_id = message.get("message_id")
        record = EventRecord(
            kind="message", time=clock, time_basis="sent", channel=CHANNEL,
            locator=Locator(json_path=where,
                            message_id=message_id if isinstance(message_id, str) else None),
            participants=self.participants,
        )
        self._creator(record, message.get("creator"), defects)
        text = message.get("text")
        if isinstance(text, str):
            record.text = text or None
        elif text is not None:
            defects.append("text_not_a_string")
        record.attachments = self._files(message.get("attached_files"), defects)
        record.flags, record.extra = _details(message, dict(record.extra))
        record.defects = tuple(defects)
        return record

    def _creator(self, record: EventRecord, creator: Any, defects: list[str]) -> None:
        if not isinstance(creator, dict):
            defects.append("missing_creator")
            return
        name, email = creator.get("name"), creator.get("email")
        record.sender = name if isinstance(name, str) and name else None
        record.sender_id = email_id(email) if isinstance(email, str) else None
        if record.sender_id is None:
            defects.append("missing_creator_email")
        record.recipients = tuple(p for p in self.participants if p != record.sender_id)
        user_type = creator.get("user_type")
        extra: dict[str, str] = {}
        if isinstance(email, str) and email and record.sender_id != email:
            extra["creator_email"] = email
        if isinstance(user_type, str) and user_type != "Human":
            extra["creator_user_type"] = user_type
        record.extra = extra

    def _files(self, files: Any, defects: list[str]) -> tuple[AttachmentRef, ...]:
        if files is None:
            return ()
        if not isinstance(files, list):
            defects.append("attached_files_not_a_list")
            return ()
        found = []
        for item in files:
            if not isinstance(item, dict):
                defects.append("unreadable_attached_file")
                continue
            exported, original = item.get("export_name"), item.get("original_name")
            name = exported if isinstance(exported, str) and exported else original
            if not isinstance(name, str) or not name:
                defects.append("unreadable_attached_file")
                continue
            # Takeout writes each file beside messages.json under its export_name.
            found.append(AttachmentRef(name=name, sha256=self.siblings.get(name)))
        return tuple(found)

    def notes(self) -> Iterator[FileNote]:
        for tally in (self.no_time, self.unreadable):
            note = tally.note()
            if note is not None:
                yield note
        if self.zones:
            yield FileNote("google_chat_zone_unknown",
                           f"Zone words not understood ({', '.join(sorted(self.zones))}): those "
                           "times are read as wall-clock times in the case's zone.")
        yield FileNote("google_chat_direction_unknown",
                       "The account holder's address is in Users/User <id>/user_info.json, not "
                       "in this file: directions are left unknown.")


def _details(message: dict[str, Any],
             extra: dict[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    flags: list[str] = []
    updated = message.get("updated_date")
    if isinstance(updated, str) and updated:
        flags.append("edited")
        extra["updated_date"] = updated
    for key in ("topic_id",):
        value = message.get(key)
        if isinstance(value, str) and value:
            extra[key] = value
    for key in ("annotations", "quoted_message_metadata", "reactions"):
        value = message.get(key)
        if value:
            extra[key] = compact(value)
    files = message.get("attached_files")
    if isinstance(files, list):
        originals = [f.get("original_name") for f in files if isinstance(f, dict)]
        if any(isinstance(o, str) for o in originals):
            extra["attached_original_names"] = compact(originals)
    return tuple(flags), extra


PARSER = GoogleChatParser()
