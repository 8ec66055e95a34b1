"""Administrators: accounts and who is assigned to which case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import cases, custody
from evidence_store.cases import CaseError
from evidence_store.models import CaseAssignment, User
from web import access, csrf, sessions
from web.auth import ROLES, create_user, unlock
from web.deps import ctx, log_view, render, viewer
from web.sessions import Viewer

router = APIRouter(prefix="/admin")


def _page(request: Request, user: Viewer, error: str | None = None, status: int = 200
          ) -> Response:
    with ctx(request).store.session() as session:
        users = list(session.execute(select(User).order_by(User.name)).scalars())
        assigned: dict[int, list[str]] = {u.id: [] for u in users}
        refs = {c.id: c.ref for c in cases.list_cases(session)}
        for row in session.execute(select(CaseAssignment)).scalars():
            assigned[row.user_id].append(refs[row.case_id])
        log_view(session, user, request)
    return render(request, "admin/users.html", {
        "users": users, "assigned": assigned, "case_refs": sorted(refs.values()),
        "roles": ROLES, "error": error}, status=status)


@router.get("/users")
def users_page(request: Request, user: Annotated[Viewer, Depends(viewer)]) -> Response:
    access.require(user, "users_manage", "manage accounts")
    return _page(request, user)


@router.post("/users")
def add_user(request: Request, user: Annotated[Viewer, Depends(viewer)],
             name: Annotated[str, Form()] = "", full_name: Annotated[str, Form()] = "",
             role: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
             csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    access.require(user, "users_manage", "manage accounts")
    context = ctx(request)
    try:
        with context.store.session() as session:
            create_user(session, context.auth.passwords, name, role, password, user.actor,
                        full_name or None)
    except CaseError as exc:
        return _page(request, user, str(exc), status=400)
    return RedirectResponse("/admin/users", status_code=303)


def _user(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    if found is None:
        raise access.NotFound()
    return found


@router.post("/users/{user_id}/assign")
def assign(request: Request, user_id: int, user: Annotated[Viewer, Depends(viewer)],
           case_ref: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "assign",
           csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    access.require(user, "users_manage", "manage accounts")
    try:
        with ctx(request).store.session() as session:
            target = _user(session, user_id)
            case = cases.get_case(session, case_ref)
            if action == "unassign":
                access.unassign(session, target, case, user.actor)
            else:
                access.assign(session, target, case, user.actor)
    except CaseError as exc:
        return _page(request, user, str(exc), status=400)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/unlock")
def unlock_user(request: Request, user_id: int, user: Annotated[Viewer, Depends(viewer)],
                csrf_token: Annotated[str, Form()] = "") -> Response:
    csrf.check(user, csrf_token)
    access.require(user, "users_manage", "manage accounts")
    with ctx(request).store.session() as session:
        unlock(session, _user(session, user_id), user.actor)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/active")
def set_active(request: Request, user_id: int, user: Annotated[Viewer, Depends(viewer)],
               active: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = ""
               ) -> Response:
    csrf.check(user, csrf_token)
    access.require(user, "users_manage", "manage accounts")
    with ctx(request).store.session() as session:
        target = _user(session, user_id)
        target.active = active == "yes"
        if not target.active:
            sessions.end_all(session, target.id)
        custody.append(session, custody.STORE_CHAIN, user.actor,
                       "user_enabled" if target.active else "user_disabled", target.name, {})
    return RedirectResponse("/admin/users", status_code=303)
