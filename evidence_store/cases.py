"""Cases and their exhibits: creation, references, look-ups."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.localtime import zone
from evidence_store.models import Blob, Case, Exhibit


class CaseError(Exception):
    """A user-facing problem with a case operation (one clear line)."""


_INITIALS = re.compile(r"^[A-Z]{1,6}$")


def create_case(session: Session, ref: str, title: str, officer: str, initials: str,
                timezone: str = "Europe/London", region: str = "GB") -> Case:
    initials = initials.strip().upper()
    if not _INITIALS.match(initials):
        raise CaseError(f"initials must be 1-6 letters, not {initials!r}")
    if not ref.strip() or "/" in ref:
        raise CaseError(f"case reference {ref!r} must be non-empty and contain no '/'")
    zone(timezone)
    if session.execute(select(Case).where(Case.ref == ref)).scalar_one_or_none() is not None:
        raise CaseError(f"case {ref} already exists")
    case = Case(ref=ref, title=title, officer_name=officer, officer_initials=initials,
                timezone=timezone, default_region=region, created_at=datetime.now(UTC))
    session.add(case)
    session.flush()
    custody.append(session, custody.case_chain(ref), officer, "case_created", ref,
                   {"title": title, "officer": officer, "initials": initials,
                    "timezone": timezone, "default_region": region})
    return case


def get_case(session: Session, ref: str) -> Case:
    case = session.execute(select(Case).where(Case.ref == ref)).scalar_one_or_none()
    if case is None:
        raise CaseError(f"no case {ref!r} (see `conduct case list`)")
    return case


def list_cases(session: Session) -> list[Case]:
    return list(session.execute(select(Case).order_by(Case.ref)).scalars())


def initials_of(name: str) -> str:
    letters = "".join(part[0] for part in re.findall(r"[A-Za-z]+", name))
    return letters.upper()[:6] or "X"


def next_top_ref(session: Session, case: Case, initials: str) -> str:
    """UK practice: the producing officer's initials and a running number (JS/1, JS/2)."""
    prefix = f"{initials}/"
    refs = session.execute(
        select(Exhibit.ref).where(Exhibit.case_id == case.id, Exhibit.parent_id.is_(None),
                                  Exhibit.ref.startswith(prefix))
    ).scalars()
    numbers = [int(r[len(prefix):]) for r in refs if r[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def ensure_blob(session: Session, sha256: str, size: int, media_type: str) -> Blob:
    blob = session.get(Blob, sha256)
    return blob if blob is not None else add_blob(session, sha256, size, media_type)


def add_blob(session: Session, sha256: str, size: int, media_type: str) -> Blob:
    blob = Blob(sha256=sha256, size=size, media_type=media_type, stored_at=datetime.now(UTC))
    session.add(blob)
    return blob


def first_receipt(session: Session, case: Case, sha256: str) -> Exhibit | None:
    """The earliest exhibit of this case holding these bytes (duplicates point at it)."""
    return session.execute(
        select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.sha256 == sha256,
                              Exhibit.duplicate_of_id.is_(None))
        .order_by(Exhibit.id).limit(1)
    ).scalar_one_or_none()


def exhibits_of(session: Session, case: Case) -> list[Exhibit]:
    return list(session.execute(
        select(Exhibit).where(Exhibit.case_id == case.id).order_by(Exhibit.id)
    ).scalars())
