"""The course of conduct in numbers, each traceable to the events it counts.

This is what a charging file states about a pattern of behaviour: how many
occasions (contact events, duplicates across exports counted once) on how many
days, over what span, by which channels and identifiers, how many after the
suspect was told to stop, which behaviour flags the rules raised (strongest
categories first, each with its best-supported events and where they sit in
the exhibits), the bursts, and the share of contact at night. The numbers come
from evidence_store.frequency; flags, notices and duplicate merging from
evidence_store.behaviour, .notices and .occurrences when those are present.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.frequency import AnalysisOptions, Burst, FrequencyReport, analyse
from evidence_store.localtime import zone
from evidence_store.models import Case, Event, Exhibit

#: Flag categories from the most to the least serious; others follow by name.
CATEGORY_RANK = ("threat", "sexual_content", "turning_up", "surveillance", "publishing",
                 "self_harm_threat", "evasion", "third_party_contact")
#: How many cited events each category shows.
STRONGEST = 5
_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class CitedEvent:
    event_id: int
    occurred_at: datetime
    local_time: str
    kind: str
    channel: str
    exhibit: str
    locator: dict[str, Any]
    excerpt: str

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "occurred_at": _z(self.occurred_at),
                "local_time": self.local_time, "kind": self.kind, "channel": self.channel,
                "exhibit": self.exhibit, "locator": self.locator, "excerpt": self.excerpt}


@dataclass(frozen=True, slots=True)
class CategorySummary:
    category: str
    flag_ids: tuple[int, ...]
    event_ids: tuple[int, ...]
    strongest: tuple[CitedEvent, ...]

    def as_json(self) -> dict[str, Any]:
        return {"category": self.category, "flags": len(self.flag_ids),
                "flag_ids": list(self.flag_ids), "events": len(self.event_ids),
                "event_ids": list(self.event_ids),
                "strongest": [e.as_json() for e in self.strongest]}


@dataclass(frozen=True, slots=True)
class AfterNotice:
    event_ids: tuple[int, ...]
    #: notice id -> contacts that came after it (and after no later notice)
    by_notice: dict[int, int]

    def as_json(self) -> dict[str, Any]:
        return {"count": len(self.event_ids), "event_ids": list(self.event_ids),
                "by_notice": [{"notice_id": k, "count": v} for k, v in self.by_notice.items()]}


@dataclass
class CourseOfConduct:
    case_ref: str
    timezone: str
    scope: str
    persons: tuple[tuple[int, str], ...]
    occasions: int
    occasion_event_ids: tuple[int, ...]
    days: int
    first: CitedEvent | None
    last: CitedEvent | None
    channels: dict[str, int]
    #: (identifier, contacts, first event id, last event id)
    identifiers: list[tuple[str, int, int, int]]
    #: None when notices are not recorded by this version.
    after_notice: AfterNotice | None
    categories: list[CategorySummary]
    bursts: list[Burst]
    burst_rule: tuple[int, int]
    night_hours: tuple[int, int]
    night_count: int
    escalation: str
    flagged_escalation: str | None
    report: FrequencyReport = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def night_share(self) -> float | None:
        return self.night_count / self.occasions if self.occasions else None

    def as_json(self, event_ids: bool = True) -> dict[str, Any]:
        """Plain JSON; ``event_ids`` False leaves out the full list of occasions (every
        other number still lists its events)."""
        data: dict[str, Any] = {
            "case": self.case_ref, "timezone": self.timezone, "scope": self.scope,
            "persons": [{"id": i, "name": n} for i, n in self.persons],
            "occasions": self.occasions, "days": self.days,
            "first": self.first.as_json() if self.first else None,
            "last": self.last.as_json() if self.last else None,
            "channels": self.channels,
            "identifiers": [{"identifier": v, "contacts": n, "first_event_id": a,
                             "last_event_id": b} for v, n, a, b in self.identifiers],
            "after_notice": self.after_notice.as_json() if self.after_notice else None,
            "flags": [c.as_json() for c in self.categories],
            "bursts": {"rule": {"at_least": self.burst_rule[0],
                                "within_minutes": self.burst_rule[1]},
                       "count": len(self.bursts), "items": [b.as_json() for b in self.bursts]},
            "night": {"from": f"{self.night_hours[0]:02d}:00",
                      "to": f"{self.night_hours[1]:02d}:00", "count": self.night_count,
                      "share": None if self.night_share is None else round(self.night_share, 4)},
            "escalation": {"contacts": self.escalation, "flagged": self.flagged_escalation},
            "notes": self.notes,
        }
        if event_ids:
            data["occasion_event_ids"] = list(self.occasion_event_ids)
        return data


def summarise(session: Session, case: Case, options: AnalysisOptions | None = None
              ) -> CourseOfConduct:
    """The course of conduct of the scope's contacts (the suspects' by default)."""
    options = options or AnalysisOptions()
    notes: list[str] = []
    flags = _active_flags(session, case, notes)
    cited = {e for f in flags or [] for e in f.event_ids}
    report = analyse(session, case, options, flagged_event_ids=cited if flags is not None
                     else None)
    contacts = report.contacts
    occasions = tuple(contacts.ids.tolist())
    after = _after_notice(session, case, set(occasions), notes)
    categories = _categories(session, case, flags or [])
    span = report.first_last()
    ends = _cited_events(session, case, [span[0][0], span[1][0]] if span else [], {})
    night = options.night_hours
    return CourseOfConduct(
        case_ref=case.ref, timezone=case.timezone, scope=report.scope.description,
        persons=report.scope.persons, occasions=len(occasions), occasion_event_ids=occasions,
        days=len(report.per_day),
        first=ends.get(span[0][0]) if span else None,
        last=ends.get(span[1][0]) if span else None,
        channels=report.channel_totals, identifiers=contacts.identifier_use(),
        after_notice=after, categories=categories, bursts=report.bursts,
        burst_rule=(options.burst_count, options.burst_minutes),
        night_hours=(night[0], (night[-1] + 1) % 24), night_count=report.night_count,
        escalation=report.escalation.direction,
        flagged_escalation=(report.flagged_escalation.direction
                            if report.flagged_escalation else None),
        report=report, notes=notes)


def _active_flags(session: Session, case: Case, notes: list[str]) -> list[Any] | None:
    try:
        from evidence_store.behaviour import flags_of_case
    except ImportError:
        notes.append("behaviour flags are not available in this version")
        return None
    # Dismissed flags were set aside by the officer; they are not part of the case put.
    return list(flags_of_case(session, case, include_dismissed=False))


def _after_notice(session: Session, case: Case, occasions: set[int], notes: list[str]
                  ) -> AfterNotice | None:
    try:
        from evidence_store.notices import after_notice_event_ids
    except ImportError:
        notes.append("notices are not available in this version")
        return None
    after = {e: n for e, n in after_notice_event_ids(session, case).items() if e in occasions}
    by_notice = Counter(after.values())
    return AfterNotice(tuple(sorted(after, key=lambda e: e)),
                       {n: by_notice[n] for n in sorted(by_notice)})


def _categories(session: Session, case: Case, flags: list[Any]) -> list[CategorySummary]:
    """Flags grouped by category, most serious first. Within a category an event
    is stronger the more distinct rules cite it, then the more flags, then the
    earlier it is."""
    by_category: dict[str, list[Any]] = defaultdict(list)
    for flag in flags:
        by_category[flag.category].append(flag)
    canonical = _canonical_of(session, case, {e for f in flags for e in f.event_ids})
    order = sorted(by_category, key=lambda c: (CATEGORY_RANK.index(c) if c in CATEGORY_RANK
                                               else len(CATEGORY_RANK), c))
    summaries = []
    for category in order:
        group = by_category[category]
        rules: dict[int, set[str]] = defaultdict(set)
        cites: Counter[int] = Counter()
        matches: dict[int, tuple[str | None, int | None, int | None]] = {}
        for flag in group:
            # A copy of a message in a second export counts as the message itself.
            for event_id in {canonical.get(e, e) for e in flag.event_ids}:
                rules[event_id].add(flag.rule_id)
                cites[event_id] += 1
            for citation in getattr(flag, "citations", ()):
                if citation.event_id == canonical.get(citation.event_id, citation.event_id):
                    matches.setdefault(citation.event_id,
                                       (citation.field, citation.start, citation.end))
        first_at = _times(session, rules)
        ranked = sorted(rules, key=lambda e: (-len(rules[e]), -cites[e],
                                              first_at.get(e, _FAR), e))
        shown = _cited_events(session, case, ranked[:STRONGEST], matches)
        summaries.append(CategorySummary(
            category=category, flag_ids=tuple(sorted(f.id for f in group)),
            event_ids=tuple(sorted(rules)),
            strongest=tuple(shown[e] for e in ranked[:STRONGEST] if e in shown)))
    return summaries


_FAR = datetime.max.replace(tzinfo=UTC)


def _canonical_of(session: Session, case: Case, ids: set[int]) -> dict[int, int]:
    """Event id -> the canonical event of its occurrence, for copies merged by
    evidence_store.occurrences (empty before that module exists)."""
    try:
        from evidence_store.models import Occurrence, OccurrenceMember
    except ImportError:
        return {}
    wanted = sorted(ids)
    found: dict[int, int] = {}
    for chunk in range(0, len(wanted), 900):
        found.update((e, c) for e, c in session.execute(
            select(OccurrenceMember.event_id, Occurrence.canonical_event_id)
            .join(Occurrence, Occurrence.id == OccurrenceMember.occurrence_id)
            .where(Occurrence.case_id == case.id,
                   OccurrenceMember.event_id.in_(wanted[chunk:chunk + 900]))))
    return found


def _times(session: Session, ids: Iterable[int]) -> dict[int, datetime]:
    wanted = list(ids)
    found: dict[int, datetime] = {}
    for chunk in range(0, len(wanted), 900):
        query = select(Event.id, Event.occurred_at).where(
            Event.id.in_(wanted[chunk:chunk + 900]))
        found.update((i, t) for i, t in session.execute(query))
    return found


def _cited_events(session: Session, case: Case, ids: list[int],
                  matches: dict[int, tuple[str | None, int | None, int | None]]
                  ) -> dict[int, CitedEvent]:
    if not ids:
        return {}
    tz = zone(case.timezone)
    found = {}
    for event, ref in session.execute(
            select(Event, Exhibit.ref).join(Exhibit, Exhibit.id == Event.exhibit_id)
            .where(Event.case_id == case.id, Event.id.in_(ids))):
        local = event.occurred_at.astimezone(tz)
        found[event.id] = CitedEvent(
            event_id=event.id, occurred_at=event.occurred_at,
            local_time=local.isoformat(timespec="seconds"), kind=event.kind,
            channel=event.channel, exhibit=ref, locator=json.loads(event.locator),
            excerpt=_excerpt(event, matches.get(event.id)))
    return found


def _excerpt(event: Event, match: tuple[str | None, int | None, int | None] | None) -> str:
    """The matched words with some context, or the start of the text."""
    field_name, start, end = match or (None, None, None)
    value = (getattr(event, field_name, None) if field_name in ("text", "subject")
             else None) or event.text or event.subject or ""
    if start is None or end is None or field_name not in ("text", "subject"):
        piece = value[:_EXCERPT]
        return piece + ("…" if len(value) > _EXCERPT else "")
    begin = max(start - (_EXCERPT - (end - start)) // 2, 0)
    piece = value[begin:begin + max(_EXCERPT, end - start)]
    return ("…" if begin else "") + piece + ("…" if begin + len(piece) < len(value) else "")


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
