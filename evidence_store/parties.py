"""Who sent an event, in SQL and in Python, by the same rule as the timeline.

The timeline (evidence_store.timeline.attribute) names a sender by the identifier
the source gave, and only when that identifier is unknown by the display name
(``name:`` identifiers, compared casefolded). Analysis has to agree with what
the officer sees, so this module applies the same rule, once as a SQL clause for
set-based counting and once as a dictionary look-up for the few rows a Python
pass examines.

In SQL a display name is compared with ``lower()``, which equals casefolding for
ASCII names; for a name with other letters the case's distinct sender texts are
read once and casefolded in Python, so the match stays exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from evidence_store.models import Case, Event, Identifier, Person

#: The role given to an event nobody is known to have sent.
UNATTRIBUTED = "unattributed"


@dataclass(frozen=True, slots=True)
class Party:
    id: int
    name: str
    role: str
    identifiers: tuple[str, ...]


@dataclass(slots=True)
class Parties:
    """The persons of a case and how events are attributed to them."""

    persons: dict[int, Party]
    by_identifier: dict[str, int]
    # Casefolded display name (of a ``name:`` identifier) -> person.
    by_name: dict[str, int] = field(default_factory=dict)
    session: Session | None = None
    case_id: int | None = None
    _raw_names: dict[str, int] | None = None

    def with_role(self, role: str) -> list[Party]:
        return [p for p in self.persons.values() if p.role == role]

    def person_of(self, sender_id: str | None, sender: str | None, kind: str = "message"
                  ) -> int | None:
        if kind == "system":
            # A notice names a person but was not written by them.
            return None
        if sender_id is not None and sender_id in self.by_identifier:
            return self.by_identifier[sender_id]
        if sender is not None and self.by_name:
            return self.by_name.get(sender.casefold())
        return None

    def role_of(self, sender_id: str | None, sender: str | None, kind: str, direction: str
                ) -> str:
        """The sender's role; an outgoing event nobody is named for is the victim's own,
        because the material handed over is the victim's (their phone, their accounts)."""
        person = self.person_of(sender_id, sender, kind)
        if person is not None:
            return self.persons[person].role
        if direction == "outgoing" and kind != "system":
            return "victim"
        return UNATTRIBUTED

    def name_clause(self, names: Iterable[str]) -> ColumnElement[bool] | None:
        """SQL: the sender text is one of these casefolded display names."""
        wanted = sorted(set(names))
        if not wanted:
            return None
        plain = [n for n in wanted if n.isascii()]
        other = [n for n in wanted if not n.isascii()]
        clauses: list[ColumnElement[bool]] = []
        if plain:
            clauses.append(func.lower(Event.sender).in_(plain))
        if other:
            raw = sorted(t for t, p in self._raw().items() if t.casefold() in other)
            if raw:
                clauses.append(Event.sender.in_(raw))
        return or_(*clauses) if clauses else None

    def _raw(self) -> dict[str, int]:
        """Sender texts as the sources wrote them that casefold to a display name."""
        if self._raw_names is None:
            self._raw_names = {}
            if self.session is not None and self.by_name:
                for (sender,) in self.session.execute(
                        select(Event.sender).where(Event.case_id == self.case_id,
                                                   Event.sender.is_not(None)).distinct()):
                    owner = self.by_name.get(sender.casefold()) if sender else None
                    if sender and owner is not None:
                        self._raw_names[sender] = owner
        return self._raw_names

    def sent_by(self, person_ids: Iterable[int]) -> ColumnElement[bool]:
        """SQL: the event was sent by one of these persons (never a system notice)."""
        wanted = set(person_ids)
        ids = sorted(v for v, p in self.by_identifier.items() if p in wanted)
        clauses: list[ColumnElement[bool]] = []
        if ids:
            clauses.append(Event.sender_id.in_(ids))
        by_name = self.name_clause(n for n, p in self.by_name.items() if p in wanted)
        if by_name is not None:
            known = sorted(self.by_identifier)
            unknown_id: ColumnElement[bool] = Event.sender_id.is_(None)
            if known:
                unknown_id = or_(unknown_id, Event.sender_id.not_in(known))
            clauses.append(and_(by_name, unknown_id))
        if not clauses:
            return false()
        return and_(Event.kind != "system", or_(*clauses))

    def sent_by_role(self, role: str) -> ColumnElement[bool]:
        return self.sent_by(p.id for p in self.with_role(role))

    def fingerprint(self) -> list[list[str]]:
        """What attribution depends on, for knowing when stored results are stale."""
        return sorted([value, self.persons[pid].role, self.persons[pid].name]
                      for value, pid in self.by_identifier.items())


def load_parties(session: Session, case: Case) -> Parties:
    rows = session.execute(
        select(Person.id, Person.name, Person.role, Identifier.value)
        .outerjoin(Identifier, Identifier.person_id == Person.id)
        .where(Person.case_id == case.id).order_by(Person.id, Identifier.value)).all()
    values: dict[int, list[str]] = {}
    names: dict[int, tuple[str, str]] = {}
    for person_id, name, role, value in rows:
        names[person_id] = (name, role)
        values.setdefault(person_id, [])
        if value is not None:
            values[person_id].append(value)
    persons = {pid: Party(pid, name, role, tuple(values[pid]))
               for pid, (name, role) in names.items()}
    by_identifier = {v: pid for pid, vs in values.items() for v in vs}
    by_name = {v[5:]: pid for v, pid in by_identifier.items() if v.startswith("name:")}
    return Parties(persons, by_identifier, by_name, session, case.id)
