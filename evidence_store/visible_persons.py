"""Who a screenshot shows: visible names, numbers, addresses and handles matched to
the case's persons, tolerating OCR's lost accents, spaces and look-alike glyphs.

Persons are added over the life of a case, so matches are recomputed from the
stored visible_* facts each time and replaced only when they changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from evidence_store import canonical_json, custody
from evidence_store.facts import FactWriter
from evidence_store.fuzzy_match import handle_similarity, name_similarity, number_similarity
from evidence_store.models import Case, Exhibit, Fact
from evidence_store.persons import persons_of
from parsers.records import DerivedFact, JSONValue

SOURCE = "conduct-person-match/1"
KIND = "visible_person"
#: Name similarity at or above which a visible name is taken to name a person:
#: one misread letter in a ten-letter name still passes (0.9), two do not.
NAME_THRESHOLD = 0.88
HANDLE_THRESHOLD = 0.9
_VISIBLE = ("visible_name", "visible_phone", "visible_email", "visible_handle")


@dataclass(frozen=True, slots=True)
class Known:
    person: str
    role: str
    identifier: str | None  # None: matched on the person's recorded name
    via: str  # phone, email, handle, name
    value: str


def known_identifiers(session: Session, case: Case) -> list[Known]:
    known: list[Known] = []
    for person, values in persons_of(session, case):
        known.append(Known(person.name, person.role, None, "name", person.name))
        for value in values:
            if value.startswith("name:"):
                known.append(Known(person.name, person.role, value, "name", value[5:]))
            elif value.startswith("+"):
                known.append(Known(person.name, person.role, value, "phone", value))
            elif ":" in value:
                known.append(Known(person.name, person.role, value, "handle",
                                   value.split(":", 1)[1]))
            elif "@" in value:
                known.append(Known(person.name, person.role, value, "email", value))
    return known


def match_item(kind: str, value: dict[str, JSONValue], known: Sequence[Known]
               ) -> list[dict[str, JSONValue]]:
    """Every person one visible item plausibly names, best first."""
    found: dict[tuple[str, str | None], dict[str, JSONValue]] = {}
    for candidate in known:
        score, exact = 0.0, False
        if kind == "visible_phone" and candidate.via == "phone":
            number = number_similarity(str(value.get("e164", "")), candidate.value)
            if number is not None:
                score, exact = number.score, number.exact
        elif kind == "visible_email" and candidate.via == "email":
            score = handle_similarity(str(value.get("address", "")), candidate.value)
            exact = str(value.get("address", "")) == candidate.value
            score = score if score >= 0.95 else 0.0
        elif kind == "visible_handle" and candidate.via == "handle":
            score = handle_similarity(str(value.get("handle", "")), candidate.value)
            exact = str(value.get("handle", "")) == candidate.value
            score = score if score >= HANDLE_THRESHOLD else 0.0
        elif kind == "visible_name" and candidate.via == "name":
            score = name_similarity(str(value.get("raw", "")), candidate.value)
            exact = str(value.get("raw", "")).casefold() == candidate.value.casefold()
            score = score if score >= NAME_THRESHOLD else 0.0
        if score <= 0:
            continue
        # One match per person and way: a name matched both as the person's name and
        # as their name: identifier is reported once, under the identifier.
        key = (candidate.person, candidate.via)
        previous = found.get(key)
        if previous is None or (float(previous["score"]), previous["identifier"] is not None) < (  # type: ignore[arg-type]
                score, candidate.identifier is not None):
            found[key] = {"person": candidate.person, "role": candidate.role,
                          "identifier": candidate.identifier, "via": candidate.via,
                          "score": score, "exact": exact}
    return sorted(found.values(), key=lambda m: (-float(m["score"]), str(m["person"])))  # type: ignore[arg-type]


def match_case(session: Session, case: Case, actor: str,
               exhibit_ids: Sequence[int] | None = None) -> int:
    """Recompute visible_person facts; returns how many exhibits changed."""
    known = known_identifiers(session, case)
    query = (select(Fact, Exhibit.ref).join(Exhibit, Exhibit.id == Fact.exhibit_id)
             .where(Fact.case_id == case.id, Fact.kind.in_((*_VISIBLE, KIND))))
    if exhibit_ids is not None:
        query = query.where(Fact.exhibit_id.in_(list(exhibit_ids)))
    new: dict[int, list[DerivedFact]] = {}
    old: dict[int, list[str]] = {}
    refs: dict[int, str] = {}
    for fact, ref in session.execute(query.order_by(Fact.exhibit_id, Fact.id)):
        refs[fact.exhibit_id] = ref
        new.setdefault(fact.exhibit_id, [])
        value = json.loads(fact.value)
        if fact.kind == KIND:
            old.setdefault(fact.exhibit_id, []).append(fact.value)
            continue
        for match in match_item(fact.kind, value, known):
            new[fact.exhibit_id].append(DerivedFact(KIND, {
                **match, "seen": value.get("raw"), "seen_kind": fact.kind,
                "line": value.get("line")}, about="file"))
    changed = 0
    for exhibit_id, facts in new.items():
        encoded = [canonical_json.dumps(f.value) for f in facts]
        if encoded == old.get(exhibit_id, []):
            continue
        session.execute(delete(Fact).where(Fact.exhibit_id == exhibit_id, Fact.kind == KIND))
        writer = FactWriter(session, case.id, exhibit_id, SOURCE)
        writer.add_all(facts, None)
        writer.flush()
        changed += 1
        custody.append(session, custody.case_chain(case.ref), actor, "persons_matched",
                       refs[exhibit_id], {"source": SOURCE, "matches": [
                           f"{f.value['person']} via {f.value['via']}" for f in facts]})
    return changed
