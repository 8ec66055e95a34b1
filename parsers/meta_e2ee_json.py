"""End-to-end-encrypted Messenger chats, from the separate secure-storage download.

The regular "Download your information" archive leaves e2ee threads out
(field notes 2.4). Their own download writes one camelCase JSON file per thread
(``<Name>_<n>.json``): ``participants`` (names), ``threadName`` and
``messages`` of ``senderName``, ``text``, ``timestamp`` (epoch ms),
``isUnsent``, ``media``, ``reactions`` and ``type``, oldest first. No official
specification exists; the field names come from public third-party fixtures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import ijson

from parsers import meta_common as common
from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, EventRecord, FileNote, Locator, ParsedItem

CHANNEL = common.FACEBOOK
WHOLE_FILE_LIMIT = 64 * 1024 * 1024

_THREAD_NAME = re.compile(rb'"threadName"\s*:')
_SENDER_NAME = re.compile(rb'"senderName"\s*:')
_IS_UNSENT = re.compile(rb'"isUnsent"\s*:')
_MESSAGES = re.compile(rb'"messages"\s*:\s*\[')
_PARTICIPANTS = re.compile(rb'"participants"\s*:\s*\[')
# The regular download's keys: such a file is meta_json's.
_REGULAR = re.compile(rb'"(?:sender_name|timestamp_ms|thread_path)"\s*:')

_KNOWN_KEYS = frozenset({"senderName", "text", "timestamp", "isUnsent", "media", "reactions",
                         "type"})
#: What Meta writes in place of a media path it could not fetch (reported).
_MEDIA_FAILED = "Failed to download media"


class MetaE2eeJsonParser:
    name = "meta_e2ee_json"
    version = "1.0.0"
    format = "meta_e2ee_json"

    def detect(self, probe: Probe) -> bool:
        """threadName and senderName (or an empty thread's participants) in a JSON object."""
        head = probe.head.removeprefix(common.BOM).lstrip()
        if not head.startswith(b"{") or not _MESSAGES.search(head) or _REGULAR.search(head):
            return False
        if _THREAD_NAME.search(head):
            return bool(_SENDER_NAME.search(head) or _PARTICIPANTS.search(head))
        # threadName may come after a long messages list: the message keys decide.
        return bool(_SENDER_NAME.search(head) and _IS_UNSENT.search(head))

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        too_big = source.size > WHOLE_FILE_LIMIT
        document = None if too_big else common.load_whole(source, WHOLE_FILE_LIMIT)
        if document is None:
            yield from _streamed(source)
            return
        data, bad_utf8 = document
        if not isinstance(data, dict):
            raise DamagedInput(f"{source.name}: the JSON is not an object, so not an e2ee "
                               "Messenger thread")
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise DamagedInput(f"{source.name}: 'messages' is not a list")
        thread = _Thread(source, data.get("threadName"), data.get("participants"))
        yield from thread.opening_notes(len(messages))
        if bad_utf8 is not None:
            thread.flag_invalid_utf8 = True
            yield common.invalid_utf8_note(bad_utf8)
        for index, message in enumerate(messages):
            built = thread.record(index, message)
            if built is not None:
                yield built
        yield from thread.closing_notes()


def _streamed(source: SourceFile) -> Iterator[ParsedItem]:
    """Large or broken files: threadName and participants come before the messages."""
    name: Any = None
    names: list[str] = []
    clean: common.CleanUtf8 | None = None
    try:
        with source.open() as stream:
            clean = common.CleanUtf8(stream)
            for prefix, event, value in ijson.parse(clean):
                if prefix == "threadName" and event == "string":
                    name = value
                elif prefix == "participants.item" and event == "string":
                    names.append(value)
    except (ijson.JSONError, ValueError, RecursionError):
        pass  # the second pass reports where the damage is
    except OSError as exc:
        raise DamagedInput(f"{source.name}: unreadable: {exc}") from exc
    thread = _Thread(source, name, names)
    yield from thread.opening_notes(None)
    if clean is not None and clean.first_bad is not None:
        thread.flag_invalid_utf8 = True
        yield common.invalid_utf8_note(clean.first_bad)
    yield from common.streamed_records(source, thread)
    yield from thread.closing_notes()


class _Thread:
    def __init__(self, source: SourceFile, name: Any, participants: Any) -> None:
        self.moji = common.Mojibake()
        fix = self.moji.fix
        self.name = fix(name) if isinstance(name, str) else None
        self.names = common.names_of(participants, fix) or []
        self.moji.discard()  # header repairs are counted in the note, not on a record
        self.base = {"participants": json.dumps(self.names, ensure_ascii=False)}
        if self.name is not None:
            self.base["thread_name"] = self.name
        self.media = common.Media(source.siblings)
        self.untimed: list[int] = []
        self.not_objects: list[int] = []
        self.unknown_keys: dict[str, int] = {}
        self.unavailable = 0
        self.flag_invalid_utf8 = False

    def opening_notes(self, messages: int | None) -> Iterator[FileNote]:
        count = f"{messages} message(s)" if messages is not None else "messages"
        people = ", ".join(self.names) if self.names else "none listed"
        yield FileNote(
            "meta_e2ee_thread",
            f"End-to-end-encrypted Messenger thread {self.name or '(no threadName)'}: {count}, "
            f"oldest first; participants by display name: {people}. This download holds only "
            "e2ee chats: the regular download holds the others.")
        yield common.limits_note(CHANNEL)

    def closing_notes(self) -> Iterator[FileNote]:
        yield from self.moji.notes()
        yield from self.media.notes()
        if self.unavailable:
            yield FileNote("media_unavailable",
                           f"{self.unavailable} media item(s) are written as "
                           f"{_MEDIA_FAILED!r}: Meta could not include them in the download.")
        yield from common.skipped_notes("timestamp", self.untimed, self.not_objects,
                                        self.unknown_keys)

    def record(self, index: int, message: Any) -> EventRecord | None:
        if not isinstance(message, dict):
            self.not_objects.append(index)
            return None
        defects: list[str] = []
        clock = common.clock_from_ms(message.get("timestamp"), defects)
        if clock is None:
            self.untimed.append(index)
            return None
        fix = self.moji.fix
        for key in message:
            if key not in _KNOWN_KEYS:
                self.unknown_keys[key] = self.unknown_keys.get(key, 0) + 1
        sender = message.get("senderName")
        if isinstance(sender, str):
            sender = fix(sender)
        else:
            defects.append("no_sender" if sender is None else "sender_not_text")
            sender = None
        text = message.get("text")
        if isinstance(text, str):
            text = fix(text)
        else:
            if text is not None:
                defects.append("content_not_text")
            text = None
        flags: list[str] = []
        extra: dict[str, str] = {}
        if message.get("isUnsent") is True:
            flags.append("unsent")
        mtype = message.get("type")
        if isinstance(mtype, str) and mtype != "text":
            extra["type"] = mtype
            if mtype == "placeholder" and "unsent" not in flags:
                flags.append("placeholder")
        info = common.classify_text(text, sender)
        kind = info.kind
        if info is not common.PLAIN:
            flags.extend(f for f in info.flags if f not in flags)
            extra["text_cue"] = info.cue or ""
        attachments = self._media(message.get("media"), flags, defects)
        reactions = common.reactions_json(message.get("reactions"), fix, defects)
        if reactions is not None:
            extra["reactions"] = reactions
        self.moji.mark(extra, self.moji.take())
        if self.flag_invalid_utf8 and "\ufffd" in f"{sender}{text}":
            defects.append("invalid_utf8")
        return EventRecord(
            kind, clock, "sent", CHANNEL, Locator(json_path=f"messages[{index}]"),
            sender=sender, text=text, attachments=attachments, flags=tuple(flags),
            defects=tuple(defects), extra={**self.base, **extra}, conversation=self.name,
        )

    def _media(self, media: Any, flags: list[str], defects: list[str]) -> tuple[AttachmentRef, ...]:
        if media is None:
            return ()
        if not isinstance(media, list):
            defects.append("media_not_list")
            return ()
        found = []
        for item in media:
            uri = item.get("uri") if isinstance(item, dict) else None
            if not isinstance(uri, str) or not uri:
                if "media_without_uri" not in defects:
                    defects.append("media_without_uri")
                continue
            if uri == _MEDIA_FAILED:
                # Not a path: the message carried media that the download lacks.
                self.unavailable += 1
                if "media_unavailable" not in flags:
                    flags.append("media_unavailable")
                continue
            found.append(self.media.ref(self.moji.fix(uri), None, raw=uri))
        return tuple(found)


PARSER = MetaE2eeJsonParser()
