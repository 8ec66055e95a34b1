"""Small display helpers for templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from evidence_store.localtime import zone
from evidence_store.timeline import utc_z


def size(value: int | None) -> str:
    if value is None:
        return ""
    amount = float(value)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{int(amount)} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} bytes"


def utc(value: datetime | str | None) -> str:
    """An event's time keeps its stored precision; a record's time is shown to the second."""
    if value is None:
        return ""
    text = utc_z(value.replace(microsecond=0)) if isinstance(value, datetime) else value
    return text.replace("T", " ").replace("Z", " UTC")


def local(value: datetime | None, zone_name: str) -> str:
    if value is None:
        return ""
    return value.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M:%S %Z")


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def short_sha(value: str | None) -> str:
    return (value or "")[:12]


FILTERS: dict[str, Callable[..., str]] = {
    "size": size, "utc": utc, "local": local, "pretty_json": pretty_json,
    "short_sha": short_sha,
}
