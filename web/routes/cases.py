"""Case list, opening a case, the case overview with its exhibits, and its custody log."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import case as case_
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.identities import BadIdentifier, normalise_identifier
from evidence_store import cases, custody, persons
from evidence_store.cases import CaseError
from evidence_store.localtime import UnknownTimeZone
from evidence_store.models import Case, Exhibit, QuarantinedUpload, User
from web import access, csrf
from web.deps import ctx, log_case, log_view, render, viewer
from web.sessions import Viewer

router = APIRouter()

COMMON_ZONES = ("Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin",
                "Europe/Madrid", "Europe/Warsaw", "Europe/Bucharest", "America/New_York",
                "America/Chicago", "America/Los_Angeles", "Asia/Kolkata", "Asia/Karachi",
                "Asia/Dubai", "Australia/Sydney", "UTC")


@router.get("/cases")
def case_list(request: Request, user: Annotated[Viewer, Depends(viewer)]) -> Response:
    with ctx(request).store.session() as session:
        mine = access.cases_of(session, user)
        log_view(session, user, request)
    return render(request, "cases.html", {"cases": mine})


def _form_page(request: Request, values: dict[str, str], error: str | None = None,
               status: int = 200) -> Response:
    return render(request, "case_new.html", {"values": values, "error": error,
                                             "zones": COMMON_ZONES}, status=status)


@router.get("/cases/new")
def case_new(request: Request, user: Annotated[Viewer, Depends(viewer)]) -> Response:
    access.require(user, "case_create", "open cases")
    with ctx(request).store.session() as session:
        log_view(session, user, request)
    return _form_page(request, {"officer": user.full_name,
                                "initials": suggest_initials(user.full_name),
                                "timezone": "Europe/London", "region": "GB"})


#: Ranks and titles before a name, left out of the initials suggested for exhibit references.
RANKS = frozenset({"pc", "wpc", "dc", "tdc", "ps", "ds", "sgt", "insp", "di", "ci", "dci", "supt",
                   "pcso", "sc", "mr", "mrs", "ms", "miss", "mx", "dr"})


def suggest_initials(full_name: str) -> str:
    words = full_name.replace(".", " ").split()
    while len(words) > 1 and words[0].casefold() in RANKS:
        words = words[1:]
    return cases.initials_of(" ".join(words))


def _identifiers(text: str, region: str, label: str) -> list[str]:
    values = []
    for line in text.replace(",", "\n").splitlines():
        if line.strip():
            try:
                values.append(normalise_identifier(line, region))
            except BadIdentifier as exc:
                raise CaseError(f"{label}: {exc}") from exc
    return values


@router.post("/cases")
def case_create(
    request: Request, user: Annotated[Viewer, Depends(viewer)],
    ref: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
    officer: Annotated[str, Form()] = "", initials: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "Europe/London", region: Annotated[str, Form()] = "GB",
    victim_name: Annotated[str, Form()] = "", victim_ids: Annotated[str, Form()] = "",
    suspect_name: Annotated[str, Form()] = "", suspect_ids: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    csrf.check(user, csrf_token)
    access.require(user, "case_create", "open cases")
    values = {"ref": ref, "title": title, "officer": officer, "initials": initials,
              "timezone": timezone, "region": region, "victim_name": victim_name,
              "victim_ids": victim_ids, "suspect_name": suspect_name,
              "suspect_ids": suspect_ids}
    region = (region.strip() or "GB").upper()
    try:
        if not title.strip() or not officer.strip():
            raise CaseError("give the case a title and the officer in the case")
        with ctx(request).store.session() as session:
            case = cases.create_case(session, ref.strip(), title.strip(), officer.strip(),
                                     initials, timezone.strip(), region)
            me = session.get(User, user.user_id)
            assert me is not None
            access.assign(session, me, case, user.actor)
            for name, ids, role in ((victim_name, victim_ids, "victim"),
                                    (suspect_name, suspect_ids, "suspect")):
                if name.strip():
                    persons.add_person(session, case, name.strip(), role,
                                       _identifiers(ids, region, name.strip()), user.actor)
                elif ids.strip():
                    raise CaseError(f"give the {role}'s name as well as the identifiers")
    except (CaseError, UnknownTimeZone) as exc:
        return _form_page(request, values, str(exc), status=400)
    return RedirectResponse(f"/cases/{case.ref}", status_code=303)


def exhibit_rows(session: Session, case: Case) -> list[dict[str, Any]]:
    """Top-level exhibits with what happened to them and their members, for the overview."""
    top = list(session.execute(
        select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.parent_id.is_(None))
        .order_by(Exhibit.id)).scalars())
    members: dict[int, tuple[int, int, int]] = {}
    for parent_id, count, failed, events in session.execute(
            select(Exhibit.parent_id, func.count(),
                   func.sum(case_((Exhibit.status == "failed", 1), else_=0)),
                   func.sum(Exhibit.event_count))
            .where(Exhibit.case_id == case.id, Exhibit.parent_id.is_not(None))
            .group_by(Exhibit.parent_id)):
        members[parent_id] = (int(count), int(failed or 0), int(events or 0))
    by_id = {e.id: e for e in top}
    rows = []
    for exhibit in top:
        count, failed, events = members.get(exhibit.id, (0, 0, 0))
        duplicate = by_id.get(exhibit.duplicate_of_id) if exhibit.duplicate_of_id else None
        rows.append({"exhibit": exhibit, "members": count, "members_failed": failed,
                     "member_events": events, "message": status_message(exhibit, duplicate),
                     "notes": json.loads(exhibit.notes or "[]")})
    return rows


def status_message(exhibit: Exhibit, duplicate: Exhibit | None = None) -> str:
    if exhibit.status == "parsed":
        return f"Read: {exhibit.event_count} events"
    if exhibit.status == "failed":
        return f"Could not be read completely: {exhibit.error or 'unknown problem'}"
    if exhibit.status == "duplicate":
        where = duplicate.ref if duplicate else "an earlier exhibit"
        return f"Same bytes as {where}: stored once, receipt recorded"
    return f"Stored, not read: {exhibit.error or 'no reader for this kind of file'}"


@router.get("/cases/{ref}")
def case_overview(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                  ) -> Response:
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
        rows = exhibit_rows(session, case)
        people = persons.persons_of(session, case)
        waiting = session.execute(
            select(func.count()).select_from(QuarantinedUpload)
            .where(QuarantinedUpload.case_id == case.id,
                   QuarantinedUpload.status == "waiting")).scalar_one()
        team = access.team_of(session, case)
        log_view(session, user, request, case)
    return render(request, "case.html", {"case": case, "rows": rows, "people": people,
                                         "waiting": waiting, "team": team})


@router.get("/cases/{ref}/custody")
def custody_log(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                ) -> Response:
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, "custody_view", "read the custody log")
        log_case(session, user, case, "viewed", {"path": request.url.path})
        session.flush()
        entries = custody.entries_of(session, custody.case_chain(case.ref))
    return render(request, "custody.html", {"case": case, "entries": entries})
