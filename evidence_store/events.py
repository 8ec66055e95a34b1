"""Deriving timeline events from parser records, and writing them in batches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from evidence_store.bulk import insert_events
from evidence_store.localtime import resolve
from parsers.records import AttachmentRef, EventRecord, Locator

BATCH = 5000

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=4096)
def _strings(items: tuple[str, ...]) -> str:
    # Flags and recipients repeat endlessly across a chat: encode each combination once.
    return _encode(list(items))


def _time_flags(precision: str, flags: tuple[str, ...]) -> str:
    if precision == "minute" and "minute_precision" not in flags:
        flags = (*flags, "minute_precision")
    elif precision == "day" and "day_precision" not in flags:
        flags = (*flags, "day_precision")
    return _strings(tuple(dict.fromkeys(flags)))


_LOCATOR_FIELDS = ("line", "line_end", "byte_offset", "byte_length", "json_path", "message_id",
                   "member")


def _locator(locator: Locator) -> str:
    # Hand-built because it runs once per event; strings still go through the encoder.
    parts = []
    for name in _LOCATOR_FIELDS:
        value = getattr(locator, name)
        if value is None:
            continue
        parts.append(f'"{name}":{value}' if type(value) is int else f'"{name}":{_encode(value)}')
    return "{" + ",".join(parts) + "}"


def _attachments(attachments: tuple[AttachmentRef, ...]) -> str:
    if not attachments:
        return "[]"
    return _encode([{"name": a.name, "sha256": a.sha256, "media_type": a.media_type}
                    for a in attachments])


NUL_SHOWN_AS = "\u2400"


def _without_nul(value: str | None, defects: list[str], field_name: str) -> str | None:
    """PostgreSQL text cannot hold U+0000; show it as ␀ (on both databases, so they
    agree) and say so on the event. The exact bytes stay in the original."""
    if value is None or "\x00" not in value:
        return value
    defects.append(f"nul_in_{field_name}_shown_as_u2400")
    return value.replace("\x00", NUL_SHOWN_AS)


def derive_row(record: EventRecord, *, case_id: int, exhibit_id: int, seq: int,
               zone_name: str, parser: str) -> tuple[Any, ...]:
    """One events row, in evidence_store.bulk.EVENT_COLUMNS order."""
    occurred_at, zone_used, flags = resolve(record.time, zone_name)
    text, subject, sender, local = record.text, record.subject, record.sender, record.time.text
    defects = list(record.defects)
    if "\x00" in f"{text}{subject}{sender}{local}":
        text = _without_nul(text, defects, "text")
        subject = _without_nul(subject, defects, "subject")
        sender = _without_nul(sender, defects, "sender")
        local = _without_nul(local, defects, "local_time") or ""
    return (
        case_id, exhibit_id, seq, record.kind, occurred_at.astimezone(UTC),
        local or None, zone_used, record.time_basis, record.time.precision,
        _time_flags(record.time.precision, flags), record.channel, sender,
        record.sender_id, _strings(tuple(record.recipients)), record.direction, text,
        subject, _attachments(record.attachments), _locator(record.locator), parser,
        _strings(tuple(record.flags)), _strings(tuple(defects)),
        _encode(dict(record.extra)) if record.extra else "{}",
    )


@dataclass
class EventWriter:
    """Buffers derived rows and inserts them BATCH at a time."""

    session: Session
    case_id: int
    exhibit_id: int
    zone_name: str
    parser: str
    count: int = 0
    _pending: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, record: EventRecord) -> None:
        self.count += 1
        self._pending.append(derive_row(
            record, case_id=self.case_id, exhibit_id=self.exhibit_id, seq=self.count,
            zone_name=self.zone_name, parser=self.parser,
        ))
        if len(self._pending) >= BATCH:
            self.flush()

    def add_all(self, records: Iterable[EventRecord]) -> None:
        for record in records:
            self.add(record)

    def flush(self) -> None:
        if self._pending:
            insert_events(self.session, self._pending)
            self._pending = []
