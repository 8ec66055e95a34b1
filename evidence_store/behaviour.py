"""Behaviour flags: the rule file applied to a case's events, each flag citing its evidence.

A flag is one rule that fired on one event (or, for rules grouped by day, on the
events of one local day). It records the rule's id, version and a hash of its
wording, its category, the s.2A(3) behaviours and FOUR elements the rule maps
to, an explanation, and every event it rests on with the exact span of text
that matched. Flags are kept: re-running the rules updates a flag still active,
leaves a dismissed flag as the officer left it, and marks an active flag that no
longer fires (after a rule edit) as "withdrawn" instead of deleting it.

Evaluation streams only the id and text columns in batches (see
evidence_store.rulebook for the word pre-filter), so a million events are read
once, with no ORM object per event; the rest of an event is read only when a
rule matched its text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.linking import identifiers_after_block
from evidence_store.models import AnalysisMark, BehaviourFlag, Case, Event, Exhibit
from evidence_store.parties import Parties, load_parties
from evidence_store.rulebook import (
    CaseMatcher,
    RuleSpec,
    compile_for_case,
    load_rules,
)
from evidence_store.streaming import stream_rows

ACTIVE, DISMISSED, WITHDRAWN = "active", "dismissed", "withdrawn"
_BATCH = 5000
_ID_CHUNK = 900
#: A detector flag cites the new identifier's first events, not every later one.
_DETECTOR_CITES = 20
_MATCH_SHOWN = 120
_DETECTOR_GROUP = "identifier:"
#: The analysis mark's name, and the version of the matching code: a change to either
#: makes the next evaluation read every exhibit again.
_MARK = "behaviour_flags"
_ENGINE = "conduct-flags/1"


@dataclass(frozen=True, slots=True)
class Citation:
    event_id: int
    #: "text" or "subject"; None when the whole event is the evidence (detector rules).
    field: str | None
    start: int | None
    end: int | None
    match: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "field": self.field, "start": self.start,
                "end": self.end, "match": self.match}


@dataclass(frozen=True, slots=True)
class FlagResult:
    id: int
    rule_id: str
    rule_version: str
    rule_hash: str
    category: str
    group_key: str
    s2a3: tuple[str, ...]
    four: tuple[str, ...]
    explanation: str
    event_ids: tuple[int, ...]
    citations: tuple[Citation, ...]
    first_at: datetime
    status: str
    dismissed_by: str | None = None
    dismissed_at: datetime | None = None
    dismissed_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "rule_id": self.rule_id, "rule_version": self.rule_version,
            "rule_hash": self.rule_hash, "category": self.category,
            "group_key": self.group_key, "s2a3": list(self.s2a3), "four": list(self.four),
            "explanation": self.explanation, "event_ids": list(self.event_ids),
            "citations": [c.as_dict() for c in self.citations],
            "first_at": _utc_z(self.first_at), "status": self.status,
            "dismissed_by": self.dismissed_by,
            "dismissed_at": _utc_z(self.dismissed_at) if self.dismissed_at else None,
            "dismissed_reason": self.dismissed_reason,
        }


@dataclass(slots=True)
class _Hit:
    """Events of one flag being gathered during a pass."""

    rule: RuleSpec
    group_key: str
    citations: list[Citation]
    event_info: dict[int, tuple[str, str]]  # event id -> (kind, sender label)
    detail: dict[str, str] | None = None


def _utc_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- evaluation -----------------------------------------------------------------------


def placeholders_of(parties: Parties) -> dict[str, list[str]]:
    """Names and handles of the case's suspects and victims, for {suspect_name} etc."""
    found: dict[str, list[str]] = {"suspect_name": [], "victim_name": [],
                                   "suspect_handle": [], "victim_handle": []}
    for party in parties.persons.values():
        if party.role not in ("suspect", "victim"):
            continue
        names = found[f"{party.role}_name"]
        handles = found[f"{party.role}_handle"]
        names.append(party.name)
        first = party.name.split()[0] if party.name.split() else ""
        if len(first) >= 3:
            names.append(first)
        for value in party.identifiers:
            if value.startswith("name:"):
                names.append(value[5:])
            elif "@" in value:
                handles.append(value)
            elif ":" in value:
                handles.append(value.split(":", 1)[1])
    return {key: sorted({v for v in values if v.strip()}) for key, values in found.items()}


def evaluate_flags(session: Session, case: Case, rules_path: str | Path | None = None,
                   actor: str = "conduct") -> list[FlagResult]:
    """Apply the rule file to the case, store the flags (idempotently) and return
    every flag of the case, dismissed ones included.

    A re-run with the same rule file and the same persons and identifiers reads
    only the exhibits that are new since (or whose event count changed): events
    never change once written, so what was found in the others still stands.
    """
    book = load_rules(rules_path)
    parties = load_parties(session, case)
    placeholders = placeholders_of(parties)
    matcher = compile_for_case(book, placeholders)
    fingerprint = hashlib.sha256(json.dumps(
        [_ENGINE, book.sha256, placeholders, parties.fingerprint()], sort_keys=True,
        ensure_ascii=False).encode("utf-8")).hexdigest()
    counts = {exhibit_id: count for exhibit_id, count in session.execute(
        select(Exhibit.id, Exhibit.event_count).where(Exhibit.case_id == case.id))}
    mark = session.get(AnalysisMark, (case.id, _MARK))
    exhibits: list[int] | None = None
    if mark is not None and mark.fingerprint == fingerprint:
        before = {int(k): v for k, v in json.loads(mark.state).items()}
        exhibits = sorted(x for x, n in counts.items() if before.get(x) != n)
    hits: dict[tuple[str, str], _Hit] = {}
    if exhibits is None or exhibits:
        _text_pass(session, case, matcher, parties, hits, exhibits)
    if any(spec.group == "day" for spec in matcher.rules):
        _regroup_by_day(session, case, hits)
    detector_rules = [r for r in book.rules if r.detector == "new_identifier_after_block"]
    if detector_rules:
        for found in identifiers_after_block(session, case, parties):
            for rule in detector_rules:
                cited = found.event_ids[:_DETECTOR_CITES]
                hits[(rule.id, f"identifier:{found.identifier}")] = _Hit(
                    rule, f"identifier:{found.identifier}",
                    [Citation(e, None, None, None, None) for e in cited],
                    {e: ("event", found.person_name) for e in cited},
                    {"identifier": found.identifier, "person": found.person_name,
                     "blocked_at": _utc_z(found.blocked_at), "first_at": _utc_z(found.first_at)})
    changes = _store(session, case, hits, exhibits is not None, parties)
    state = json.dumps({str(k): v for k, v in sorted(counts.items())})
    if mark is None:
        session.add(AnalysisMark(case_id=case.id, name=_MARK, fingerprint=fingerprint,
                                 state=state, updated_at=datetime.now(UTC)))
    elif (mark.fingerprint, mark.state) != (fingerprint, state):
        mark.fingerprint, mark.state, mark.updated_at = fingerprint, state, datetime.now(UTC)
    if any(changes.values()):
        custody.append(session, custody.case_chain(case.ref), actor, "flags_evaluated", case.ref,
                       {"rules": book.path, "rules_sha256": book.sha256,
                        "rules_version": book.version,
                        "exhibits_read": "all" if exhibits is None else len(exhibits),
                        **changes})
    session.flush()
    return flags_of_case(session, case, include_dismissed=True)


def _text_pass(session: Session, case: Case, matcher: CaseMatcher, parties: Parties,
               hits: dict[tuple[str, str], _Hit], exhibits: list[int] | None) -> None:
    if not matcher.sources:
        return
    kinds: set[str] = set()
    for spec in matcher.rules:
        if spec.kinds is None:
            kinds = set()
            break
        kinds |= spec.kinds
    query = (select(Event.id, Event.text, Event.subject)
             .where(Event.case_id == case.id,
                    or_(Event.text.is_not(None), Event.subject.is_not(None))))
    if kinds:
        query = query.where(Event.kind.in_(sorted(kinds)))
    if exhibits is not None:
        query = query.where(Event.exhibit_id.in_(exhibits))
    found = [hit for batch in stream_rows(session, query, _BATCH)
             for hit in _matched(batch, matcher)]
    # Only now the rest of each matched event: who sent it, what kind, which channel.
    meta = _metadata(session, {event_id for event_id, _, _, _ in found})
    for event_id, field, value, matches in found:
        kind, channel, direction, sender_id, sender = meta[event_id]
        role = parties.role_of(sender_id, sender, kind, direction)
        label: str | None = None
        for rule_index, start, end in matches:
            spec = matcher.rules[rule_index]
            if not spec.applies_to(kind, channel, role):
                continue
            key = (spec.id, f"event:{event_id}")
            hit = hits.get(key)
            if hit is None:
                hit = hits[key] = _Hit(spec, key[1], [], {})
            hit.citations.append(Citation(event_id, field, start, end, value[start:end]))
            if label is None:
                label = _sender_label(parties, sender_id, sender, kind, role)
            hit.event_info[event_id] = (kind, label)


def _metadata(session: Session, ids: Iterable[int]
              ) -> dict[int, tuple[str, str, str, str | None, str | None]]:
    wanted = sorted(ids)
    found: dict[int, tuple[str, str, str, str | None, str | None]] = {}
    for start in range(0, len(wanted), _ID_CHUNK):
        for event_id, *rest in session.connection().execute(
                select(Event.id, Event.kind, Event.channel, Event.direction, Event.sender_id,
                       Event.sender).where(Event.id.in_(wanted[start:start + _ID_CHUNK]))):
            found[event_id] = tuple(rest)  # type: ignore[assignment]
    return found


def _matched(batch: Sequence[Any], matcher: CaseMatcher
             ) -> Iterator[tuple[int, str, str, tuple[tuple[int, int, int], ...]]]:
    """(event id, field, text, matches) for each text or subject any rule matched."""
    # The cache is read here rather than in CaseMatcher.evaluate: one call fewer per
    # event counts over a million of them.
    seen = matcher.cache.get
    evaluate = matcher.evaluate
    for event_id, text, subject in batch:
        if text:
            found = seen(text)
            if found is None:
                found = evaluate(text)
            if found:
                yield event_id, "text", text, found
        if subject and (found := evaluate(subject)):
            yield event_id, "subject", subject, found


def _sender_label(parties: Parties, sender_id: str | None, sender: str | None, kind: str,
                  role: str) -> str:
    person = parties.person_of(sender_id, sender, kind)
    if person is not None:
        party = parties.persons[person]
        return f"{party.name} ({party.role})"
    if kind == "incident":
        return "the victim's diary"
    if role == "victim":
        return "the victim"
    shown = sender or sender_id
    if sender and sender_id and sender != sender_id:
        shown = f"{sender} <{sender_id}>"
    return f"{shown} (not identified)" if shown else "an unknown sender"


def _regroup_by_day(session: Session, case: Case, hits: dict[tuple[str, str], _Hit]) -> None:
    """Fold the per-event hits of "day" rules into one hit per local day."""
    day_keys = [k for k, h in hits.items() if h.rule.group == "day"]
    if not day_keys:
        return
    ids = [int(k[1].split(":", 1)[1]) for k in day_keys]
    moments = _times(session, ids)
    local = ZoneInfo(case.timezone)
    for key in day_keys:
        hit = hits.pop(key)
        day = moments[int(key[1].split(":", 1)[1])].astimezone(local).date().isoformat()
        merged = hits.setdefault((hit.rule.id, f"day:{day}"),
                                 _Hit(hit.rule, f"day:{day}", [], {}, {"day": day}))
        merged.citations.extend(hit.citations)
        merged.event_info.update(hit.event_info)


def _times(session: Session, ids: Iterable[int]) -> dict[int, datetime]:
    wanted = sorted(set(ids))
    found: dict[int, datetime] = {}
    for start in range(0, len(wanted), _ID_CHUNK):
        chunk = wanted[start:start + _ID_CHUNK]
        found.update((event_id, at) for event_id, at in session.execute(
            select(Event.id, Event.occurred_at).where(Event.id.in_(chunk))))
    return found


# --- storing --------------------------------------------------------------------------


def _explain(hit: _Hit) -> str:
    spec = hit.rule
    texts = [c.match for c in hit.citations if c.match]
    first = hit.citations[0] if hit.citations else None
    info = hit.event_info.get(first.event_id) if first else None
    distinct = list(dict.fromkeys(texts))
    values = {
        "title": spec.title,
        "match": _shown(texts[0]) if texts else "",
        "matches": "; ".join(_shown(t) for t in distinct[:10]),
        "kind": info[0] if info else "event",
        "sender": info[1] if info else "",
        "count": str(len(hit.event_info)),
        "day": "", "identifier": "", "person": "", "blocked_at": "", "first_at": "",
        **(hit.detail or {}),
    }
    return spec.explanation.format(**values)


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MATCH_SHOWN else text[:_MATCH_SHOWN - 1] + "…"


def _store(session: Session, case: Case, hits: dict[tuple[str, str], _Hit], partial: bool,
           parties: Parties) -> dict[str, int]:
    """Insert new flags, refresh changed ones, withdraw those no longer firing.

    ``partial``: only some exhibits were read, so a text flag not found again still
    stands, and a found one adds its citations to what the flag already cites (a
    day's flag gains the new exhibit's events). Detector flags are always worked
    out whole.
    """
    existing = {
        (rule_id, group_key): (flag_id, status, citations, f"{rule_hash} {explanation}")
        for flag_id, rule_id, group_key, status, citations, rule_hash, explanation in (
            session.execute(
                select(BehaviourFlag.id, BehaviourFlag.rule_id, BehaviourFlag.group_key,
                       BehaviourFlag.status, BehaviourFlag.citations, BehaviourFlag.rule_hash,
                       BehaviourFlag.explanation)
                .where(BehaviourFlag.case_id == case.id)))
    }
    if partial:
        _keep_earlier_citations(session, hits, existing, parties)
    moments = _times(session, (e for h in hits.values() for e in h.event_info))
    now = datetime.now(UTC)
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, hit in sorted(hits.items()):
        if not hit.event_info:
            continue
        citations = sorted(hit.citations, key=lambda c: (c.event_id, c.field or "",
                                                         c.start or 0))
        hit.citations = citations
        cited = json.dumps([c.as_dict() for c in citations], ensure_ascii=False,
                           separators=(",", ":"))
        event_ids = sorted(hit.event_info)
        first_at = min(moments[e] for e in event_ids)
        values = {
            "rule_version": hit.rule.version, "rule_hash": hit.rule.hash,
            "category": hit.rule.category,
            "s2a3": json.dumps(list(hit.rule.s2a3)), "four": json.dumps(list(hit.rule.four)),
            "explanation": _explain(hit), "event_ids": json.dumps(event_ids),
            "citations": cited, "first_at": first_at,
        }
        before = existing.pop(key, None)
        if before is None:
            new_rows.append({"case_id": case.id, "rule_id": key[0], "group_key": key[1],
                             "status": ACTIVE, "created_at": now, **values})
        elif before[1] != DISMISSED and (
                before[1] == WITHDRAWN or before[2] != cited
                or before[3] != f"{hit.rule.hash} {values['explanation']}"):
            changed.append({"flag_id": before[0], "status": ACTIVE, **values})
    withdrawn = [flag_id for (_, group), (flag_id, status, _, _) in existing.items()
                 if status == ACTIVE and (not partial or group.startswith(_DETECTOR_GROUP))]
    if new_rows:
        session.execute(insert(BehaviourFlag), new_rows)
    for row in changed:
        flag_id = row.pop("flag_id")
        session.execute(update(BehaviourFlag).where(BehaviourFlag.id == flag_id).values(**row))
    for start in range(0, len(withdrawn), _ID_CHUNK):
        session.execute(update(BehaviourFlag)
                        .where(BehaviourFlag.id.in_(withdrawn[start:start + _ID_CHUNK]))
                        .values(status=WITHDRAWN))
    return {"new": len(new_rows), "updated": len(changed), "withdrawn": len(withdrawn)}


def _keep_earlier_citations(session: Session, hits: dict[tuple[str, str], _Hit],
                            existing: dict[tuple[str, str], tuple[int, str, str, str]],
                            parties: Parties) -> None:
    """A flag found again in newly read exhibits keeps what it cited before."""
    earlier: dict[tuple[str, str], list[dict[str, Any]]] = {
        key: json.loads(existing[key][2]) for key in hits
        if key in existing and not key[1].startswith(_DETECTOR_GROUP)}
    missing = {c["event_id"] for key, olds in earlier.items() for c in olds
               if c["event_id"] not in hits[key].event_info}
    meta = _metadata(session, missing)
    for key, olds in earlier.items():
        hit = hits[key]
        known = {(c.event_id, c.field, c.start, c.end) for c in hit.citations}
        for old in olds:
            if (old["event_id"], old["field"], old["start"], old["end"]) in known:
                continue
            hit.citations.append(Citation(**old))
            if old["event_id"] not in hit.event_info and old["event_id"] in meta:
                kind, _, direction, sender_id, sender = meta[old["event_id"]]
                role = parties.role_of(sender_id, sender, kind, direction)
                hit.event_info[old["event_id"]] = (
                    kind, _sender_label(parties, sender_id, sender, kind, role))


# --- reading and deciding -------------------------------------------------------------


def _result(flag: BehaviourFlag) -> FlagResult:
    citations = tuple(Citation(c["event_id"], c["field"], c["start"], c["end"], c["match"])
                      for c in json.loads(flag.citations))
    return FlagResult(
        id=flag.id, rule_id=flag.rule_id, rule_version=flag.rule_version,
        rule_hash=flag.rule_hash, category=flag.category, group_key=flag.group_key,
        s2a3=tuple(json.loads(flag.s2a3)), four=tuple(json.loads(flag.four)),
        explanation=flag.explanation, event_ids=tuple(json.loads(flag.event_ids)),
        citations=citations, first_at=flag.first_at, status=flag.status,
        dismissed_by=flag.dismissed_by, dismissed_at=flag.dismissed_at,
        dismissed_reason=flag.dismissed_reason,
    )


def flags_of_case(session: Session, case: Case, include_dismissed: bool = True,
                  include_withdrawn: bool = False) -> list[FlagResult]:
    """The case's flags in time order (active, and dismissed unless asked not to)."""
    statuses = [ACTIVE]
    if include_dismissed:
        statuses.append(DISMISSED)
    if include_withdrawn:
        statuses.append(WITHDRAWN)
    query = (select(BehaviourFlag)
             .where(BehaviourFlag.case_id == case.id, BehaviourFlag.status.in_(statuses))
             .order_by(BehaviourFlag.first_at, BehaviourFlag.id)
             .execution_options(yield_per=2000))
    return [_result(flag) for flag in session.execute(query).scalars()]


def dismiss_flag(session: Session, case: Case, flag_id: int, by: str, reason: str
                 ) -> FlagResult:
    """The officer sets a flag aside; it is kept, with who, when and why, and logged."""
    if not reason or not reason.strip():
        raise CaseError("a dismissed flag needs a reason (--reason)")
    flag = session.execute(select(BehaviourFlag).where(
        BehaviourFlag.case_id == case.id, BehaviourFlag.id == flag_id)).scalar_one_or_none()
    if flag is None:
        raise CaseError(f"case {case.ref} has no flag {flag_id}")
    if flag.status == DISMISSED:
        raise CaseError(f"flag {flag_id} was already dismissed by {flag.dismissed_by}")
    flag.status = DISMISSED
    flag.dismissed_by = by
    flag.dismissed_at = datetime.now(UTC)
    flag.dismissed_reason = reason.strip()
    custody.append(session, custody.case_chain(case.ref), by, "flag_dismissed", case.ref,
                   {"flag": flag.id, "rule": flag.rule_id, "rule_version": flag.rule_version,
                    "group": flag.group_key, "events": json.loads(flag.event_ids),
                    "reason": flag.dismissed_reason})
    session.flush()
    return _result(flag)
