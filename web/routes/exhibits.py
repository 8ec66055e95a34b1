"""Officers add evidence on the victim's behalf, with its provenance; exhibits and originals."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from collector.intake import IngestOptions, Ingestor
from collector.outcome import ExhibitOutcome
from evidence_store.facts import fact_dict
from evidence_store.localtime import UnknownTimeZone, zone
from evidence_store.models import Case, Exhibit, Fact
from web import access, csrf, streaming
from web.deps import ctx, log_case, log_view, render, viewer
from web.routes.cases import status_message, suggest_initials
from web.sessions import Viewer

router = APIRouter()

#: Shown in the browser only when the type is one a browser renders safely as an image.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
DATE_ORDERS = ("dmy", "mdy", "ymd")
CONSENT = {"given": "given by the person handing it over",
           "not_required": "not required (seized or produced under a legal power)"}
_INITIALS = re.compile(r"^[A-Za-z]{1,6}$")


class FormProblem(HTTPException):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class Provenance:
    received_from: str
    how_obtained: str
    initials: str
    timezone: str | None
    date_order: str | None

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Provenance:
        received_from = fields.get("received_from", "").strip()
        how = fields.get("how_obtained", "").strip()
        source = fields.get("source", "").strip()
        consent = fields.get("consent", "")
        consent_note = fields.get("consent_note", "").strip()
        initials = fields.get("initials", "").strip().upper()
        timezone = fields.get("timezone", "").strip() or None
        date_order = fields.get("date_order", "").strip() or None
        if not received_from:
            raise FormProblem("Say who handed the material over (name and role).")
        if not how:
            raise FormProblem("Say how the material was obtained.")
        if consent not in CONSENT:
            raise FormProblem("Record whether consent was given for its use.")
        if not _INITIALS.match(initials):
            raise FormProblem("Exhibit initials must be 1 to 6 letters.")
        if timezone:
            try:
                zone(timezone)
            except UnknownTimeZone as exc:
                raise FormProblem(str(exc)) from exc
        if date_order not in (None, *DATE_ORDERS):
            raise FormProblem("Unknown date order.")
        parts = [how]
        if source:
            parts.append(f"from device or account: {source}")
        parts.append(f"consent {CONSENT[consent]}" + (f" ({consent_note})" if consent_note
                                                      else ""))
        return cls(received_from, "; ".join(parts), initials, timezone, date_order)

    def options(self, actor: str) -> IngestOptions:
        return IngestOptions(received_by=actor, received_from=self.received_from,
                             how_obtained=self.how_obtained, initials=self.initials,
                             timezone=self.timezone,
                             date_order=self.date_order)  # type: ignore[arg-type]


def _open_case(request: Request, user: Viewer, ref: str, permission: str, what: str,
               path_view: bool = True) -> Case:
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, permission, what)
        if path_view:
            log_view(session, user, request, case)
    return case


def default_initials(case: Case, user: Viewer) -> str:
    if user.full_name == case.officer_name:
        return case.officer_initials
    return suggest_initials(user.full_name)


def _form(request: Request, case: Case, user: Viewer, values: dict[str, str] | None = None,
          error: str | None = None, status: int = 200) -> Response:
    values = values or {"initials": default_initials(case, user)}
    return render(request, "upload.html", {"case": case, "values": values, "error": error,
                                           "date_orders": DATE_ORDERS, "consent": CONSENT},
                  status=status)


@router.get("/cases/{ref}/upload")
def upload_form(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                ) -> Response:
    case = _open_case(request, user, ref, "upload", "add evidence")
    return _form(request, case, user)


@router.post("/cases/{ref}/upload")
async def upload(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                 ) -> Response:
    context = ctx(request)
    case = await run_in_threadpool(_open_case, request, user, ref, "upload", "add evidence",
                                   False)
    if not streaming.is_multipart(request):
        # Not an upload form at all; still, a form without its token is refused as such.
        plain = await request.form()
        csrf.check(user, str(plain.get(csrf.FIELD, "")))
    provenance: list[Provenance] = []
    seen: dict[str, str] = {}

    def check(fields: dict[str, str]) -> None:
        csrf.check(user, fields.get(csrf.FIELD))
        seen.update(fields)
        provenance.append(Provenance.from_fields(fields))

    try:
        form = await streaming.receive(request, context.store.blobs,
                                       max_bytes=context.settings.max_upload_bytes,
                                       max_files=context.settings.max_upload_files,
                                       before_files=check)
    except FormProblem as exc:
        return _form(request, case, user, seen, str(exc.detail), status=400)
    if not form.files:
        return _form(request, case, user, form.fields, "Choose at least one file.", status=400)
    ingestor = Ingestor(context.store, case.ref, provenance[0].options(user.actor))
    outcomes = await run_in_threadpool(
        ingestor.ingest_stored_group, [(f.name, f.blob) for f in form.files])
    return render(request, "upload_done.html", {"case": case, "outcomes": outcomes,
                                                "message": outcome_message})


def outcome_message(outcome: ExhibitOutcome) -> str:
    if outcome.status == "parsed":
        return f"Read as {outcome.format}: {outcome.events} events"
    if outcome.status == "failed":
        return f"Stored, but could not be read completely: {outcome.error}"
    if outcome.status == "duplicate":
        return f"Same bytes as {outcome.duplicate_of}: stored once, receipt recorded"
    if outcome.linked:
        return "Stored; a file the other evidence refers to (not read on its own)"
    return f"Stored, not read: {outcome.error or 'no reader for this kind of file'}"


@router.get("/cases/{ref}/exhibits/{exhibit_id}")
def exhibit_page(request: Request, ref: str, exhibit_id: int,
                 user: Annotated[Viewer, Depends(viewer)]) -> Response:
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None or exhibit.case_id != case.id:
            raise access.NotFound()
        parent = session.get(Exhibit, exhibit.parent_id) if exhibit.parent_id else None
        duplicate = (session.get(Exhibit, exhibit.duplicate_of_id)
                     if exhibit.duplicate_of_id else None)
        children = list(session.execute(
            select(Exhibit).where(Exhibit.parent_id == exhibit.id).order_by(Exhibit.id)
            .limit(1000)).scalars())
        facts = [fact_dict(f, exhibit.ref) for f in session.execute(
            select(Fact).where(Fact.exhibit_id == exhibit.id, Fact.event_seq.is_(None))
            .order_by(Fact.id).limit(500)).scalars()]
        log_view(session, user, request, case, exhibit=exhibit.ref)
    return render(request, "exhibit.html", {
        "case": case, "exhibit": exhibit, "parent": parent, "children": children,
        "duplicate": duplicate, "facts": facts, "notes": json.loads(exhibit.notes or "[]"),
        "message": status_message(exhibit, duplicate), "inline_types": INLINE_TYPES,
    })


@router.get("/cases/{ref}/exhibits/{exhibit_id}/original")
def original(request: Request, ref: str, exhibit_id: int,
             user: Annotated[Viewer, Depends(viewer)], inline: int = 0) -> Response:
    """The original bytes, exactly as received. Shown in the page only when they are an
    ordinary image; anything else is a download the browser will not try to open."""
    context = ctx(request)
    with context.store.session() as session:
        case = access.case_for(session, user, ref)
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None or exhibit.case_id != case.id:
            raise access.NotFound()
        show = bool(inline) and exhibit.media_type in INLINE_TYPES
        log_case(session, user, case, "downloaded",
                 {"exhibit": exhibit.ref, "sha256": exhibit.sha256, "inline": show})
    return blob_response(context.store.blobs.path(exhibit.sha256), exhibit.original_name,
                         exhibit.media_type if show else "application/octet-stream", show)


def blob_response(path: Any, name: str, media_type: str, inline: bool) -> FileResponse:
    response = FileResponse(path, media_type=media_type, filename=name,
                            content_disposition_type="inline" if inline else "attachment")
    # Even if a browser were talked into rendering it, it could run nothing.
    response.headers["content-security-policy"] = "default-src 'none'; sandbox"
    response.headers["x-content-type-options"] = "nosniff"
    return response
