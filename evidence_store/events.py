"""Deriving timeline events from parser records, and writing them in batches."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from evidence_store.bulk import EventSink
from evidence_store.bulk import encode_json as _encode
from evidence_store.localtime import resolve_naive
from parsers.records import AttachmentRef, EventRecord, Locator

BATCH = 5000
#: Flush earlier when the batch's text passes this many characters (e-mail bodies are
#: large; two batches are alive at once, one queued and one being written).
BATCH_CHARS = 4_000_000



@lru_cache(maxsize=4096)
def _strings(items: tuple[str, ...]) -> str:
    # Flags and recipients repeat endlessly across a chat: encode each combination once.
    return _encode(list(items))


@lru_cache(maxsize=4096)
def _time_flags(precision: str, flags: tuple[str, ...]) -> str:
    if precision == "minute" and "minute_precision" not in flags:
        flags = (*flags, "minute_precision")
    elif precision == "day" and "day_precision" not in flags:
        flags = (*flags, "day_precision")
    return _strings(tuple(dict.fromkeys(flags)))


_NO_EXTRA: dict[str, str] = {}
_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def _locator(locator: Locator) -> str:
    # Hand-built because it runs once per event; strings still go through the encoder
    # unless they need no escaping at all. Line-based chats take the shortest path.
    line, line_end, offset, length = (locator.line, locator.line_end, locator.byte_offset,
                                      locator.byte_length)
    if (locator.json_path is None and locator.message_id is None and locator.member is None
            and type(line) is int and type(line_end) is int and type(offset) is int
            and type(length) is int):
        return (f'{{"line":{line},"line_end":{line_end},"byte_offset":{offset},'
                f'"byte_length":{length}}}')
    parts = []
    for name, value in (("line", line), ("line_end", line_end), ("byte_offset", offset),
                        ("byte_length", length), ("json_path", locator.json_path),
                        ("message_id", locator.message_id), ("member", locator.member)):
        if value is None:
            continue
        if not isinstance(value, str):
            parts.append(f'"{name}":{value}')
        elif _PLAIN.fullmatch(value):
            parts.append(f'"{name}":"{value}"')
        else:
            parts.append(f'"{name}":{_encode(value)}')
    return "{" + ",".join(parts) + "}"


def _attachments(attachments: tuple[AttachmentRef, ...]) -> str:
    if not attachments:
        return "[]"
    return _encode([{"name": a.name, "sha256": a.sha256, "media_type": a.media_type}
                    for a in attachments])


NUL_SHOWN_AS = "\u2400"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str | None, defects: list[str], field_name: str) -> str | None:
    """Databases cannot hold U+0000 (PostgreSQL) or lone surrogates (UTF-8 drivers).

    NUL is shown as ␀ and a lone surrogate (an undecodable byte kept by Python's
    surrogateescape) as U+FFFD, on both databases alike, and the event says so.
    The exact bytes stay in the original.
    """
    if value is None or not _UNSTORABLE.search(value):
        return value
    if "\x00" in value:
        defects.append(f"nul_in_{field_name}_shown_as_u2400")
        value = value.replace("\x00", NUL_SHOWN_AS)
    if _UNSTORABLE.search(value):
        defects.append(f"undecodable_in_{field_name}_shown_as_ufffd")
        value = _UNSTORABLE.sub("\ufffd", value)
    return value


def _aware(naive_utc: datetime) -> Any:
    return naive_utc.replace(tzinfo=UTC)


def derive_row(record: EventRecord, *, seq: int, zone_name: str,
               time_value: Callable[[datetime], Any] = _aware) -> tuple[Any, ...]:
    """One event's own columns, in evidence_store.bulk.ROW_COLUMNS order.

    ``occurred_at`` reaches ``time_value`` as a naive datetime in UTC.
    """
    clock = record.time
    occurred_at, zone_used, flags = resolve_naive(clock, zone_name)
    text, subject, sender, local = record.text, record.subject, record.sender, clock.text
    sender_id = record.sender_id
    defects = record.defects
    if _UNSTORABLE.search(f"{text}{subject}{sender}{local}{sender_id}"):
        found: list[str] = list(defects)
        text = _storable(text, found, "text")
        subject = _storable(subject, found, "subject")
        sender = _storable(sender, found, "sender")
        local = _storable(local, found, "local_time") or ""
        sender_id = _storable(sender_id, found, "sender_id")
        defects = tuple(found)
    # Empty lists are the common case; skipping the encoder for them is measurable.
    return (
        seq, record.kind, time_value(occurred_at),
        local or None, zone_used, record.time_basis, clock.precision,
        _time_flags(clock.precision, flags), record.channel, sender, sender_id,
        _strings(tuple(record.recipients)) if record.recipients else "[]", record.direction,
        text, subject, _attachments(record.attachments), _locator(record.locator),
        _strings(tuple(record.flags)) if record.flags else "[]",
        _strings(tuple(defects)) if defects else "[]",
        # A copy (a parser may reuse its dict), encoded with the whole batch (see
        # evidence_store.bulk): one C pass instead of one encoder call per event.
        dict(record.extra) if record.extra else _NO_EXTRA,
    )


@dataclass
class EventWriter:
    """Buffers derived rows and hands them to the database BATCH at a time.

    Writing overlaps with parsing (see evidence_store.bulk); call ``wait()``
    before using the session for anything else, and ``close()`` at the end.
    """

    session: Session
    case_id: int
    exhibit_id: int
    zone_name: str
    parser: str
    count: int = 0
    _pending: list[tuple[Any, ...]] = field(default_factory=list)
    _pending_chars: int = 0
    _sink: EventSink | None = None

    def add(self, record: EventRecord) -> None:
        sink = self._sink or self.sink()
        self.count += 1
        self._pending.append(derive_row(record, seq=self.count, zone_name=self.zone_name,
                                        time_value=sink.time_value))
        if record.text is not None:
            self._pending_chars += len(record.text)
        if len(self._pending) >= BATCH or self._pending_chars >= BATCH_CHARS:
            self.flush()

    def add_derived(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows derived elsewhere (collector.offload) with this writer's zone and time
        values, numbered on from ``count``, their extra column already JSON text."""
        sink = self.sink()
        self.flush()
        self.count += len(rows)
        sink.write(rows, extra_encoded=True)

    def sink(self) -> EventSink:
        if self._sink is None:
            self._sink = EventSink(self.session, (self.case_id, self.exhibit_id, self.parser))
        return self._sink

    def add_all(self, records: Iterable[EventRecord]) -> None:
        for record in records:
            self.add(record)

    def flush(self) -> None:
        if self._pending and self._sink is not None:
            self._sink.write(self._pending)
            self._pending = []
            self._pending_chars = 0

    def wait(self) -> None:
        if self._sink is not None:
            self._sink.wait()

    def close(self) -> None:
        """Write what is left and wait for it; errors from the database surface here."""
        if self._sink is not None:
            try:
                self.flush()
            finally:
                self._sink.close()
