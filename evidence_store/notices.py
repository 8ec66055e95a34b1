"""Notice that contact is unwanted, and the contact that came after it.

Notices come two ways. The officer records one (a police notice or warning, a
Stalking Protection Order, or the victim blocking or changing a number) with
the date it was given. Or the victim's own words in the material ("stop
contacting me", "I will go to the police"; phrases from the rule file) are
offered as suggestions, which the officer accepts or rejects; only accepted
suggestions count. Every decision is logged.

``after_notice_event_ids`` then names every event the suspect sent after the
earliest notice that applies to them, with the latest notice it came after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, or_, select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.linking import applied_notices, identifiers_in_text
from evidence_store.models import Case, Event, Notice, Person
from evidence_store.parties import Parties, load_parties
from evidence_store.rulebook import load_rules
from evidence_store.streaming import stream_rows

#: What a notice can be. The first four tell the suspect contact is unwanted; the last
#: two record the victim cutting a channel off (see linking.identifiers_after_block).
KINDS = ("notice", "warning", "spo", "victim_message", "blocked", "number_changed")
UNWANTED_KINDS = ("notice", "warning", "spo", "victim_message")
OFFICER_KINDS = ("notice", "warning", "spo", "blocked", "number_changed")
SUGGESTED, RECORDED, ACCEPTED, REJECTED = "suggested", "recorded", "accepted", "rejected"

_MESSAGE_KINDS = ("message", "email")
_BLOCK_KINDS = ("incident", "system", "message", "email")


@dataclass(frozen=True, slots=True)
class NoticeResult:
    id: int
    kind: str
    status: str
    given_at: datetime
    given_by: str | None
    text: str | None
    person_id: int | None
    person_name: str | None
    identifier: str | None
    source_event_id: int | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "status": self.status,
            "given_at": _utc_z(self.given_at), "given_by": self.given_by, "text": self.text,
            "person_id": self.person_id, "person": self.person_name,
            "identifier": self.identifier, "source_event_id": self.source_event_id,
            "reason": self.reason, "recorded_by": self.recorded_by,
            "recorded_at": _utc_z(self.recorded_at), "decided_by": self.decided_by,
            "decided_at": _utc_z(self.decided_at) if self.decided_at else None,
        }


def _utc_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- suggestions from the material ----------------------------------------------------


def _victim_sent(parties: Parties) -> ColumnElement[bool]:
    """The victim's own events: sent by a victim, or outgoing with nobody else named."""
    others = sorted(v for v, p in parties.by_identifier.items()
                    if parties.persons[p].role != "victim")
    outgoing: ColumnElement[bool] = Event.direction == "outgoing"
    if others:
        outgoing = and_(outgoing, or_(Event.sender_id.is_(None), Event.sender_id.not_in(others)))
    return or_(parties.sent_by_role("victim"), outgoing)


def _recipient_suspect(parties: Parties, recipients: str) -> int | None:
    """The one suspect a message went to, when its recipients say so."""
    found = {parties.by_identifier[r] for r in json.loads(recipients)
             if isinstance(r, str) and r in parties.by_identifier
             and parties.persons[parties.by_identifier[r]].role == "suspect"}
    return next(iter(found)) if len(found) == 1 else None


def _only_non_suspects(parties: Parties, recipients: str) -> bool:
    """Recipients are all named and none is a suspect (a friend told "leave me alone"
    is not a notice to anyone)."""
    values = [r for r in json.loads(recipients) if isinstance(r, str)]
    return bool(values) and all(
        r in parties.by_identifier and parties.persons[parties.by_identifier[r]].role
        != "suspect" for r in values)


def _exhibit_suspect(session: Session, parties: Parties, exhibit_id: int
                     ) -> tuple[int | None, str | None]:
    """The single suspect (and identifier) writing in an exhibit, e.g. a one-to-one chat
    in which WhatsApp recorded "You blocked this contact"."""
    suspects = [p.id for p in parties.with_role("suspect")]
    if not suspects:
        return None, None
    rows = session.execute(
        select(Event.sender_id, Event.sender).where(Event.exhibit_id == exhibit_id,
                                                    parties.sent_by(suspects)).distinct()).all()
    people = {parties.person_of(sid, s) for sid, s in rows} - {None}
    ids = {sid for sid, _ in rows if sid}
    person = next(iter(people)) if len(people) == 1 else None
    return person, (next(iter(ids)) if person is not None and len(ids) == 1 else None)


def _first_phone(text: str, region: str) -> str | None:
    return next((value for value, _, _ in identifiers_in_text(text, region)
                 if value.startswith("+")), None)


def suggest_notices(session: Session, case: Case, rules_path: str | Path | None = None,
                    actor: str = "conduct") -> list[NoticeResult]:
    """Offer the victim's "stop" messages, and blocks or number changes the material
    records, as notice suggestions (idempotent). Returns the pending suggestions."""
    book = load_rules(rules_path)
    parties = load_parties(session, case)
    victims = parties.with_role("victim")
    victim_name = victims[0].name if len(victims) == 1 else "the victim"
    existing: set[tuple[int | None, str]] = {
        (event_id, kind) for event_id, kind in session.execute(
            select(Notice.source_event_id, Notice.kind)
            .where(Notice.case_id == case.id, Notice.source_event_id.is_not(None)))}
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []

    def offer(event_id: int, kind: str, at: datetime, text: str, phrase: str,
              person: int | None, identifier: str | None, where: str) -> None:
        if (event_id, kind) in existing:
            return
        existing.add((event_id, kind))
        rows.append({
            "case_id": case.id, "kind": kind, "status": SUGGESTED, "given_at": at,
            "given_by": victim_name, "text": text, "person_id": person,
            "identifier": identifier, "source_event_id": event_id,
            "reason": f"{where} (event {event_id}) says {phrase!r}",
            "recorded_by": actor, "recorded_at": now,
        })

    dialect = session.get_bind().dialect.name
    stop_filter = book.stop.sql_filter(Event.text, dialect)
    if book.stop.regex is not None and stop_filter is not None:
        # Cheap conditions first: SQLite evaluates them in order and stops early.
        query = (select(Event.id, Event.occurred_at, Event.text, Event.recipients)
                 .where(Event.case_id == case.id, Event.kind.in_(_MESSAGE_KINDS),
                        _victim_sent(parties), Event.text.is_not(None), stop_filter)
                 .order_by(Event.occurred_at, Event.id))
        for event_id, at, text, recipients in session.execute(query):
            match = book.stop.search(text)
            if match is None or _only_non_suspects(parties, recipients):
                continue
            offer(event_id, "victim_message", at, text or "", match.group(0),
                  _recipient_suspect(parties, recipients), None, "the victim's message")

    for kind, phrases in (("blocked", book.blocked), ("number_changed", book.number_changed)):
        phrase_filter = phrases.sql_filter(Event.text, dialect)
        if phrases.regex is None or phrase_filter is None:
            continue
        cut_off = (select(Event.id, Event.kind, Event.exhibit_id, Event.occurred_at, Event.text)
                   .where(Event.case_id == case.id, Event.kind.in_(_BLOCK_KINDS),
                          or_(Event.kind.in_(("incident", "system")), _victim_sent(parties)),
                          Event.text.is_not(None), phrase_filter)
                   .order_by(Event.occurred_at, Event.id))
        for event_id, event_kind, exhibit_id, at, text in session.execute(cut_off):
            match = phrases.search(text)
            if match is None or not text:
                continue
            person: int | None = None
            identifier = _first_phone(text, case.default_region)
            if identifier is not None and identifier in parties.by_identifier:
                person = parties.by_identifier[identifier]
            elif event_kind == "system":
                person, identifier = _exhibit_suspect(session, parties, exhibit_id)
            where = {"incident": "the victim's diary", "system": "the chat's own notice"}.get(
                event_kind, "the victim's message")
            offer(event_id, kind, at, text, match.group(0), person, identifier, where)

    if rows:
        session.execute(insert(Notice), rows)
        custody.append(session, custody.case_chain(case.ref), actor, "notices_suggested",
                       case.ref, {"events": [r["source_event_id"] for r in rows],
                                  "kinds": sorted({r["kind"] for r in rows})})
    session.flush()
    return [n for n in notices_of_case(session, case) if n.status == SUGGESTED]


# --- recording and deciding -----------------------------------------------------------


def record_notice(session: Session, case: Case, kind: str, given_at: datetime, by: str,
                  text: str | None = None, person: int | None = None,
                  source_event_id: int | None = None, identifier: str | None = None,
                  actor: str | None = None) -> NoticeResult:
    """The officer records a notice, warning, SPO, block or number change, with its date.

    ``by`` is who gave it (an officer, a court, the victim); ``actor`` who records it
    (defaults to ``by``)."""
    if kind not in OFFICER_KINDS:
        raise CaseError(f"notice kind must be one of {', '.join(OFFICER_KINDS)}, not {kind!r}")
    if given_at.tzinfo is None:
        raise CaseError("the notice time needs a zone or offset (e.g. 2024-03-12T10:00Z)")
    if person is not None:
        found = session.execute(select(Person).where(Person.case_id == case.id,
                                                     Person.id == person)).scalar_one_or_none()
        if found is None:
            raise CaseError(f"case {case.ref} has no person {person}")
    if source_event_id is not None and session.execute(
            select(Event.id).where(Event.case_id == case.id, Event.id == source_event_id)
    ).scalar_one_or_none() is None:
        raise CaseError(f"case {case.ref} has no event {source_event_id}")
    actor = actor or by
    notice = Notice(case_id=case.id, kind=kind, status=RECORDED, given_at=given_at,
                    given_by=by, text=text, person_id=person, identifier=identifier,
                    source_event_id=source_event_id, reason=None, recorded_by=actor,
                    recorded_at=datetime.now(UTC))
    session.add(notice)
    session.flush()
    custody.append(session, custody.case_chain(case.ref), actor, "notice_recorded", case.ref,
                   {"notice": notice.id, "kind": kind, "given_at": _utc_z(given_at),
                    "given_by": by, "person": person, "identifier": identifier,
                    "source_event": source_event_id, "text": text})
    return _one(session, case, notice.id)


def _decide(session: Session, case: Case, notice_id: int, by: str, status: str) -> NoticeResult:
    notice = session.execute(select(Notice).where(
        Notice.case_id == case.id, Notice.id == notice_id)).scalar_one_or_none()
    if notice is None:
        raise CaseError(f"case {case.ref} has no notice {notice_id}")
    if notice.status != SUGGESTED:
        raise CaseError(f"notice {notice_id} is {notice.status}, not a pending suggestion")
    notice.status, notice.decided_by, notice.decided_at = status, by, datetime.now(UTC)
    custody.append(session, custody.case_chain(case.ref), by, f"notice_{status}", case.ref,
                   {"notice": notice.id, "kind": notice.kind,
                    "given_at": _utc_z(notice.given_at), "source_event": notice.source_event_id,
                    "person": notice.person_id})
    session.flush()
    return _one(session, case, notice.id)


def accept_suggestion(session: Session, case: Case, notice_id: int, by: str) -> NoticeResult:
    """The officer accepts a suggested notice: from now on it counts."""
    return _decide(session, case, notice_id, by, ACCEPTED)


def reject_suggestion(session: Session, case: Case, notice_id: int, by: str) -> NoticeResult:
    """The officer rejects a suggested notice: kept, logged, never counted."""
    return _decide(session, case, notice_id, by, REJECTED)


def notices_of_case(session: Session, case: Case) -> list[NoticeResult]:
    rows = session.execute(
        select(Notice, Person.name).outerjoin(Person, Person.id == Notice.person_id)
        .where(Notice.case_id == case.id).order_by(Notice.given_at, Notice.id))
    return [_result(notice, name) for notice, name in rows]


def _one(session: Session, case: Case, notice_id: int) -> NoticeResult:
    return next(n for n in notices_of_case(session, case) if n.id == notice_id)


def _result(notice: Notice, person_name: str | None) -> NoticeResult:
    return NoticeResult(
        id=notice.id, kind=notice.kind, status=notice.status, given_at=notice.given_at,
        given_by=notice.given_by, text=notice.text, person_id=notice.person_id,
        person_name=person_name, identifier=notice.identifier,
        source_event_id=notice.source_event_id, reason=notice.reason,
        recorded_by=notice.recorded_by, recorded_at=notice.recorded_at,
        decided_by=notice.decided_by, decided_at=notice.decided_at)


# --- contact after notice -------------------------------------------------------------


def after_notice_event_ids(session: Session, case: Case, parties: Parties | None = None
                           ) -> dict[int, int]:
    """Event id -> id of the latest applicable notice it came after, for every event a
    suspect sent strictly after a notice that applies to them (a notice naming them, or
    one naming nobody). Notices count once recorded by the officer or accepted.

    Set-based: one query per suspect and notice interval, however many events there are.
    """
    notices = applied_notices(session, case, UNWANTED_KINDS)
    if not notices:
        return {}
    parties = parties or load_parties(session, case)
    found: dict[int, int] = {}
    for suspect in parties.with_role("suspect"):
        applicable = [(nid, at) for nid, at, pid in notices if pid in (None, suspect.id)]
        sent = parties.sent_by([suspect.id])
        for index, (notice_id, at) in enumerate(applicable):
            if index + 1 < len(applicable) and applicable[index + 1][1] == at:
                continue  # two notices at one instant: the later-recorded one names it
            query = select(Event.id).where(Event.case_id == case.id, sent,
                                           Event.occurred_at > at)
            if index + 1 < len(applicable):
                query = query.where(Event.occurred_at <= applicable[index + 1][1])
            for batch in stream_rows(session, query, 10_000):
                found.update((event_id, notice_id) for (event_id,) in batch)
    return found
