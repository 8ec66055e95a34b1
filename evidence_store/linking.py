"""Suggested links between identifiers and persons, and the officer's decisions on them.

A suggestion says "this identifier looks like that person's", why, how sure, and
which events show it. The officer confirms (the identifier is then added to the
person, so the timeline and every count name them) or rejects; both are kept
with who decided, when and why, and logged, because both are disclosable.
A decided pair is never suggested again.

Reasons and their confidence (a rough likelihood that the link is right, from
how each reason goes wrong in practice):

===========================  ====  ==============================================
code                         conf  what it means
===========================  ====  ==============================================
identifier_given_by_person   0.90  the person's own message gives it as theirs
                                   ("my new number is 07700 900123")
new_number_message           0.80  an unknown sender tells the victim it has a new
                                   number or that blocking will not work (0.50
                                   each when the case has several suspects)
same_identifier_in_sources   0.70  a text names the person next to the identifier,
                                   and the identifier is used in another exhibit
display_name_reused          0.60  sent under a name the person is known by
                                   (address-book names are the victim's, and
                                   names are shared, hence not higher)
handle_reused                0.50  the same handle on another platform
identifier_in_message        0.50  the person's message contains it, without
                                   saying it is theirs
identifier_named_with_person 0.40  a text names the person next to the identifier
seen_in_sources              0.10  only adds weight: the identifier appears in
                                   several exhibits
===========================  ====  ==============================================

Several reasons for one pair combine as independent evidence:
1 - product(1 - c), at most 0.99.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, Row, false, func, insert, or_, select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.models import Case, Event, Exhibit, Identifier, IdentifierLink, Notice, Person
from evidence_store.parties import Parties, load_parties
from evidence_store.rulebook import Rulebook, load_rules

SUGGESTED, CONFIRMED, REJECTED = "suggested", "confirmed", "rejected"

CONFIDENCE = {
    "identifier_given_by_person": 0.90,
    "new_number_message": 0.80,
    "same_identifier_in_sources": 0.70,
    "display_name_reused": 0.60,
    "handle_reused": 0.50,
    "identifier_in_message": 0.50,
    "identifier_named_with_person": 0.40,
    "seen_in_sources": 0.10,
}
_SEVERAL_SUSPECTS = 0.50
# Fewer digits than this is a year, a code or an amount, not a phone number.
_MIN_PHONE_DIGITS = 8
_CITED = 50
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# The last pronoun in the few words before an identifier says whose it is: "my new
# number is ..." and "email me at ..." give the writer's own, "I know your new number"
# does not.
_PRONOUN = re.compile(r"(?<!\w)(my|me|mine|i['’]?m|i am|this is|it['’]?s me|your|yours|"
                      r"you['’]?re|ur|his|her|their)(?!\w)", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"my|me|mine|i['’]?m|i am|this is|it['’]?s me", re.IGNORECASE)
_OWN_WINDOW = 40
_MEANINGLESS_NAMES = frozenset({"", "unknown", "(unknown)", "null", "me", "you"})
# Kinds whose text can carry an identifier someone wrote.
_TEXT_KINDS = ("message", "email", "incident", "screenshot", "capture")


@dataclass(frozen=True, slots=True)
class LinkSuggestion:
    id: int
    value: str
    person_id: int
    person_name: str
    person_role: str
    status: str
    reason: str
    reason_codes: tuple[str, ...]
    confidence: float
    event_ids: tuple[int, ...]
    suggested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "identifier": self.value, "person_id": self.person_id,
            "person": self.person_name, "role": self.person_role, "status": self.status,
            "reason": self.reason, "reason_codes": list(self.reason_codes),
            "confidence": self.confidence, "event_ids": list(self.event_ids),
            "suggested_at": _utc_z(self.suggested_at), "decided_by": self.decided_by,
            "decided_at": _utc_z(self.decided_at) if self.decided_at else None,
            "note": self.note,
        }


@dataclass(slots=True)
class _Reasons:
    """Why one identifier looks like one person's, gathered before storing."""

    by_code: dict[str, tuple[float, str]] = field(default_factory=dict)
    event_ids: set[int] = field(default_factory=set)

    def add(self, code: str, sentence: str, events: Iterable[int],
            confidence: float | None = None) -> None:
        value = CONFIDENCE[code] if confidence is None else confidence
        if code not in self.by_code or self.by_code[code][0] < value:
            self.by_code[code] = (value, sentence)
        self.event_ids.update(events)

    def confidence(self) -> float:
        doubt = 1.0
        for value, _ in self.by_code.values():
            doubt *= 1.0 - value
        return round(min(1.0 - doubt, 0.99), 2)

    def sentence(self) -> str:
        return " ".join(s for _, (_, s) in sorted(self.by_code.items(),
                                                 key=lambda kv: -kv[1][0]))


def _utc_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- gathering evidence ---------------------------------------------------------------


@dataclass(slots=True)
class _Seen:
    """Where an identifier appears as sender or recipient."""

    exhibits: set[int] = field(default_factory=set)
    first_event: int | None = None
    names: set[str] = field(default_factory=set)  # display names it was sent under

    def note(self, exhibit: int, event_id: int) -> None:
        self.exhibits.add(exhibit)
        if self.first_event is None or event_id < self.first_event:
            self.first_event = event_id


def _seen_identifiers(session: Session, case: Case) -> tuple[dict[str, _Seen],
                                                            dict[str, set[int]]]:
    """Identifiers as senders and recipients (one grouped pass), and display names
    sent without any identifier (name -> exhibits)."""
    seen: dict[str, _Seen] = defaultdict(_Seen)
    bare_names: dict[str, set[int]] = defaultdict(set)
    for sender, sender_id, exhibit, first in session.execute(
            select(Event.sender, Event.sender_id, Event.exhibit_id, func.min(Event.id))
            .where(Event.case_id == case.id, Event.kind != "system",
                   or_(Event.sender_id.is_not(None), Event.sender.is_not(None)))
            .group_by(Event.sender, Event.sender_id, Event.exhibit_id)):
        if sender_id is None:
            if sender:
                bare_names[sender].add(exhibit)
            continue
        seen[sender_id].note(exhibit, first)
        if sender:
            seen[sender_id].names.add(sender)
    for recipients, exhibit, first in session.execute(
            select(Event.recipients, Event.exhibit_id, func.min(Event.id))
            .where(Event.case_id == case.id, Event.recipients != "[]")
            .group_by(Event.recipients, Event.exhibit_id)):
        for value in json.loads(recipients):
            if isinstance(value, str):
                seen[value].note(exhibit, first)
    return seen, bare_names


def _name_forms(parties: Parties, seen: dict[str, _Seen]) -> dict[str, int]:
    """Casefolded display name -> the one person it points to (ambiguous names dropped)."""
    owners: dict[str, set[int]] = defaultdict(set)
    for party in parties.persons.values():
        owners[party.name.casefold().strip()].add(party.id)
        for value in party.identifiers:
            if value.startswith("name:"):
                owners[value[5:]].add(party.id)
            for name in seen[value].names if value in seen else ():
                owners[name.casefold().strip()].add(party.id)
    return {name: next(iter(ids)) for name, ids in owners.items()
            if len(ids) == 1 and name not in _MEANINGLESS_NAMES}


def _events_of(session: Session, case: Case, value: str, limit: int = _CITED) -> list[int]:
    """The first events sent by (or to) an identifier, in time order."""
    if value.startswith("name:"):
        return []
    sent = select(Event.id, Event.occurred_at).where(
        Event.case_id == case.id, Event.sender_id == value)
    received = select(Event.id, Event.occurred_at).where(
        Event.case_id == case.id, Event.recipients.contains(json.dumps(value)))
    ids = [row[0] for row in session.execute(sent.order_by(Event.occurred_at).limit(limit))]
    if len(ids) < limit:
        ids += [row[0] for row in session.execute(received.order_by(Event.occurred_at)
                                                  .limit(limit - len(ids)))]
    return ids


def _handle(value: str) -> tuple[str, str] | None:
    if value.startswith("name:") or value.startswith("+"):
        return None
    if "@" in value:
        local = value.split("@", 1)[0]
        return ("email", local) if len(local) >= 4 else None
    if ":" in value:
        platform, handle = value.split(":", 1)
        return (platform, handle) if len(handle) >= 3 else None
    return None


def _digit_or_at(dialect: str) -> ColumnElement[bool]:
    """SQL pre-filter: texts that may hold a phone number or an e-mail address."""
    if dialect == "postgresql":
        return Event.text.op("~")("[0-9]{4}|@")
    return or_(Event.text.op("GLOB")("*[0-9][0-9][0-9][0-9]*"), Event.text.contains("@"))


def identifiers_in_text(text: str, region: str) -> list[tuple[str, int, int]]:
    """(identifier, start, end) of phone numbers and e-mail addresses written in a text."""
    emails = [(m.group(0).lower().strip("."), m.start(), m.end()) for m in _EMAIL.finditer(text)]
    # Digits inside an address ("sam.t.1990@...") are not a phone number.
    masked = _EMAIL.sub(lambda m: " " * len(m.group(0)), text)
    phones = []
    for match in phonenumbers.PhoneNumberMatcher(masked, region,
                                                 leniency=phonenumbers.Leniency.POSSIBLE):
        if sum(c.isdigit() for c in match.raw_string) < _MIN_PHONE_DIGITS:
            continue
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        phones.append((e164, match.start, match.end))
    return sorted(phones + emails, key=lambda found: found[1])


def _given_as_own(text: str, start: int) -> bool:
    pronouns = _PRONOUN.findall(text[max(0, start - _OWN_WINDOW):start])
    return bool(pronouns) and _FIRST_PERSON.fullmatch(pronouns[-1]) is not None


def _mentioned_person(text: str, names: dict[str, int]) -> int | None:
    lowered = text.casefold()
    hits = {pid for name, pid in names.items()
            if len(name) >= 3 and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", lowered)}
    return next(iter(hits)) if len(hits) == 1 else None


def _gather(session: Session, case: Case, parties: Parties, book: Rulebook
            ) -> dict[tuple[str, int], _Reasons]:
    found: dict[tuple[str, int], _Reasons] = defaultdict(_Reasons)
    seen, bare_names = _seen_identifiers(session, case)
    known = parties.by_identifier
    names = _name_forms(parties, seen)
    # First names too, for texts that say "Sam" rather than "Sam Taylor".
    text_names = dict(names)
    for party in parties.persons.values():
        first = party.name.split()[0].casefold() if party.name.split() else ""
        if len(first) >= 3 and first not in text_names:
            text_names[first] = party.id
    exhibit_refs = {exhibit_id: ref for exhibit_id, ref in session.execute(
        select(Exhibit.id, Exhibit.ref).where(Exhibit.case_id == case.id))}

    def refs(exhibits: Iterable[int]) -> str:
        return ", ".join(sorted(exhibit_refs.get(e, str(e)) for e in exhibits))

    # Display names and handles.
    for value, where in seen.items():
        if value in known:
            continue
        for name in sorted(where.names):
            owner = names.get(name.casefold().strip())
            if owner is not None:
                who = parties.persons[owner].name
                found[(value, owner)].add(
                    "display_name_reused",
                    f"{value} sent messages under the name {name!r}, which is how {who} is "
                    f"known ({refs(where.exhibits)}).", [where.first_event or 0])
        mine = _handle(value)
        if mine is None:
            continue
        for party in parties.persons.values():
            for theirs in party.identifiers:
                other = _handle(theirs)
                if other and other[1] == mine[1] and other[0] != mine[0]:
                    found[(value, party.id)].add(
                        "handle_reused", f"{value} uses the same handle as {party.name}'s "
                        f"{theirs}.", [where.first_event or 0])
    for name, exhibits in bare_names.items():
        owner = names.get(name.casefold().strip())
        value = f"name:{name.casefold().strip()}"
        if owner is not None and value not in known and parties.person_of(None, name) is None:
            who = parties.persons[owner].name
            first_id = session.execute(select(func.min(Event.id)).where(
                Event.case_id == case.id, Event.sender == name,
                Event.sender_id.is_(None))).scalar_one()
            found[(value, owner)].add(
                "display_name_reused", f"messages are sent under the name {name!r}, which is "
                f"how {who} is known ({refs(exhibits)}).", [first_id])

    # Identifiers written in texts.
    victims = parties.with_role("victim")
    own_victim = victims[0].id if len(victims) == 1 else None
    rows = session.execute(
        select(Event.id, Event.kind, Event.direction, Event.sender_id, Event.sender,
               Event.exhibit_id, Event.text)
        .where(Event.case_id == case.id, Event.kind.in_(_TEXT_KINDS), Event.text.is_not(None),
               _digit_or_at(session.get_bind().dialect.name))
        .execution_options(yield_per=2000))
    for event_id, kind, direction, sender_id, sender, exhibit, text in rows:
        if not text:
            continue
        writer = parties.person_of(sender_id, sender, kind)
        if writer is None and direction == "outgoing" and kind != "incident":
            writer = own_victim
        for value, start, _ in identifiers_in_text(text, case.default_region):
            if value in known or (writer is not None and value in parties.persons[writer]
                                  .identifiers):
                continue
            elsewhere = seen[value].exhibits - {exhibit} if value in seen else set()
            if writer is not None and kind != "incident":
                who = parties.persons[writer].name
                if _given_as_own(text, start):
                    found[(value, writer)].add(
                        "identifier_given_by_person",
                        f"{who} gives {value} as their own in event {event_id}.", [event_id])
                else:
                    found[(value, writer)].add(
                        "identifier_in_message",
                        f"{who}'s message (event {event_id}) contains {value}.", [event_id])
                continue
            named = _mentioned_person(text, text_names)
            if named is None:
                continue
            who = parties.persons[named].name
            if elsewhere:
                used = seen[value].first_event
                found[(value, named)].add(
                    "same_identifier_in_sources",
                    f"event {event_id} names {who} next to {value}, and {value} is used in "
                    f"{refs(elsewhere)}.", [event_id] if used is None else [event_id, used])
            else:
                found[(value, named)].add(
                    "identifier_named_with_person",
                    f"event {event_id} names {who} next to {value}.", [event_id])

    # "New number, you can't block this one" from someone unknown.
    suspects = parties.with_role("suspect")
    phrase_filter = book.new_number.sql_filter(Event.text, session.get_bind().dialect.name)
    if suspects and book.new_number.regex is not None:
        # Only senders nobody is recorded for: decided first, before any text is looked at.
        query = (select(Event.id, Event.kind, Event.direction, Event.sender_id, Event.sender,
                        Event.text)
                 .where(Event.case_id == case.id, Event.kind.in_(("message", "email", "call")),
                        Event.direction != "outgoing",
                        # NULL (an unknown sender) must count as "not sent by".
                        ~func.coalesce(parties.sent_by(parties.persons), false()),
                        Event.text.is_not(None))
                 .execution_options(yield_per=2000))
        if phrase_filter is not None:
            query = query.where(phrase_filter)
        share = CONFIDENCE["new_number_message"] if len(suspects) == 1 else _SEVERAL_SUSPECTS
        for event_id, kind, direction, sender_id, sender, text in session.execute(query):
            if not text or parties.role_of(sender_id, sender, kind, direction) != "unattributed":
                continue
            match = book.new_number.search(text)
            if match is None:
                continue
            writer_id = sender_id or (f"name:{sender.casefold().strip()}" if sender else None)
            if writer_id is None or writer_id in known:
                continue
            for suspect in suspects:
                found[(writer_id, suspect.id)].add(
                    "new_number_message",
                    f"{writer_id} wrote {match.group(0)!r} (event {event_id}), as someone the "
                    f"victim had blocked or changed numbers to avoid would.", [event_id], share)

    for (value, _), reasons in found.items():
        if value in seen and len(seen[value].exhibits) > 1:
            reasons.add("seen_in_sources",
                        f"{value} appears in {refs(seen[value].exhibits)}.", [])
    return found


# --- storing and deciding -------------------------------------------------------------


def suggest_links(session: Session, case: Case, rules_path: str | Path | None = None,
                  actor: str = "conduct") -> list[LinkSuggestion]:
    """Work out link suggestions from the events and store them (idempotently: a pending
    suggestion is refreshed, a decided one is left alone). Returns the pending ones."""
    book = load_rules(rules_path)
    parties = load_parties(session, case)
    found = _gather(session, case, parties, book)
    existing = {(link.value, link.person_id): link for link in session.execute(
        select(IdentifierLink).where(IdentifierLink.case_id == case.id)).scalars()}
    now = datetime.now(UTC)
    added: list[dict[str, Any]] = []
    refreshed = 0
    for (value, person_id), reasons in sorted(found.items()):
        event_ids = sorted(e for e in reasons.event_ids if e)
        if len(event_ids) < _CITED:
            more = _events_of(session, case, value, _CITED - len(event_ids))
            event_ids = sorted(set(event_ids) | set(more))
        row = {"reason": reasons.sentence(), "reason_codes": json.dumps(sorted(reasons.by_code)),
               "confidence": reasons.confidence(), "event_ids": json.dumps(event_ids)}
        link = existing.get((value, person_id))
        if link is None:
            added.append({"case_id": case.id, "value": value, "person_id": person_id,
                          "status": SUGGESTED, "suggested_at": now, **row})
        elif link.status == SUGGESTED and any(getattr(link, k) != v for k, v in row.items()):
            for key, new in row.items():
                setattr(link, key, new)
            refreshed += 1
    if added:
        session.execute(insert(IdentifierLink), added)
    if added or refreshed:
        custody.append(session, custody.case_chain(case.ref), actor, "links_suggested",
                       case.ref, {"new": [(r["value"], r["person_id"]) for r in added],
                                  "refreshed": refreshed})
    session.flush()
    return [link for link in links_of_case(session, case) if link.status == SUGGESTED]


def links_of_case(session: Session, case: Case) -> list[LinkSuggestion]:
    rows = session.execute(
        select(IdentifierLink, Person.name, Person.role)
        .join(Person, Person.id == IdentifierLink.person_id)
        .where(IdentifierLink.case_id == case.id).order_by(IdentifierLink.id))
    return [_result(link, name, role) for link, name, role in rows]


def _result(link: IdentifierLink, name: str, role: str) -> LinkSuggestion:
    return LinkSuggestion(
        id=link.id, value=link.value, person_id=link.person_id, person_name=name,
        person_role=role, status=link.status, reason=link.reason,
        reason_codes=tuple(json.loads(link.reason_codes)), confidence=link.confidence,
        event_ids=tuple(json.loads(link.event_ids)), suggested_at=link.suggested_at,
        decided_by=link.decided_by, decided_at=link.decided_at, note=link.note)


def _pending(session: Session, case: Case, link_id: int) -> tuple[IdentifierLink, Person]:
    found = session.execute(
        select(IdentifierLink, Person).join(Person, Person.id == IdentifierLink.person_id)
        .where(IdentifierLink.case_id == case.id, IdentifierLink.id == link_id)).first()
    if found is None:
        raise CaseError(f"case {case.ref} has no link suggestion {link_id}")
    link, person = found
    if link.status != SUGGESTED:
        raise CaseError(f"link {link_id} was already {link.status} by {link.decided_by}")
    return link, person


def confirm_link(session: Session, case: Case, link_id: int, by: str,
                 note: str | None = None) -> LinkSuggestion:
    """The officer confirms: the identifier becomes the person's, and that is logged."""
    link, person = _pending(session, case, link_id)
    owner = session.execute(
        select(Person.name).join(Identifier, Identifier.person_id == Person.id)
        .where(Identifier.case_id == case.id, Identifier.value == link.value)).scalar()
    if owner is not None:
        raise CaseError(f"{link.value} already belongs to {owner} in case {case.ref}")
    session.add(Identifier(case_id=case.id, person_id=person.id, value=link.value))
    return _decide(session, case, link, person, CONFIRMED, by, note)


def reject_link(session: Session, case: Case, link_id: int, by: str,
                note: str | None = None) -> LinkSuggestion:
    """The officer rejects: kept as rejected (disclosable) and never suggested again."""
    link, person = _pending(session, case, link_id)
    return _decide(session, case, link, person, REJECTED, by, note)


def _decide(session: Session, case: Case, link: IdentifierLink, person: Person, status: str,
            by: str, note: str | None) -> LinkSuggestion:
    """Record the officer's decision on the link and log it with what it was based on."""
    link.status, link.decided_by, link.decided_at, link.note = (
        status, by, datetime.now(UTC), note)
    custody.append(session, custody.case_chain(case.ref), by, f"link_{status}", case.ref,
                   {"link": link.id, "identifier": link.value, "person": person.name,
                    "reason_codes": json.loads(link.reason_codes),
                    "confidence": link.confidence, "note": note})
    session.flush()
    return _result(link, person.name, person.role)


# --- new identifiers after a block ----------------------------------------------------

#: Notice kinds that mean the victim cut a channel off.
BLOCK_KINDS = ("blocked", "number_changed")
#: Notice statuses that count: recorded by an officer, or a suggestion accepted.
APPLIED = ("recorded", "accepted")


def applied_notices(session: Session, case: Case, kinds: Sequence[str]
                    ) -> Sequence[Row[int, datetime, int | None]]:
    """The case's notices of these kinds that count, in time order: (id, given_at,
    person_id). Here rather than in notices, which builds on this module."""
    return session.execute(
        select(Notice.id, Notice.given_at, Notice.person_id)
        .where(Notice.case_id == case.id, Notice.kind.in_(kinds),
               Notice.status.in_(APPLIED))
        .order_by(Notice.given_at, Notice.id)).all()


@dataclass(frozen=True, slots=True)
class NewIdentifier:
    identifier: str
    person_id: int
    person_name: str
    first_at: datetime
    event_ids: list[int]
    notice_id: int
    blocked_at: datetime


def identifiers_after_block(session: Session, case: Case, parties: Parties | None = None
                            ) -> list[NewIdentifier]:
    """Suspect identifiers first used after the victim blocked someone or changed number.

    Each is paired with the latest block or number change before its first use.
    """
    parties = parties or load_parties(session, case)
    blocks = applied_notices(session, case, BLOCK_KINDS)
    if not blocks:
        return []
    found: list[NewIdentifier] = []
    for suspect in parties.with_role("suspect"):
        applicable = [(nid, at) for nid, at, pid in blocks if pid in (None, suspect.id)]
        if not applicable:
            continue
        sent = parties.sent_by([suspect.id])
        firsts = session.execute(
            select(Event.sender_id, Event.sender, func.min(Event.occurred_at))
            .where(Event.case_id == case.id, sent)
            .group_by(Event.sender_id, Event.sender)).all()
        first_of: dict[str, datetime] = {}
        for sender_id, sender, first in firsts:
            if sender_id is not None and sender_id in parties.by_identifier:
                value = sender_id
            elif sender:
                value = f"name:{sender.casefold()}"
            else:
                continue
            if value not in first_of or first < first_of[value]:
                first_of[value] = first
        for value, first in sorted(first_of.items()):
            before = [(nid, at) for nid, at in applicable if at < first]
            if not before:
                continue
            notice_id, blocked_at = before[-1]
            clause: ColumnElement[bool] | None
            if value.startswith("name:"):
                clause = parties.name_clause([value[5:]])
            else:
                clause = Event.sender_id == value
            if clause is None:
                continue
            ids = list(session.execute(
                select(Event.id).where(Event.case_id == case.id, sent, clause)
                .order_by(Event.occurred_at, Event.id).limit(_CITED)).scalars())
            found.append(NewIdentifier(value, suspect.id, suspect.name, first, ids,
                                       notice_id, blocked_at))
    return found

