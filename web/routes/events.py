"""One event: where it came from, the original around it, and investigators' tags and notes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import annotations as event_notes
from evidence_store.blobs import BlobStore
from evidence_store.cases import CaseError
from evidence_store.models import Case, Event, Exhibit
from evidence_store.timeline import event_detail, utc_z
from web import access, csrf
from web.deps import ctx, log_view, render, viewer
from web.routes.exhibits import INLINE_TYPES
from web.sessions import Viewer

router = APIRouter()

#: Events shown either side of this one from the same original.
CONTEXT = 5
#: The most of an original's bytes quoted on the page for one event.
MAX_QUOTE = 16 * 1024


def neighbours(session: Session, exhibit_id: int, seq: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Event.id, Event.seq, Event.occurred_at, Event.sender, Event.text, Event.kind)
        .where(Event.exhibit_id == exhibit_id, Event.seq >= seq - CONTEXT,
               Event.seq <= seq + CONTEXT)
        .order_by(Event.seq, Event.id))
    return [{"id": r.id, "seq": r.seq, "occurred_at": utc_z(r.occurred_at), "sender": r.sender,
             "text": r.text, "kind": r.kind} for r in rows]


def quote_original(blobs: BlobStore, sha256: str, locator: dict[str, Any]) -> str | None:
    """The bytes the locator points at, as text: what the parser read, verbatim."""
    offset, length = locator.get("byte_offset"), locator.get("byte_length")
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
        return None
    if not blobs.exists(sha256):
        return None
    with blobs.open(sha256) as handle:
        handle.seek(offset)
        data = handle.read(min(length, MAX_QUOTE))
    text = data.decode("utf-8", "replace")
    return text + ("\n…" if length > MAX_QUOTE else "")


def attachment_exhibits(session: Session, case: Case, attachments: list[dict[str, Any]]
                        ) -> list[dict[str, Any]]:
    shown = []
    for attachment in attachments:
        sha = attachment.get("sha256")
        exhibit = session.execute(
            select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.sha256 == sha)
            .order_by(Exhibit.id).limit(1)).scalar_one_or_none() if sha else None
        shown.append({"name": attachment.get("name"), "exhibit": exhibit,
                      "inline": exhibit is not None and exhibit.media_type in INLINE_TYPES})
    return shown


@router.get("/cases/{ref}/events/{event_id}")
def event_page(request: Request, ref: str, event_id: int,
               user: Annotated[Viewer, Depends(viewer)]) -> Response:
    blobs = ctx(request).store.blobs
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
        detail = event_detail(session, case, event_id)
        if detail is None:
            raise access.NotFound()
        exhibit = session.execute(select(Exhibit).where(
            Exhibit.case_id == case.id, Exhibit.ref == detail["exhibit"])).scalar_one()
        context = neighbours(session, exhibit.id, detail["seq"])
        notes = event_notes.annotations_of_event(session, case, event_id)
        attached = attachment_exhibits(session, case, detail["attachments"])
        log_view(session, user, request, case, event=event_id)
    return render(request, "event.html", {
        "case": case, "e": detail, "exhibit": exhibit, "context": context, "notes": notes,
        "attached": attached, "inline_types": INLINE_TYPES,
        "quote": quote_original(blobs, exhibit.sha256, detail["locator"]),
    })


@router.post("/cases/{ref}/events/{event_id}/annotations")
def annotate(request: Request, ref: str, event_id: int,
             user: Annotated[Viewer, Depends(viewer)], kind: Annotated[str, Form()] = "",
             text: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = ""
             ) -> Response:
    csrf.check(user, csrf_token)
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, "annotate", "tag or annotate events")
        event = session.get(Event, event_id)
        if event is None or event.case_id != case.id:
            raise access.NotFound()
    try:
        with ctx(request).store.session() as session:
            event_notes.add_annotation(session, case, event_id, kind, text, user.actor)
    except CaseError as exc:
        return render(request, "error.html", {"title": "Not saved", "message": str(exc)},
                      status=400)
    return RedirectResponse(f"/cases/{case.ref}/events/{event_id}#notes", status_code=303)
