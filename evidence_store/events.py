"""Deriving timeline events from parser records, and writing them in batches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from evidence_store.localtime import resolve
from evidence_store.models import Event
from parsers.records import EventRecord

_EVENTS = Event.__table__

BATCH = 5000

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _time_flags(record: EventRecord, flags: tuple[str, ...]) -> list[str]:
    result = list(dict.fromkeys(flags))
    if record.time.precision == "minute" and "minute_precision" not in result:
        result.append("minute_precision")
    if record.time.precision == "day" and "day_precision" not in result:
        result.append("day_precision")
    return result


def derive_row(record: EventRecord, *, case_id: int, exhibit_id: int, seq: int,
               zone_name: str, parser: str) -> dict[str, Any]:
    occurred_at, zone_used, flags = resolve(record.time, zone_name)
    return {
        "case_id": case_id,
        "exhibit_id": exhibit_id,
        "seq": seq,
        "kind": record.kind,
        "occurred_at": occurred_at,
        "local_time": record.time.text or None,
        "time_zone": zone_used,
        "time_basis": record.time_basis,
        "precision": record.time.precision,
        "time_flags": _dumps(_time_flags(record, flags)),
        "channel": record.channel,
        "sender": record.sender,
        "sender_id": record.sender_id,
        "recipients": _dumps(list(record.recipients)),
        "direction": record.direction,
        "text": record.text,
        "subject": record.subject,
        "attachments": _dumps([
            {"name": a.name, "sha256": a.sha256, "media_type": a.media_type}
            for a in record.attachments
        ]),
        "locator": _dumps(record.locator.as_dict()),
        "parser": parser,
        "flags": _dumps(list(record.flags)),
        "defects": _dumps(list(record.defects)),
        "extra": _dumps(dict(record.extra)),
    }


@dataclass
class EventWriter:
    """Buffers derived rows and inserts them with executemany, BATCH at a time."""

    session: Session
    case_id: int
    exhibit_id: int
    zone_name: str
    parser: str
    count: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)

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
            self.session.execute(insert(_EVENTS), self._pending)  # type: ignore[arg-type]
            self._pending = []
