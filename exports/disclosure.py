"""Disclosure aid: material held but not used in the timeline, with the reason.

It helps the officer draw up the unused-material schedule (MG6C); it is not
that schedule. Sources: exhibits whose content is not in the timeline (stored
but not parsed, could not be parsed, duplicate bytes) and, for `ingest
--only-with`, what the parse entry in the custody log counted as left out of
scope (events, conversations, media not extracted). The originals themselves
are all in the bundle, whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.models import Case, CustodyEntry, Event, Exhibit

COLUMNS = ("exhibit", "file_name", "sha256", "material", "reason", "detail")


@dataclass(frozen=True)
class UnusedItem:
    exhibit: str
    file_name: str
    sha256: str
    material: str
    reason: str
    detail: str

    def row(self) -> list[str]:
        return [self.exhibit, self.file_name, self.sha256, self.material, self.reason,
                self.detail]


def referenced_files(session: Session, case: Case) -> set[str]:
    """SHA-256 of every file an event refers to (a chat's photo is used, not unused)."""
    found: set[str] = set()
    rows = session.execute(
        select(Event.attachments).where(Event.case_id == case.id, Event.attachments != "[]")
        .execution_options(yield_per=5000)).scalars()
    for text in rows:
        for attachment in json.loads(text):
            if attachment.get("sha256"):
                found.add(attachment["sha256"])
    return found


def _scope_entries(entries: Iterable[CustodyEntry]) -> dict[str, dict[str, object]]:
    """Exhibit ref -> the scope report of its latest parse."""
    scopes: dict[str, dict[str, object]] = {}
    for entry in entries:
        if entry.action not in ("parsed", "parse_failed"):
            continue
        details = json.loads(entry.details)
        if isinstance(details.get("scope"), dict):
            scopes[entry.subject] = details["scope"]
    return scopes


def unused_material(exhibits: list[Exhibit], entries: Iterable[CustodyEntry],
                    referenced: set[str]) -> list[UnusedItem]:
    """In exhibit order (the caller sorts ``exhibits``)."""
    by_id = {e.id: e for e in exhibits}
    scopes = _scope_entries(entries)
    items: list[UnusedItem] = []
    for exhibit in exhibits:
        base = (exhibit.ref, exhibit.original_name, exhibit.sha256)
        if exhibit.status == "duplicate":
            first = by_id.get(exhibit.duplicate_of_id or 0)
            earlier = first.ref if first else "an earlier exhibit"
            items.append(UnusedItem(*base, "whole exhibit",
                                    "duplicate: the same bytes were received before",
                                    f"same SHA-256 as {earlier}; its events are listed once, "
                                    "under that exhibit"))
        elif exhibit.status == "failed":
            items.append(UnusedItem(*base, "whole exhibit" if not exhibit.event_count
                                    else "part of the exhibit",
                                    "could not be parsed",
                                    (exhibit.error or "")
                                    + (f"; {exhibit.event_count} events read before the "
                                       "problem are in the timeline"
                                       if exhibit.event_count else "")))
        elif exhibit.status == "stored_unparsed" and exhibit.sha256 not in referenced:
            items.append(UnusedItem(*base, "whole exhibit",
                                    "stored, not parsed: no parser reads this kind of file",
                                    exhibit.error or f"{exhibit.media_type}, {exhibit.size} bytes;"
                                    " review by hand"))
        scope = scopes.get(exhibit.ref)
        if scope and (scope.get("left_out_events") or scope.get("left_out_media")):
            only = ", ".join(str(v) for v in scope.get("only_with", []))  # type: ignore[attr-defined]
            items.append(UnusedItem(
                *base, "conversations left out by scope",
                f"not involving {only} (ingest --only-with)",
                f"{scope.get('left_out_events', 0)} events in "
                f"{scope.get('left_out_conversations', 0)} conversations left out, "
                f"{scope.get('left_out_media', 0)} media files not extracted; "
                f"kept {scope.get('kept_events', 0)} events in "
                f"{scope.get('kept_conversations', 0)} conversations; the original is in the "
                "bundle whole"))
    return items
