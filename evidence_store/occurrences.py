"""One message seen in several sources counts once.

The same SMS sits in an archive backup and in a later incremental one; a diary
is handed over as a spreadsheet and as a CSV; a screenshot shows messages an
export also holds. Each copy stays an event of its own exhibit (provenance is
never merged away), and an *occurrence* groups the copies: every member is
listed with its exhibit, and one of them, the canonical event, stands for the
group in counts.

Two events are copies when they come from different exhibits and record the same
instant, with the same channel, kind and sender (or, for the phone owner's own
messages, the same recipients) and the same text once case, spacing and
invisible marks are folded. Sources of one kind record the same instant for the
same message (an SMS in two backups carries the same millisecond; a diary row or
a WhatsApp line read from two exports resolves to the same minute or day), so
equal instants find the copies, and the search is set-based: the instants shared
by two or more events come from the (case, time) index alone, and only the
events at those instants are read. Copies whose recorded times differ (a message
on a screenshot against its export) are joined through evidence of their own: a
screenshot joins the occurrence of each event evidence_store.corroboration
found it shows (its ``corroborated_by`` facts). Within a group, one exhibit's
events are never merged with each other: two identical messages in one file are
two messages.

For counting, use :func:`representative_event_filter`::

    select(func.count()).select_from(Event).where(
        Event.case_id == case.id, representative_event_filter(case.id))
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.models import (
    AnalysisMark,
    Case,
    Event,
    Exhibit,
    Fact,
    Occurrence,
    OccurrenceMember,
)

SAME_CONTENT, CORROBORATED = "same_content", "corroborated_by"
_WINDOW = {"subsecond": timedelta(seconds=1), "second": timedelta(seconds=1),
           "minute": timedelta(seconds=60), "day": timedelta(days=1)}
_PRECISION_RANK = {"subsecond": 0, "second": 1, "minute": 2, "day": 3}
_IMAGE_KINDS = ("screenshot", "photo")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_SPACE = re.compile(r"\s+")
_CHUNK = 900
#: The analysis mark's name and the version of the grouping rules it records.
_MARK = "occurrences"
_ENGINE = "conduct-occurrences/1"


@dataclass(frozen=True, slots=True)
class OccurrenceResult:
    id: int
    canonical_event_id: int
    basis: str
    members: tuple[tuple[int, str], ...]  # (event id, exhibit ref), canonical first

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "canonical_event_id": self.canonical_event_id,
                "basis": self.basis,
                "members": [{"event_id": e, "exhibit": x} for e, x in self.members]}


def representative_event_filter(case_id: int) -> ColumnElement[bool]:
    """SQL clause true for the events that count: every event except the non-canonical
    members of an occurrence. Add it to any query over ``events`` of this case."""
    duplicates = select(OccurrenceMember.event_id).where(
        OccurrenceMember.case_id == case_id, OccurrenceMember.canonical.is_(False))
    return Event.id.not_in(duplicates)


def normalised_text(text: str | None) -> str:
    if not text:
        return ""
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip().casefold()


@dataclass(slots=True)
class _Row:
    id: int
    exhibit: int
    at: datetime
    precision: str
    kind: str


def _shared_instants(case_id: int) -> Select:
    """Instants at which the case has more than one event: answered from the
    (case, time) index alone, without reading any event row."""
    return (select(Event.occurred_at).where(Event.case_id == case_id)
            .group_by(Event.occurred_at).having(func.count() > 1))


def _sender_key(sender_id: str | None, sender: str | None, recipients: str) -> str:
    if sender_id:
        return sender_id
    if recipients and recipients != "[]":
        return "to:" + json.dumps(sorted(json.loads(recipients)))
    return "name:" + (sender or "").casefold()


def _content_groups(session: Session, case: Case) -> list[list[_Row]]:
    by_key: dict[tuple[str, str, str, str], list[_Row]] = defaultdict(list)
    # Of the shared instants, those where two exhibits have an event of one channel and
    # kind: a handful of columns per event, grouped by the database.
    possible = (select(Event.occurred_at)
                .where(Event.case_id == case.id, Event.kind.not_in(_IMAGE_KINDS),
                       Event.occurred_at.in_(_shared_instants(case.id)))
                .group_by(Event.occurred_at, Event.channel, Event.kind)
                .having(func.count(func.distinct(Event.exhibit_id)) > 1))
    query = (select(Event.id, Event.exhibit_id, Event.occurred_at, Event.precision,
                    Event.kind, Event.channel, Event.sender_id, Event.sender,
                    Event.recipients, Event.text, Event.attachments)
             .where(Event.case_id == case.id, Event.kind.not_in(_IMAGE_KINDS),
                    Event.occurred_at.in_(possible)))
    for (event_id, exhibit, at, precision, kind, channel, sender_id, sender, recipients,
         text, files) in session.connection().execute(query):
        body = normalised_text(text)
        if not body:
            # No text: the attachments' names are what there is to compare.
            names = sorted(a.get("name", "") for a in json.loads(files or "[]"))
            body = "\x00files:" + json.dumps(names) if names else "\x00empty"
        key = (channel, kind, _sender_key(sender_id, sender, recipients), body)
        by_key[key].append(_Row(event_id, exhibit, at, precision, kind))
    groups: list[list[_Row]] = []
    for rows in by_key.values():
        if len({r.exhibit for r in rows}) > 1:
            groups.extend(_cluster(rows))
    return groups


def _cluster(rows: list[_Row]) -> list[list[_Row]]:
    """Copies in time order: a row joins the earliest open cluster it is close enough
    to that has no event of its exhibit yet (one exhibit's two identical messages are
    two messages, not copies)."""
    rows.sort(key=lambda r: (r.at, r.id))
    clusters: list[list[_Row]] = []
    still_open: list[list[_Row]] = []
    for row in rows:
        # No window is longer than a day: older clusters cannot take this row.
        still_open = [c for c in still_open if row.at - c[0].at < _WINDOW["day"]]
        for cluster in still_open:
            window = max(_WINDOW.get(cluster[0].precision, _WINDOW["second"]),
                         _WINDOW.get(row.precision, _WINDOW["second"]))
            if row.at - cluster[0].at < window and all(r.exhibit != row.exhibit
                                                       for r in cluster):
                cluster.append(row)
                break
        else:
            clusters.append([row])
            still_open.append(clusters[-1])
    return [c for c in clusters if len({r.exhibit for r in c}) > 1]


def _screenshot_links(session: Session, case: Case) -> list[tuple[int, int, int]]:
    """(screenshot event, its exhibit, event it shows) from corroborated_by facts."""
    facts = session.execute(
        select(Fact.exhibit_id, Fact.value)
        .where(Fact.case_id == case.id, Fact.kind == CORROBORATED)).all()
    if not facts:
        return []
    exhibits = sorted({exhibit for exhibit, _ in facts})
    image_event: dict[int, int] = {}
    for exhibit, event_id in session.execute(
            select(Event.exhibit_id, Event.id)
            .where(Event.case_id == case.id, Event.exhibit_id.in_(exhibits),
                   Event.kind.in_(_IMAGE_KINDS))
            .order_by(Event.exhibit_id, Event.seq)):
        image_event.setdefault(exhibit, event_id)
    links = []
    for exhibit, value in facts:
        shown = json.loads(value).get("event_id")
        if exhibit in image_event and isinstance(shown, int):
            links.append((image_event[exhibit], exhibit, shown))
    return links


def _canonical(members: dict[int, tuple[int, str, str]]) -> int:
    """The copy that stands for the group: not an image, finest time, first received."""
    return min(members, key=lambda e: (members[e][2] in _IMAGE_KINDS,
                                       _PRECISION_RANK.get(members[e][1], 9),
                                       members[e][0], e))


def merge_duplicates(session: Session, case: Case, actor: str = "conduct") -> int:
    """Group the case's copies into occurrences (idempotent: unchanged groups keep their
    ids, changed ones are replaced, and each change is logged; when no exhibit and no
    screenshot corroboration changed since the last run, nothing is read). Returns how
    many occurrences the case has."""
    state = _inputs(session, case)
    mark = session.get(AnalysisMark, (case.id, _MARK))
    if mark is not None and (mark.fingerprint, mark.state) == (_ENGINE, state):
        # No exhibit and no corroboration changed since the last merge.
        return int(session.execute(select(func.count()).select_from(Occurrence).where(
            Occurrence.case_id == case.id)).scalar_one())
    groups: list[dict[int, tuple[int, str, str]]] = []  # event -> (exhibit, precision, kind)
    in_group: dict[int, int] = {}
    for rows in _content_groups(session, case):
        index = len(groups)
        groups.append({r.id: (r.exhibit, r.precision, r.kind) for r in rows})
        for r in rows:
            in_group[r.id] = index
    links = _screenshot_links(session, case)
    bases: dict[int, set[str]] = {i: {SAME_CONTENT} for i in range(len(groups))}
    if links:
        shown_info = _event_info(session, {shown for _, _, shown in links})
        for image, exhibit, shown in links:
            if shown not in shown_info or shown_info[shown][0] == exhibit:
                continue
            if shown in in_group:
                index = in_group[shown]
            else:
                index = in_group[shown] = len(groups)
                groups.append({shown: shown_info[shown]})
                bases[index] = set()
            groups[index][image] = (exhibit, "second", "screenshot")
            bases[index].add(CORROBORATED)
    wanted = {frozenset(g): (g, ",".join(sorted(bases[i]))) for i, g in enumerate(groups)}
    existing: dict[frozenset[int], int] = {}
    members_of: dict[int, set[int]] = defaultdict(set)
    for occurrence_id, event_id in session.execute(
            select(OccurrenceMember.occurrence_id, OccurrenceMember.event_id)
            .where(OccurrenceMember.case_id == case.id)):
        members_of[occurrence_id].add(event_id)
    for occurrence_id in session.execute(
            select(Occurrence.id).where(Occurrence.case_id == case.id)).scalars():
        existing[frozenset(members_of[occurrence_id])] = occurrence_id
    stale = [oid for members, oid in existing.items() if members not in wanted]
    fresh = [(g, basis) for members, (g, basis) in wanted.items() if members not in existing]
    _delete(session, stale)
    if fresh:
        now = datetime.now(UTC)
        fresh.sort(key=lambda item: min(item[0]))
        new_rows: list[dict[str, Any]] = [
            {"case_id": case.id, "canonical_event_id": _canonical(g), "basis": basis,
             "created_at": now} for g, basis in fresh]
        ids = list(session.execute(
            insert(Occurrence).returning(Occurrence.id, sort_by_parameter_order=True),
            new_rows).scalars())
        member_rows = [
            {"occurrence_id": oid, "event_id": event_id, "case_id": case.id,
             "exhibit_id": info[0], "canonical": event_id == row["canonical_event_id"]}
            for oid, (g, _), row in zip(ids, fresh, new_rows, strict=True)
            for event_id, info in sorted(g.items())]
        session.execute(insert(OccurrenceMember), member_rows)
    if mark is None:
        session.add(AnalysisMark(case_id=case.id, name=_MARK, fingerprint=_ENGINE, state=state,
                                 updated_at=datetime.now(UTC)))
    else:
        mark.fingerprint, mark.state, mark.updated_at = _ENGINE, state, datetime.now(UTC)
    if stale or fresh:
        custody.append(session, custody.case_chain(case.ref), actor, "duplicates_merged",
                       case.ref, {"new": len(fresh), "removed": len(stale),
                                  "occurrences": len(wanted),
                                  "events_merged_away": sum(len(g) - 1 for g, _ in
                                                            wanted.values())})
    session.flush()
    return len(wanted)


def _inputs(session: Session, case: Case) -> str:
    """What the grouping depends on: each exhibit's event count and the screenshot
    corroborations (events are never changed once written)."""
    exhibits = {str(exhibit_id): count for exhibit_id, count in session.execute(
        select(Exhibit.id, Exhibit.event_count).where(Exhibit.case_id == case.id)
        .order_by(Exhibit.id))}
    facts = session.execute(select(func.count(), func.max(Fact.id)).where(
        Fact.case_id == case.id, Fact.kind == CORROBORATED)).one()
    return json.dumps({"exhibits": exhibits, "corroborated_by": list(facts)})


def _event_info(session: Session, ids: Iterable[int]) -> dict[int, tuple[int, str, str]]:
    wanted = sorted(set(ids))
    found: dict[int, tuple[int, str, str]] = {}
    for start in range(0, len(wanted), _CHUNK):
        for event_id, exhibit, precision, kind in session.execute(
                select(Event.id, Event.exhibit_id, Event.precision, Event.kind)
                .where(Event.id.in_(wanted[start:start + _CHUNK]))):
            found[event_id] = (exhibit, precision, kind)
    return found


def _delete(session: Session, occurrence_ids: list[int]) -> None:
    for start in range(0, len(occurrence_ids), _CHUNK):
        chunk = occurrence_ids[start:start + _CHUNK]
        session.execute(delete(OccurrenceMember).where(OccurrenceMember.occurrence_id.in_(chunk)))
        session.execute(delete(Occurrence).where(Occurrence.id.in_(chunk)))


def occurrences_of_case(session: Session, case: Case) -> list[OccurrenceResult]:
    rows = session.execute(
        select(Occurrence.id, Occurrence.canonical_event_id, Occurrence.basis,
               OccurrenceMember.event_id, Exhibit.ref)
        .join(OccurrenceMember, OccurrenceMember.occurrence_id == Occurrence.id)
        .join(Exhibit, Exhibit.id == OccurrenceMember.exhibit_id)
        .where(Occurrence.case_id == case.id)
        .order_by(Occurrence.id, OccurrenceMember.event_id))
    found: dict[int, tuple[int, str, list[tuple[int, str]]]] = {}
    for occurrence_id, canonical, basis, event_id, ref in rows:
        entry = found.setdefault(occurrence_id, (canonical, basis, []))
        entry[2].append((event_id, ref))
    return [OccurrenceResult(oid, canonical, basis,
                             tuple(sorted(members, key=lambda m: (m[0] != canonical, m[0]))))
            for oid, (canonical, basis, members) in found.items()]
