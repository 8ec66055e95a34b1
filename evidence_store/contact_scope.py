"""Which events count as someone's contacts, as one SQL condition.

Attribution follows evidence_store.timeline.attribute exactly: an event's
sender_id names its person when it is a known identifier; otherwise its display
name is looked up as a ``name:`` identifier (case-folded). Notices (kind
``system``) are never anyone's contact. Identifier links confirmed by the
officer add Identifier rows to the person, so they count here without more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from evidence_store.cases import CaseError
from evidence_store.models import Case, Event, Identifier, Person

ScopeKind = Literal["suspects", "person", "inbound"]
_NAME = "name:"


@dataclass(frozen=True, slots=True)
class ContactScope:
    """Whose contacts to count: every suspect's (the default), one person's, or
    everything the victim received."""

    kind: ScopeKind = "suspects"
    person_id: int | None = None


@dataclass(frozen=True, slots=True)
class ResolvedScope:
    scope: ContactScope
    description: str
    persons: tuple[tuple[int, str], ...]
    identifiers: tuple[str, ...]
    condition: ColumnElement[bool]


def resolve(session: Session, case: Case, scope: ContactScope) -> ResolvedScope:
    """The SQL condition selecting the scope's events, and what it was built from."""
    people = session.execute(
        select(Person.id, Person.name, Person.role).where(Person.case_id == case.id)
        .order_by(Person.id)).all()
    values: dict[int, list[str]] = {p.id: [] for p in people}
    for person_id, value in session.execute(
            select(Identifier.person_id, Identifier.value).where(Identifier.case_id == case.id)
            .order_by(Identifier.value)):
        values[person_id].append(value)
    known = sorted(v for vs in values.values() for v in vs if not v.startswith(_NAME))
    if scope.kind == "person":
        chosen = [p for p in people if p.id == scope.person_id]
        if not chosen:
            raise CaseError(f"case {case.ref} has no person {scope.person_id} "
                            "(see `conduct person list`)")
        description = f"contacts from {chosen[0].name} ({chosen[0].role})"
    elif scope.kind == "suspects":
        chosen = [p for p in people if p.role == "suspect"]
        if not chosen:
            raise CaseError(f"case {case.ref} has no suspect: record one with `conduct person "
                            "add ... --role suspect`, or choose a person or all inbound contacts")
        description = "contacts from " + ", ".join(f"{p.name} (suspect)" for p in chosen)
    else:
        chosen = [p for p in people if p.role != "victim"]
        description = "everything the victim received (incoming, or from anyone but the victim)"
    ids = tuple(sorted(v for p in chosen for v in values[p.id]))
    condition = sent_by(session, case, ids, known)
    if scope.kind == "inbound":
        condition = or_(Event.direction == "incoming", condition)
    return ResolvedScope(scope, description, tuple((p.id, p.name) for p in chosen), ids,
                         and_(Event.case_id == case.id, Event.kind != "system", condition))


def sent_by(session: Session, case: Case, identifiers: Iterable[str],
            known: Iterable[str]) -> ColumnElement[bool]:
    """Events whose sender is one of ``identifiers`` (``known``: every non-name
    identifier of the case, which takes precedence over a display name)."""
    ids = sorted({v for v in identifiers if not v.startswith(_NAME)})
    names = sorted({v[len(_NAME):] for v in identifiers if v.startswith(_NAME)})
    parts: list[ColumnElement[bool]] = []
    if ids:
        parts.append(Event.sender_id.in_(ids))
    if names:
        by_name = _name_matches(session, case, names)
        known = sorted(set(known))
        if known:
            by_name = and_(by_name, or_(Event.sender_id.is_(None), Event.sender_id.not_in(known)))
        parts.append(by_name)
    return or_(*parts) if parts else false()


def _name_matches(session: Session, case: Case, names: list[str]) -> ColumnElement[bool]:
    """Display names equal to ``names`` after case-folding, as timeline.attribute does.

    For ASCII names SQL's lower() is exactly case-folding, on both databases. A
    non-ASCII name needs Python's casefold(), so the case's distinct display names
    are read once and the matching ones named exactly.
    """
    plain = [n for n in names if n.isascii()]
    other = {n for n in names if not n.isascii()}
    parts: list[ColumnElement[bool]] = []
    if plain:
        parts.append(func.lower(Event.sender).in_(plain))
    if other:
        senders = session.execute(
            select(Event.sender).where(Event.case_id == case.id, Event.sender.is_not(None))
            .distinct()).scalars()
        exact = sorted(s for s in senders if s is not None and s.casefold() in other)
        if exact:
            parts.append(Event.sender.in_(exact))
    return or_(*parts) if parts else false()


def representative_condition(case: Case) -> ColumnElement[bool] | None:
    """One event per occurrence once duplicates are merged (evidence_store.occurrences),
    so the same message received in two exports is counted once; None before that
    module exists."""
    try:
        from evidence_store.occurrences import representative_event_filter
    except ImportError:
        return None
    return representative_event_filter(case.id)  # type: ignore[no-any-return]
