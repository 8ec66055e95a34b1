"""Tags and notes investigators write on events.

Each one is a row (never edited or deleted) and a custody entry, so what was
said about an event, by whom and when, is disclosable and goes into the bundle.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.models import Case, Event, EventAnnotation
from evidence_store.timeline import utc_z

KINDS = ("tag", "note")
MAX_TAG = 60
MAX_NOTE = 4000


def add_annotation(session: Session, case: Case, event_id: int, kind: str, text: str,
                   actor: str) -> EventAnnotation:
    text = text.strip()
    if kind not in KINDS:
        raise CaseError(f"an annotation is a tag or a note, not {kind!r}")
    if not text:
        raise CaseError(f"the {kind} is empty")
    limit = MAX_TAG if kind == "tag" else MAX_NOTE
    if len(text) > limit:
        raise CaseError(f"a {kind} is at most {limit} characters")
    if kind == "tag":
        # Tags are for filtering: one spelling per tag.
        text = " ".join(text.split()).casefold()
    event = session.get(Event, event_id)
    if event is None or event.case_id != case.id:
        raise CaseError(f"case {case.ref} has no event {event_id}")
    note = EventAnnotation(case_id=case.id, event_id=event_id, kind=kind, text=text,
                           created_by=actor, created_at=datetime.now(UTC))
    session.add(note)
    session.flush()
    custody.append(session, custody.case_chain(case.ref), actor,
                   "event_tagged" if kind == "tag" else "event_noted", case.ref,
                   {"event": event_id, "annotation": note.id, "text": text})
    return note


def annotation_dict(note: EventAnnotation) -> dict[str, Any]:
    return {"id": note.id, "event_id": note.event_id, "kind": note.kind, "text": note.text,
            "by": note.created_by, "at": utc_z(note.created_at)}


def annotations_of_event(session: Session, case: Case, event_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(EventAnnotation).where(EventAnnotation.case_id == case.id,
                                      EventAnnotation.event_id == event_id)
        .order_by(EventAnnotation.id)).scalars()
    return [annotation_dict(note) for note in rows]


def tags_of_case(session: Session, case: Case) -> list[str]:
    return list(session.execute(
        select(EventAnnotation.text).where(EventAnnotation.case_id == case.id,
                                           EventAnnotation.kind == "tag")
        .distinct().order_by(EventAnnotation.text)).scalars())


def iter_case_annotations(session: Session, case_id: int) -> Iterator[dict[str, Any]]:
    """Every tag and note of a case in the order written (for the bundle)."""
    query = (select(EventAnnotation).where(EventAnnotation.case_id == case_id)
             .order_by(EventAnnotation.id).execution_options(yield_per=2000))
    for note in session.execute(query).scalars():
        yield annotation_dict(note)
