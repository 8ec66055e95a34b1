"""Who may do what, and on which cases.

Roles grant actions; cases are seen only by the users assigned to them. A case
a user is not assigned to answers 404, exactly as a case that does not exist,
so its reference is not confirmed to anyone outside it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.models import Case, CaseAssignment, User
from web.sessions import Viewer

PERMISSIONS: dict[str, frozenset[str]] = {
    "case_create": frozenset({"officer", "supervisor"}),
    "upload": frozenset({"officer", "investigator", "supervisor"}),
    "upload_link": frozenset({"officer", "supervisor"}),
    "quarantine_decide": frozenset({"officer", "supervisor"}),
    "annotate": frozenset({"officer", "investigator", "supervisor"}),
    "people_edit": frozenset({"officer", "investigator", "supervisor"}),
    "link_decide": frozenset({"officer", "investigator", "supervisor"}),
    "export": frozenset({"officer", "investigator", "supervisor", "cps"}),
    "custody_view": frozenset({"officer", "investigator", "supervisor", "cps"}),
    "users_manage": frozenset({"admin"}),
}


class NotFound(HTTPException):
    def __init__(self) -> None:
        super().__init__(404, "There is nothing here, or you do not have access to it.")


class Forbidden(HTTPException):
    def __init__(self, what: str) -> None:
        super().__init__(403, f"Your role may not {what}.")


def can(viewer: Viewer, permission: str) -> bool:
    return viewer.role in PERMISSIONS[permission]


def require(viewer: Viewer, permission: str, what: str) -> None:
    if not can(viewer, permission):
        raise Forbidden(what)


def case_for(session: Session, viewer: Viewer, ref: str) -> Case:
    """The case if ``viewer`` is assigned to it; 404 otherwise, whether or not it exists."""
    case = session.execute(
        select(Case).join(CaseAssignment, CaseAssignment.case_id == Case.id)
        .where(Case.ref == ref, CaseAssignment.user_id == viewer.user_id)
    ).scalar_one_or_none()
    if case is None:
        raise NotFound()
    return case


def case_allowing(session: Session, viewer: Viewer, ref: str, permission: str, what: str
                  ) -> Case:
    """The case, for a viewer assigned to it who may do ``what`` there. Assignment is
    checked first, so a case the viewer may not see answers 404, never 403."""
    case = case_for(session, viewer, ref)
    require(viewer, permission, what)
    return case


def cases_of(session: Session, viewer: Viewer) -> list[Case]:
    return list(session.execute(
        select(Case).join(CaseAssignment, CaseAssignment.case_id == Case.id)
        .where(CaseAssignment.user_id == viewer.user_id).order_by(Case.ref)).scalars())


def assign(session: Session, user: User, case: Case, actor: str) -> bool:
    """False when the user was assigned already."""
    if session.get(CaseAssignment, (case.id, user.id)) is not None:
        return False
    session.add(CaseAssignment(case_id=case.id, user_id=user.id, assigned_by=actor,
                               assigned_at=datetime.now(UTC)))
    custody.append(session, custody.case_chain(case.ref), actor, "user_assigned", case.ref,
                   {"user": user.name, "role": user.role})
    return True


def unassign(session: Session, user: User, case: Case, actor: str) -> bool:
    row = session.get(CaseAssignment, (case.id, user.id))
    if row is None:
        return False
    session.delete(row)
    custody.append(session, custody.case_chain(case.ref), actor, "user_unassigned", case.ref,
                   {"user": user.name})
    return True


def team_of(session: Session, case: Case) -> list[User]:
    return list(session.execute(
        select(User).join(CaseAssignment, CaseAssignment.user_id == User.id)
        .where(CaseAssignment.case_id == case.id).order_by(User.name)).scalars())
