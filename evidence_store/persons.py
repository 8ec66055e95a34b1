"""Who is who in a case: persons, their roles and the identifiers they use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.models import Case, Identifier, Person

ROLES = ("victim", "suspect", "witness", "other")


@dataclass(frozen=True, slots=True)
class Attribution:
    name: str
    role: str


def add_person(session: Session, case: Case, name: str, role: str, identifiers: Iterable[str],
               actor: str) -> Person:
    """``identifiers`` must already be normalised (collector.identities)."""
    if role not in ROLES:
        raise CaseError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    ids = sorted(set(identifiers))
    taken = session.execute(
        select(Identifier.value, Person.name).join(Person, Person.id == Identifier.person_id)
        .where(Identifier.case_id == case.id, Identifier.value.in_(ids))
    ).all()
    if taken:
        value, owner = taken[0]
        raise CaseError(f"{value} already belongs to {owner} in case {case.ref}")
    person = Person(case_id=case.id, name=name, role=role)
    session.add(person)
    session.flush()
    session.add_all(Identifier(case_id=case.id, person_id=person.id, value=v) for v in ids)
    custody.append(session, custody.case_chain(case.ref), actor, "person_added", name,
                   {"role": role, "identifiers": ids})
    return person


def persons_of(session: Session, case: Case) -> list[tuple[Person, list[str]]]:
    people = list(session.execute(
        select(Person).where(Person.case_id == case.id).order_by(Person.id)).scalars())
    values: dict[int, list[str]] = {p.id: [] for p in people}
    for person_id, value in session.execute(
            select(Identifier.person_id, Identifier.value).where(Identifier.case_id == case.id)
            .order_by(Identifier.value)):
        values[person_id].append(value)
    return [(p, values[p.id]) for p in people]


def attribution_map(session: Session, case: Case) -> dict[str, Attribution]:
    """Identifier -> the person it belongs to, for labelling timeline events."""
    return {
        value: Attribution(name, role)
        for value, name, role in session.execute(
            select(Identifier.value, Person.name, Person.role)
            .join(Person, Person.id == Identifier.person_id)
            .where(Identifier.case_id == case.id))
    }
