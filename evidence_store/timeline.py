"""Reading the timeline: one chronological list across every source of a case."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.facts import facts_of_event
from evidence_store.models import Case, Event, Exhibit
from evidence_store.persons import Attribution, attribution_map

_NOBODY = Attribution("", "")

#: Column order of the CSV timeline, shared by `timeline --format csv` and exports.
COLUMNS = (
    "id", "kind", "occurred_at", "local_time", "time_zone", "time_basis", "precision",
    "time_flags", "channel", "sender", "sender_id", "sender_person", "sender_role",
    "recipients", "direction", "direction_basis", "text", "subject", "attachments", "exhibit",
    "source_sha256", "locator", "parser", "flags", "defects", "extra",
)
_JSON_COLUMNS = ("time_flags", "recipients", "attachments", "locator", "flags", "defects", "extra")


@dataclass(frozen=True, slots=True)
class TimelineFilter:
    start: datetime | None = None
    end: datetime | None = None
    channel: str | None = None


def utc_z(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def iter_events(session: Session, case: Case, filt: TimelineFilter | None = None
                ) -> Iterator[dict[str, Any]]:
    """Events in time order (file order breaks ties), as plain dicts of the JSON contract."""
    filt = filt or TimelineFilter()
    query = (
        select(Event, Exhibit.ref, Exhibit.sha256)
        .join(Exhibit, Exhibit.id == Event.exhibit_id)
        .where(Event.case_id == case.id)
    )
    if filt.start is not None:
        query = query.where(Event.occurred_at >= filt.start)
    if filt.end is not None:
        query = query.where(Event.occurred_at < filt.end)
    if filt.channel is not None:
        query = query.where(Event.channel == filt.channel)
    query = query.order_by(Event.occurred_at, Event.id).execution_options(yield_per=2000)
    people = attribution_map(session, case)
    for event, exhibit_ref, sha in session.execute(query):
        yield attribute(event_dict(event, exhibit_ref, sha), people)


def attribute(row: dict[str, Any], people: dict[str, Attribution]) -> dict[str, Any]:
    """Name the sender from the case's persons, and derive direction when the source
    did not state it: from the victim is outgoing, from anyone else known or to the
    victim is incoming. ``direction_basis`` says which it was."""
    row["direction_basis"] = "source" if row["direction"] != "unknown" else None
    if row["kind"] == "system":
        # A notice names a person but was not written by them.
        row["sender_person"] = row["sender_role"] = None
        return row
    who = people.get(row["sender_id"] or "") or (
        people.get(f"name:{row['sender'].casefold()}") if row["sender"] else None)
    row["sender_person"] = who.name if who else None
    row["sender_role"] = who.role if who else None
    if row["direction"] == "unknown":
        to_victim = any(people.get(r, _NOBODY).role == "victim" for r in row["recipients"])
        if who is not None:
            row["direction"] = "outgoing" if who.role == "victim" else "incoming"
        elif to_victim:
            row["direction"] = "incoming"
        row["direction_basis"] = "persons" if row["direction"] != "unknown" else None
    return row


def event_dict(event: Event, exhibit_ref: str, source_sha256: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "occurred_at": utc_z(event.occurred_at),
        "local_time": event.local_time,
        "time_zone": event.time_zone,
        "time_basis": event.time_basis,
        "precision": event.precision,
        "channel": event.channel,
        "sender": event.sender,
        "sender_id": event.sender_id,
        "direction": event.direction,
        "text": event.text,
        "subject": event.subject,
        "exhibit": exhibit_ref,
        "source_sha256": source_sha256,
        "parser": event.parser,
        "sender_person": None,
        "sender_role": None,
        "direction_basis": None,
    }
    for column in _JSON_COLUMNS:
        value = getattr(event, column)
        # Most of these are empty; skipping the decoder for them halves a page's cost.
        row[column] = [] if value == "[]" else {} if value == "{}" else json.loads(value)
    return {key: row[key] for key in COLUMNS}


def csv_row(event: dict[str, Any]) -> list[str]:
    """One CSV line: structured fields as compact JSON, so nothing is lost."""
    cells = []
    for column in COLUMNS:
        value = event[column]
        if value is None:
            cells.append("")
        elif isinstance(value, list | dict):
            cells.append(json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                                    sort_keys=True))
        else:
            cells.append(str(value))
    return cells


def event_detail(session: Session, case: Case, event_id: int) -> dict[str, Any] | None:
    """One event with everything known about where it came from: its row, its
    exhibit's provenance and the derived facts about it (or its whole exhibit)."""
    found = session.execute(
        select(Event, Exhibit).join(Exhibit, Exhibit.id == Event.exhibit_id)
        .where(Event.case_id == case.id, Event.id == event_id)).first()
    if found is None:
        return None
    event, exhibit = found
    row = attribute(event_dict(event, exhibit.ref, exhibit.sha256), attribution_map(session, case))
    row["seq"] = event.seq
    row["exhibit_detail"] = {
        "ref": exhibit.ref, "original_name": exhibit.original_name,
        "member_path": exhibit.member_path, "format": exhibit.format,
        "received_from": exhibit.received_from, "received_by": exhibit.received_by,
        "received_at": utc_z(exhibit.received_at), "how_obtained": exhibit.how_obtained,
    }
    row["facts"] = facts_of_event(session, exhibit.id, event.seq)
    return row
