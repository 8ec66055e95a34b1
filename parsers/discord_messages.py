"""Discord data package messages: ``messages/c<channel id>/messages.json``.

The package holds only the messages the account holder sent ("folders for each
channel you've sent messages in"), so every record is outgoing, from the account
holder, and the other side of a conversation is never here. Who the channel
was with is in ``channel.json`` beside this file, which parsers cannot read
(siblings give hashes, not contents): the channel id is taken from attachment
URLs when there are any. The older CSV form of the same file is read by
parsers.discord_messages_csv, which shares the record building below.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
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
        self.conversation = ("discord:c" + next(iter(channels))) if len(channels) == 1 else None
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
            sender=ACCOUNT_HOLDER, direction="outgoing", text=text,
            # The package's CDN links are not delivered files: nothing to hash.
            attachments=tuple(AttachmentRef(name=url) for url in urls),
            defects=tuple(defects), conversation=self.conversation,
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
        if self.conversation is not None:
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
                       "proves nothing. Sender ids need account/user.json.")


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
