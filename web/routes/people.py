"""People in a case, their identifiers, and suggested identifier links to confirm or reject
(evidence_store.linking: confirming gives the person the identifier; both are logged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from collector.identities import BadIdentifier, normalise_identifier
from evidence_store import linking, persons
from evidence_store.cases import CaseError
from evidence_store.models import Case, IdentifierLink
from web import access, csrf
from web.deps import ctx, log_view, render, viewer
from web.sessions import Viewer

router = APIRouter()


def _page(request: Request, user: Viewer, case: Case, error: str | None = None,
          status: int = 200) -> Response:
    with ctx(request).store.session() as session:
        people = persons.persons_of(session, case)
        links = sorted(linking.links_of_case(session, case),
                       key=lambda link: (link.status != linking.SUGGESTED, -link.confidence,
                                         link.id))
        log_view(session, user, request, case)
    return render(request, "people.html", {
        "case": case, "people": people, "links": links, "error": error,
        "roles": persons.ROLES}, status=status)


@router.get("/cases/{ref}/people")
def people_page(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                ) -> Response:
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
    return _page(request, user, case)


@router.post("/cases/{ref}/people")
def add_person(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)],
               name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
               identifiers: Annotated[str, Form()] = "",
               csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, "people_edit", "record people")
    try:
        if not name.strip():
            raise CaseError("give the person's name")
        values = []
        for line in identifiers.replace(",", "\n").splitlines():
            if line.strip():
                try:
                    values.append(normalise_identifier(line, case.default_region))
                except BadIdentifier as exc:
                    raise CaseError(str(exc)) from exc
        with ctx(request).store.session() as session:
            persons.add_person(session, case, name.strip(), role, values, user.actor)
    except CaseError as exc:
        return _page(request, user, case, str(exc), status=400)
    return RedirectResponse(f"/cases/{case.ref}/people", status_code=303)


@router.post("/cases/{ref}/identifier-links/suggest")
def suggest(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)],
            csrf_token: Annotated[str, Form()] = "") -> Response:
    """Look through the evidence again for identifiers that may be someone's."""
    csrf.check(user, csrf_token)
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, "link_decide", "decide on identifier links")
        linking.suggest_links(session, case, actor=user.actor)
    return RedirectResponse(f"/cases/{case.ref}/people", status_code=303)


@router.post("/cases/{ref}/identifier-links/{link_id}")
def decide(request: Request, ref: str, link_id: int, user: Annotated[Viewer, Depends(viewer)],
           decision: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
           csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, "link_decide", "decide on identifier links")
    try:
        if decision not in ("confirm", "reject"):
            raise CaseError("choose confirm or reject")
        with ctx(request).store.session() as session:
            link = session.get(IdentifierLink, link_id)
            if link is None or link.case_id != case.id:
                raise access.NotFound()
            decide = linking.confirm_link if decision == "confirm" else linking.reject_link
            decide(session, case, link_id, user.actor, note.strip() or None)
    except CaseError as exc:
        return _page(request, user, case, str(exc), status=400)
    return RedirectResponse(f"/cases/{case.ref}/people", status_code=303)
