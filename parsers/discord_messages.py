"""Discord data package messages: ``messages/c<channel id>/messages.json``.

The package holds only the messages the account holder sent ("folders for each
channel you've sent messages in"), so every record is outgoing, from the account
holder, and the other side of a conversation is never here. Who the channel
was with is in ``channel.json`` beside this file (id, type, recipients' user
ids, name and server for server channels) and who the holder is in
``account/user.json``; both are read when they were delivered. Without them the
channel id is taken from attachment URLs when there are any. The older CSV form
of the same file is read by parsers.discord_messages_csv, which shares the
record building below.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
    Tally,
    iso_instant,
    json_head,
    opened,
    snowflake_clock,
    text_of,
)

CHANNEL = "discord"
ACCOUNT_HOLDER = "account holder"
#: Snowflake ids carry their creation time: milliseconds since this epoch, shifted 22 bits.
DISCORD_EPOCH_MS = 1_420_070_400_000
#: A Timestamp further than this from its id's own time is flagged.
_AGREEMENT_MS = 2000
_ATTACHMENT_CHANNEL = re.compile(r"/attachments/(\d{15,22})/\d{15,22}/")
_JSON_START = re.compile(rb'\[\s*\{\s*"(?:ID|Timestamp|Contents|Attachments)"\s*:')
_JSON_FIELDS = (
    re.compile(rb'"ID"\s*:\s*"?\d'),
    re.compile(rb'"Timestamp"\s*:\s*"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d'),
    re.compile(rb'"Contents"\s*:'),
)


#: Companion files larger than these are not read (channel.json is a few hundred
#: bytes; user.json holds the whole account profile).
_CHANNEL_LIMIT = 1 << 20
_USER_LIMIT = 32 << 20


@dataclass(frozen=True)
class ChannelInfo:
    """What channel.json (and account/user.json) beside a messages file say."""

    channel_id: str | None = None
    name: str | None = None
    server: str | None = None
    #: Everyone in a DM or group DM, the holder included, as discord: handles.
    members: tuple[str, ...] = ()
    holder: str | None = None
    problems: tuple[str, ...] = ()


def _sibling_json(source: SourceFile, name: str, limit: int) -> tuple[Any, str | None]:
    raw = source.read_sibling(name, limit)
    if raw is None:
        return None, None
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):
        return None, f"{name} beside this file is not readable JSON; it is stored, not used"


def channel_info(source: SourceFile) -> ChannelInfo:
    channel, problem = _sibling_json(source, "channel.json", _CHANNEL_LIMIT)
    user, user_problem = _sibling_json(source, "account/user.json", _USER_LIMIT)
    problems = tuple(p for p in (problem, user_problem) if p)
    holder_id = text_of(user.get("id")) if isinstance(user, dict) else None
    holder = handle_id(CHANNEL, holder_id) if holder_id else None
    if not isinstance(channel, dict):
        return ChannelInfo(holder=holder, problems=problems)
    recipients = channel.get("recipients")
    members = tuple(dict.fromkeys(
        handle_id(CHANNEL, member) for item in (recipients if isinstance(recipients, list) else ())
        if (member := text_of(item))))
    guild = channel.get("guild")
    return ChannelInfo(
        channel_id=text_of(channel.get("id")),
        name=channel.get("name") if isinstance(channel.get("name"), str) else None,
        server=(guild.get("name") if isinstance(guild, dict)
                and isinstance(guild.get("name"), str) else None),
        members=members, holder=holder, problems=problems,
    )


def message_time(message_id: str | None) -> WallClock | None:
    """The time a Discord id was made, for messages whose Timestamp is unusable."""
    return snowflake_clock(message_id, DISCORD_EPOCH_MS)


def attachment_urls(value: Any) -> list[str] | None:
    """The Attachments field: URLs separated by spaces; None when it is not text."""
    if value is None:
        return []
    if not isinstance(value, str):
        return None
    return value.split()


def channels_in(urls: Iterable[str]) -> Iterator[str]:
    for url in urls:
        match = _ATTACHMENT_CHANNEL.search(url)
        if match is not None:
            yield match.group(1)


class DiscordRecords:
    """Builds records for one messages file, JSON or CSV alike."""

    def __init__(self, source: SourceFile, channels: Counter[str]) -> None:
        self.source = source
        self.channels = channels
        self.info = channel_info(source)
        if self.info.channel_id is not None:
            self.conversation: str | None = "discord:c" + self.info.channel_id
        else:
            self.conversation = ("discord:c" + next(iter(channels))) if len(channels) == 1 else None
        holder = self.info.holder
        # Without user.json the holder is among the members but not known: a DM's
        # recipient cannot then be told apart from its sender.
        self.recipients = tuple(m for m in self.info.members if m != holder) if holder else ()
        self.no_time = Tally("discord_messages_without_time",
                             "Messages with neither a usable Timestamp nor a message id")
        self.unreadable = Tally("discord_unreadable_entries",
                                "Entries that are not message objects")
        self.count = 0

    def record(self, id_value: Any, timestamp: Any, contents: Any, attachments: Any,
               locator: Locator, defects: list[str]) -> EventRecord | None:
        message_id = text_of(id_value)
        if message_id is None:
            defects.append("missing_id" if id_value is None else "unreadable_id")
        locator.message_id = message_id
        clock = self._clock(timestamp, message_id, defects)
        if clock is None:
            self.no_time.add(locator.json_path or f"line {locator.line}")
            return None
        text: str | None = None
        if isinstance(contents, str):
            text = contents or None
        elif contents is not None:
            defects.append("contents_not_text")
        urls = attachment_urls(attachments)
        if urls is None:
            defects.append("attachments_not_text")
            urls = []
        self.count += 1
        return EventRecord(
            kind="message", time=clock, time_basis="sent", channel=CHANNEL, locator=locator,
            sender=ACCOUNT_HOLDER, sender_id=self.info.holder, recipients=self.recipients,
            direction="outgoing", text=text,
            # The package's CDN links are not delivered files: nothing to hash.
            attachments=tuple(AttachmentRef(name=url) for url in urls),
            defects=tuple(defects), conversation=self.conversation,
            participants=self.info.members,
        )

    def _clock(self, timestamp: Any, message_id: str | None,
               defects: list[str]) -> WallClock | None:
        from_id = message_time(message_id)
        if timestamp is None or timestamp == "":
            defects.append("missing_time")
            return from_id
        clock = iso_instant(timestamp) if isinstance(timestamp, str) else None
        if clock is None:
            defects.append("unparseable_time")
            return from_id
        if from_id is not None and clock.instant is not None and from_id.instant is not None:
            apart = abs((clock.instant - from_id.instant).total_seconds()) * 1000
            if apart > _AGREEMENT_MS:
                defects.append("time_differs_from_message_id")
        return clock

    def notes(self) -> Iterator[FileNote]:
        for tally in (self.no_time, self.unreadable):
            note = tally.note()
            if note is not None:
                yield note
        for problem in self.info.problems:
            yield FileNote("discord_companion_unreadable", problem)
        if self.info.channel_id is not None:
            described = ", ".join(filter(None, (
                f"named {self.info.name!r}" if self.info.name else None,
                f"on server {self.info.server!r}" if self.info.server else None,
                f"members {', '.join(self.info.members)}" if self.info.members else None)))
            yield FileNote("discord_channel_from_channel_json",
                           f"Channel {self.info.channel_id} read from channel.json beside "
                           f"this file{': ' + described if described else ''}.")
            if self.info.members and self.info.holder is None:
                yield FileNote("discord_holder_unknown",
                               "account/user.json was not delivered with this file, so the "
                               "holder's own id is not known: members are listed as "
                               "participants but no recipient is named.")
        elif self.conversation is not None:
            yield FileNote("discord_channel_from_attachments",
                           f"Channel {self.conversation[len('discord:c'):]} read from the "
                           "attachment links; the channel's name and members are in "
                           "channel.json beside this file, stored but not read here.")
        elif len(self.channels) > 1:
            yield FileNote("discord_several_channels",
                           "Attachment links point at several channels "
                           f"({', '.join(sorted(self.channels))}), so no conversation is "
                           "assumed; channel.json beside this file names the channel.")
        else:
            yield FileNote("discord_channel_unknown",
                           "No attachment link names the channel; channel.json beside this "
                           "file (stored, not read here) names it and its members.")
        yield FileNote("discord_own_messages_only",
                       "A Discord data package holds only the messages the account holder "
                       "sent: replies and other people's messages are not in it, so absence "
                       "proves nothing.")


def _pick(path: list[Any]) -> bool:
    return len(path) == 1


class DiscordMessagesParser:
    name = "discord_messages"
    version = "1.0.0"
    format = "discord"

    def detect(self, probe: Probe) -> bool:
        head = json_head(probe.head)
        return bool(_JSON_START.match(head)) and all(p.search(head) for p in _JSON_FIELDS)

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        builder = DiscordRecords(source, _channels(source))
        with opened(source) as stream:
            document = JsonStream(stream, source.name)
            for path, entry in document.values(_pick):
                where = f"[{path[0]}]"
                if not isinstance(entry, dict):
                    builder.unreadable.add(where)
                    continue
                record = builder.record(entry.get("ID"), entry.get("Timestamp"),
                                        entry.get("Contents"), entry.get("Attachments"),
                                        Locator(json_path=where), [])
                if record is not None:
                    yield record
        if document.root != "start_array":
            raise DamagedInput(f"{source.name}: not a Discord messages list")
        yield from builder.notes()


def _attachments_field(path: list[Any]) -> bool:
    return len(path) == 2 and path[1] == "Attachments"


def _channels(source: SourceFile) -> Counter[str]:
    """First pass: the channel ids the attachment links name (only that field is read)."""
    found: Counter[str] = Counter()
    with opened(source) as stream:
        for _path, value in JsonStream(stream, source.name).values(_attachments_field):
            found.update(channels_in(attachment_urls(value) or ()))
    return found


PARSER = DiscordMessagesParser()
