"""One-time upload links for victims, and the quarantine their uploads wait in.

The victim needs no account: the link's random token is the key (only its
SHA-256 is stored). Their pages set no cookie, keep nothing in the browser
(no-store, no autocomplete, nothing echoed back) and always show a way out:
a "Leave this site" link to an ordinary site, which the Escape key follows too.
Uploads become exhibits only when an officer accepts them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from collector import quarantine
from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.models import Case, QuarantinedUpload, UploadLink
from evidence_store.store import Store
from web import access, csrf, streaming
from web.deps import ctx, log_case, log_view, render, viewer
from web.routes.exhibits import (
    CONSENT,
    DATE_ORDERS,
    FormProblem,
    Provenance,
    blob_response,
    default_initials,
    outcome_message,
)
from web.sessions import Viewer
from web.settings import MIB

router = APIRouter()

VICTIM_HEADERS = {"x-robots-tag": "noindex, nofollow", "referrer-policy": "no-referrer"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_state(link: UploadLink, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if link.revoked_at is not None:
        return "revoked"
    if link.used_at is not None:
        return "used"
    if link.expires_at <= now:
        return "expired"
    return "open"


# ------------------------------------------------------------------ officers: links


def _links_page(request: Request, user: Viewer, case: Case, error: str | None = None,
                created: str | None = None, status: int = 200) -> Response:
    with ctx(request).store.session() as session:
        links = list(session.execute(
            select(UploadLink).where(UploadLink.case_id == case.id)
            .order_by(UploadLink.id.desc())).scalars())
        log_view(session, user, request, case)
    return render(request, "links.html", {"case": case, "links": links, "state": link_state,
                                          "error": error, "created": created},
                  status=status)


def _case(request: Request, user: Viewer, ref: str, permission: str, what: str) -> Case:
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, permission, what)
    return case


@router.get("/cases/{ref}/upload-links")
def links(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]) -> Response:
    case = _case(request, user, ref, "upload_link", "create victim upload links")
    return _links_page(request, user, case)


@router.post("/cases/{ref}/upload-links")
def create_link(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)],
                label: Annotated[str, Form()] = "", hours: Annotated[int, Form()] = 72,
                max_mb: Annotated[int, Form()] = 2048, max_files: Annotated[int, Form()] = 50,
                csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    case = _case(request, user, ref, "upload_link", "create victim upload links")
    if not label.strip():
        return _links_page(request, user, case, "Give the link a label (for you, not shown "
                                                "to the victim).", status=400)
    if not (1 <= hours <= 24 * 14 and 1 <= max_mb <= 20 * 1024 and 1 <= max_files <= 500):
        return _links_page(request, user, case, "A link lasts 1 hour to 14 days, takes up to "
                                                "20 GB and up to 500 files.", status=400)
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with ctx(request).store.session() as session:
        link = UploadLink(case_id=case.id, token_hash=token_hash(token), label=label.strip(),
                          created_by=user.actor, created_at=now,
                          expires_at=now + timedelta(hours=hours), max_bytes=max_mb * MIB,
                          max_files=max_files, used_at=None, revoked_at=None)
        session.add(link)
        session.flush()
        log_case(session, user, case, "upload_link_created", {
            "link": link.id, "label": link.label, "expires_at": custody.utc_stamp(
                link.expires_at), "max_bytes": link.max_bytes, "max_files": max_files})
    url = f"{str(request.base_url).rstrip('/')}/u/{token}"
    return _links_page(request, user, case, created=url)


@router.post("/cases/{ref}/upload-links/{link_id}/revoke")
def revoke_link(request: Request, ref: str, link_id: int,
                user: Annotated[Viewer, Depends(viewer)],
                csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    case = _case(request, user, ref, "upload_link", "create victim upload links")
    with ctx(request).store.session() as session:
        link = session.get(UploadLink, link_id)
        if link is None or link.case_id != case.id:
            raise access.NotFound()
        if link.revoked_at is None:
            link.revoked_at = datetime.now(UTC)
            log_case(session, user, case, "upload_link_revoked", {"link": link.id})
    return RedirectResponse(f"/cases/{case.ref}/upload-links", status_code=303)


# ------------------------------------------------------------------ victims


def _open_link(request: Request, token: str) -> UploadLink:
    with ctx(request).store.session() as session:
        link = session.execute(select(UploadLink).where(
            UploadLink.token_hash == token_hash(token))).scalar_one_or_none()
    if link is None or link_state(link) != "open":
        raise access.NotFound()
    return link


def _victim(request: Request, template: str, context: dict[str, object], status: int = 200
            ) -> Response:
    response = render(request, template, {"exit_url": ctx(request).settings.exit_url,
                                          **context}, status=status)
    response.headers.update(VICTIM_HEADERS)
    return response


@router.get("/u/{token}")
def victim_page(request: Request, token: str) -> Response:
    link = _open_link(request, token)
    with ctx(request).store.session() as session:
        case = session.get(Case, link.case_id)
        assert case is not None
        # Who opened it is not known; that the link was opened, and when, is worth keeping.
        custody.append(session, custody.case_chain(case.ref), f"victim upload link {link.id}",
                       "viewed", case.ref, {"path": "/u/…", "link": link.id})
    return _victim(request, "victim/upload.html", {"link": link, "error": None})


@router.post("/u/{token}")
async def victim_upload(request: Request, token: str) -> Response:
    context = ctx(request)
    link = await run_in_threadpool(_open_link, request, token)
    if not await run_in_threadpool(_claim, context.store, link.id, True):
        # Another upload through the same link got there first.
        raise access.NotFound()
    try:
        form = await streaming.receive(request, context.store.blobs, max_bytes=link.max_bytes,
                                       max_files=link.max_files)
    except BaseException:
        await run_in_threadpool(_claim, context.store, link.id, False)
        raise
    if not form.files:
        await run_in_threadpool(_claim, context.store, link.id, False)
        return _victim(request, "victim/upload.html",
                       {"link": link, "error": "No file was chosen. Choose one or more files."},
                       status=400)
    note = form.fields.get("note", "").strip()[:4000] or None
    await run_in_threadpool(_hold, context.store, link, form, note)
    response = _victim(request, "victim/done.html", {"count": len(form.files)})
    # Ask the browser to drop anything it may have cached from this site.
    response.headers["clear-site-data"] = '"cache"'
    return response


def _claim(store: Store, link_id: int, take: bool) -> bool:
    """Mark the link used (atomically: one upload wins) or, after a failed try, open again."""
    now = datetime.now(UTC)
    with store.session() as session:
        query = update(UploadLink).where(UploadLink.id == link_id)
        if take:
            query = query.where(UploadLink.used_at.is_(None), UploadLink.revoked_at.is_(None),
                                UploadLink.expires_at > now).values(used_at=now)
        else:
            query = query.values(used_at=None)
        return bool(session.execute(query).rowcount)  # type: ignore[attr-defined]


def _hold(store: Store, link: UploadLink, form: streaming.StreamedForm, note: str | None
          ) -> None:
    actor = f"victim upload link {link.id}"
    with store.session() as session:
        case = session.get(Case, link.case_id)
        assert case is not None
        for received in form.files:
            quarantine.hold(session, case, link.id, received.blob, received.name, note, actor)
        custody.append(session, custody.case_chain(case.ref), actor, "upload_link_used",
                       case.ref, {"link": link.id, "files": len(form.files),
                                  "bytes": sum(f.blob.size for f in form.files)})


# ------------------------------------------------------------------ officers: quarantine


def _quarantine_page(request: Request, user: Viewer, case: Case, values: dict[str, str],
                     error: str | None = None, status: int = 200) -> Response:
    with ctx(request).store.session() as session:
        rows = quarantine.waiting(session, case)
        link_by_id = {link.id: link for link in session.execute(
            select(UploadLink).where(UploadLink.case_id == case.id)).scalars()}
        log_view(session, user, request, case)
    return render(request, "quarantine.html", {
        "case": case, "rows": rows, "links": link_by_id, "values": values, "error": error,
        "consent": CONSENT, "date_orders": DATE_ORDERS}, status=status)


def _defaults(case: Case, user: Viewer) -> dict[str, str]:
    return {"received_from": "the victim, through a one-time upload link",
            "how_obtained": "uploaded by the victim through a one-time upload link",
            "initials": default_initials(case, user)}


@router.get("/cases/{ref}/quarantine")
def quarantine_page(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                    ) -> Response:
    case = _case(request, user, ref, "quarantine_decide", "decide on uploads")
    return _quarantine_page(request, user, case, _defaults(case, user))


@router.post("/cases/{ref}/quarantine/accept")
async def accept(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                 ) -> Response:
    form = await request.form()
    csrf.check(user, str(form.get(csrf.FIELD, "")))
    case = await run_in_threadpool(_case, request, user, ref, "quarantine_decide",
                                   "decide on uploads")
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        ids = [int(v) for v in form.getlist("upload") if isinstance(v, str) and v.isdigit()]
        provenance = Provenance.from_fields(fields)
        if not ids:
            raise FormProblem("Choose the uploads to accept.")
        result = await run_in_threadpool(quarantine.accept, ctx(request).store, case.ref, ids,
                                         provenance.options(user.actor))
    except (FormProblem, CaseError) as exc:
        message = exc.detail if isinstance(exc, FormProblem) else str(exc)
        return await run_in_threadpool(_quarantine_page, request, user, case, fields,
                                       str(message), 400)
    return render(request, "upload_done.html", {"case": case, "outcomes": result.outcomes,
                                                "message": outcome_message})


@router.post("/cases/{ref}/quarantine/{upload_id}/reject")
def reject(request: Request, ref: str, upload_id: int,
           user: Annotated[Viewer, Depends(viewer)], reason: Annotated[str, Form()] = "",
           csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    case = _case(request, user, ref, "quarantine_decide", "decide on uploads")
    try:
        with ctx(request).store.session() as session:
            quarantine.reject(session, case, upload_id, user.actor, reason)
    except CaseError as exc:
        return _quarantine_page(request, user, case, _defaults(case, user), str(exc), 400)
    return RedirectResponse(f"/cases/{case.ref}/quarantine", status_code=303)


@router.get("/cases/{ref}/quarantine/{upload_id}/original")
def quarantined_original(request: Request, ref: str, upload_id: int,
                         user: Annotated[Viewer, Depends(viewer)]) -> Response:
    context = ctx(request)
    with context.store.session() as session:
        case = access.case_allowing(session, user, ref, "quarantine_decide", "decide on uploads")
        row = session.get(QuarantinedUpload, upload_id)
        if row is None or row.case_id != case.id:
            raise access.NotFound()
        log_case(session, user, case, "downloaded",
                 {"upload": row.id, "sha256": row.sha256, "inline": False})
    # Never shown inline: nobody has looked at it yet, it could be anything.
    return blob_response(context.store.blobs.path(row.sha256), row.original_name,
                         "application/octet-stream", False)
