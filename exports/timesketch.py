"""The timeline as Timesketch-importable JSONL: one event per line.

Timesketch needs ``message``, ``datetime`` (ISO 8601) and ``timestamp_desc``;
``timestamp`` (microseconds since the epoch) saves it parsing the date. Every
other field is Conduct's own, so an analyst can filter on exhibit, channel or
sender and still find the event in the original by its locator.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

#: What the event's time means, in Timesketch's words.
TIMESTAMP_DESC = {
    "sent": "Message Sent",
    "received": "Message Received",
    "call_started": "Call Started",
    "screenshot_taken": "Screenshot Taken",
    "photo_taken": "Photo Taken",
    "file_modified": "File Modified",
    "captured": "Page Captured",
    "reported": "Reported",
}
_EXCERPT = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_OWN_FIELDS = ("kind", "channel", "sender", "sender_id", "sender_person", "sender_role",
               "recipients", "direction", "direction_basis", "text", "subject", "attachments",
               "exhibit", "source_sha256", "locator", "parser", "local_time", "time_zone",
               "time_basis", "precision", "time_flags", "flags", "defects")


def excerpt(event: dict[str, Any], size: int = _EXCERPT) -> str:
    text = " ".join((event["subject"] or event["text"] or "").split())
    return text if len(text) <= size else text[: size - 1] + "…"


def jsonl_line(event: dict[str, Any]) -> str:
    moment = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).astimezone(UTC)
    who = event["sender_person"] or event["sender"] or event["sender_id"] or "(unknown sender)"
    micros = (moment - _EPOCH) // _MICROSECOND
    said = excerpt(event) or f"({event['kind']})"
    line: dict[str, Any] = {
        "message": f"{who}: {said}",
        "datetime": moment.isoformat(),
        "timestamp": micros,
        "timestamp_desc": TIMESTAMP_DESC.get(event["time_basis"], event["time_basis"]),
        "data_type": f"conduct:{event['kind']}",
        "event_id": event["id"],
    }
    line.update((key, event[key]) for key in _OWN_FIELDS)
    return json.dumps(line, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"

