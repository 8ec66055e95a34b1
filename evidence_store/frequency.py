"""How often, when and how intensely someone made contact: the numbers behind
a pattern of behaviour.

Local days and hours are those of the case's time zone, taken per event with
the offset that held at that instant, so the day summer time starts (23 hours)
and the day it ends (25 hours) each count exactly the contacts of their own
local calendar day. A fixed SQL offset would move an hour of contacts to the
wrong day for half the year. The database does the selection and returns one
compact (id, epoch second, channel) tuple per contact in time order; the
offsets are looked up once per 15-minute UTC slot in use (every zone offset in
use today is a whole number of quarter hours) and applied with numpy, which at
a million contacts is faster than grouping in SQL by UTC slot and regrouping.
A slot in which a zone changes its offset mid-slot is resolved event by event.
"""

from __future__ import annotations

import gc
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from evidence_store.contact_scope import (
    ContactScope,
    ResolvedScope,
    representative_condition,
    resolve,
)
from evidence_store.localtime import zone
from evidence_store.models import Case, Event

Ints = npt.NDArray[np.int64]
_SLOT = 900
_DAY = 86400
_EPOCH_DAY = date(1970, 1, 1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: Call flags that say what became of a call, strongest first; a call with none of
#: them was answered (or its source does not say).
CALL_OUTCOMES = ("blocked", "rejected", "declined", "missed", "no_answer", "voicemail",
                 "silenced", "answered_externally")
ANSWERED_OR_NOT_STATED = "answered_or_not_stated"
#: Contacts in the "inbound" scope from a sender nobody is recorded for.
UNATTRIBUTED = "unattributed"


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    scope: ContactScope = field(default_factory=ContactScope)
    #: A burst: at least ``burst_count`` contacts with no more than
    #: ``burst_minutes`` between the first and the last of them.
    burst_count: int = 5
    burst_minutes: int = 10
    #: Night runs from ``night_start`` o'clock to ``night_end`` o'clock, local time.
    night_start: int = 23
    night_end: int = 6

    def __post_init__(self) -> None:
        if self.burst_count < 2:
            raise ValueError("a burst needs at least 2 contacts")
        if self.burst_minutes < 1:
            raise ValueError("the burst window must be at least 1 minute")
        if not (0 <= self.night_start <= 23 and 0 <= self.night_end <= 23) or (
                self.night_start == self.night_end):
            raise ValueError("night hours must be two different hours from 0 to 23")

    @property
    def night_hours(self) -> tuple[int, ...]:
        if self.night_start < self.night_end:
            return tuple(range(self.night_start, self.night_end))
        return (*range(self.night_start, 24), *range(self.night_end))


@dataclass(frozen=True, slots=True)
class Burst:
    start: datetime
    end: datetime
    channels: dict[str, int]
    event_ids: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.event_ids)

    def as_json(self) -> dict[str, Any]:
        return {"start": _z(self.start), "end": _z(self.end), "count": self.count,
                "minutes": round((self.end - self.start).total_seconds() / 60, 1),
                "channels": self.channels, "event_ids": list(self.event_ids)}


@dataclass(frozen=True, slots=True)
class Trend:
    """Weekly counts and which way they go: a least-squares slope (per week, per
    week) and the mean of the last third of the weeks against the first third."""

    weeks: tuple[str, ...]
    counts: tuple[int, ...]
    slope_per_week: float | None
    first_third_mean: float | None
    last_third_mean: float | None

    @property
    def direction(self) -> str:
        """rising / falling (last third at least 25% above / 20% below the first), or steady."""
        first, last = self.first_third_mean, self.last_third_mean
        if first is None or last is None:
            return "too_few_weeks"
        if last >= first * 1.25 and last > first:
            return "rising"
        if last <= first * 0.8 and last < first:
            return "falling"
        return "steady"

    def as_json(self) -> dict[str, Any]:
        return {"direction": self.direction, "slope_per_week": _round(self.slope_per_week),
                "first_third_mean": _round(self.first_third_mean),
                "last_third_mean": _round(self.last_third_mean),
                "weeks": [{"week": w, "count": c} for w, c in zip(self.weeks, self.counts,
                                                                 strict=True)]}


@dataclass
class Contacts:
    """The scope's contact events, in time order, as parallel arrays."""

    ids: Ints
    epochs: Ints
    channel_codes: Ints
    channels: tuple[str, ...]
    local_days: Ints
    hours: Ints
    #: The identifier each contact was attributed by (see fetch_contacts).
    identifier_codes: Ints
    identifiers: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.ids)

    def identifier_use(self) -> list[tuple[str, int, int, int]]:
        """(identifier, contacts, first event id, last event id), most used first."""
        found = []
        for code, name in enumerate(self.identifiers):
            at = np.flatnonzero(self.identifier_codes == code)
            if len(at):
                found.append((name, len(at), int(self.ids[at[0]]), int(self.ids[at[-1]])))
        return sorted(found, key=lambda item: (-item[1], item[0]))


@dataclass
class FrequencyReport:
    case_ref: str
    timezone: str
    scope: ResolvedScope
    options: AnalysisOptions
    contacts: Contacts
    #: Local day -> channel -> count, days with at least one contact only.
    per_day: dict[date, dict[str, int]]
    #: ISO week label -> channel -> count, every week from the first contact's to the last's.
    per_week: dict[str, dict[str, int]]
    #: [weekday Monday=0][hour] -> count.
    heatmap: list[list[int]]
    night_count: int
    bursts: list[Burst]
    escalation: Trend
    flagged_escalation: Trend | None
    calls_by_outcome: dict[str, int]
    withheld_calls_in_scope: int
    withheld_calls_unattributed: int

    @property
    def total(self) -> int:
        return self.contacts.count

    @property
    def channel_totals(self) -> dict[str, int]:
        counts = np.bincount(self.contacts.channel_codes, minlength=len(self.contacts.channels))
        return _ordered({c: int(n) for c, n in zip(self.contacts.channels, counts, strict=True)
                         if n})

    @property
    def night_share(self) -> float | None:
        return self.night_count / self.total if self.total else None

    def first_last(self) -> tuple[tuple[int, datetime], tuple[int, datetime]] | None:
        if not self.total:
            return None
        c = self.contacts
        return ((int(c.ids[0]), _utc(int(c.epochs[0]))), (int(c.ids[-1]), _utc(int(c.epochs[-1]))))

    def as_json(self) -> dict[str, Any]:
        span = self.first_last()
        start, end = self.options.night_hours[0], (self.options.night_hours[-1] + 1) % 24
        return {
            "case": self.case_ref,
            "timezone": self.timezone,
            "scope": {"description": self.scope.description,
                      "persons": [{"id": i, "name": n} for i, n in self.scope.persons],
                      "identifiers": list(self.scope.identifiers)},
            "contacts": self.total,
            "first": None if span is None else {"event_id": span[0][0], "at": _z(span[0][1])},
            "last": None if span is None else {"event_id": span[1][0], "at": _z(span[1][1])},
            "channels": self.channel_totals,
            "identifiers": [{"identifier": v, "contacts": n, "first_event_id": a,
                             "last_event_id": b} for v, n, a, b in self.contacts.identifier_use()],
            "per_day": [{"date": d.isoformat(), "total": sum(c.values()), "channels": c}
                        for d, c in self.per_day.items()],
            "per_week": [{"week": w, "total": sum(c.values()), "channels": c}
                         for w, c in self.per_week.items()],
            "heatmap": {"weekdays": list(WEEKDAYS), "hours": list(range(24)),
                        "counts": self.heatmap},
            "night": {"from": f"{start:02d}:00", "to": f"{end:02d}:00",
                      "count": self.night_count, "share": _round(self.night_share)},
            "bursts": {"rule": {"at_least": self.options.burst_count,
                                "within_minutes": self.options.burst_minutes},
                       "count": len(self.bursts), "items": [b.as_json() for b in self.bursts]},
            "escalation": {"contacts": self.escalation.as_json(),
                           "flagged": (self.flagged_escalation.as_json()
                                       if self.flagged_escalation else None)},
            "calls": {"by_outcome": self.calls_by_outcome,
                      "withheld_number_in_scope": self.withheld_calls_in_scope,
                      "withheld_number_unattributed": self.withheld_calls_unattributed},
        }


def analyse(session: Session, case: Case, options: AnalysisOptions | None = None,
            flagged_event_ids: set[int] | None = None) -> FrequencyReport:
    """Every frequency measure of the scope's contacts, duplicates counted once.

    ``flagged_event_ids``: events cited by behaviour flags, for the flagged-content
    trend (None: no trend).
    """
    options = options or AnalysisOptions()
    scope = resolve(session, case, options.scope)
    representative = representative_condition(case)
    contacts, call_flags, withheld_out = fetch_contacts(session, case, scope, representative)
    per_day, per_week, week_of_day = _calendar(contacts)
    heatmap = np.zeros((7, 24), dtype=np.int64)
    np.add.at(heatmap, ((contacts.local_days + 3) % 7, contacts.hours), 1)
    night = int(np.isin(contacts.hours, options.night_hours).sum())
    weeks = tuple(per_week)
    escalation = _trend(weeks, [sum(c.values()) for c in per_week.values()])
    flagged = None
    if flagged_event_ids is not None:
        mask = np.isin(contacts.ids, np.fromiter(flagged_event_ids, dtype=np.int64))
        by_week = Counter(week_of_day[int(d)] for d in contacts.local_days[mask])
        flagged = _trend(weeks, [by_week.get(w, 0) for w in weeks])
    outcomes, withheld_in = _calls(call_flags)
    return FrequencyReport(
        case_ref=case.ref, timezone=case.timezone, scope=scope, options=options,
        contacts=contacts, per_day=per_day, per_week=per_week, heatmap=heatmap.tolist(),
        night_count=night, bursts=find_bursts(contacts, options.burst_count,
                                              options.burst_minutes),
        escalation=escalation, flagged_escalation=flagged, calls_by_outcome=outcomes,
        withheld_calls_in_scope=withheld_in, withheld_calls_unattributed=withheld_out,
    )


def epoch_seconds(dialect: str) -> ColumnElement[int]:
    """occurred_at as whole seconds since 1970 (UTC), computed by the database."""
    if dialect == "sqlite":
        if sqlite3.sqlite_version_info >= (3, 38, 0):
            return func.unixepoch(Event.occurred_at)  # a fifth cheaper than strftime
        return cast(func.strftime("%s", Event.occurred_at), Integer)
    return cast(func.floor(func.extract("epoch", Event.occurred_at)), BigInteger)


def fetch_contacts(session: Session, case: Case, scope: ResolvedScope,
                   representative: ColumnElement[bool] | None
                   ) -> tuple[Contacts, Counter[str], int]:
    """The contacts in time order (within one second, by id), the flags of the calls
    among them (JSON text -> how many calls carry exactly those flags), and how many
    incoming withheld-number calls are nobody's contact.

    One pass over the case, rows straight from the driver, sorting in numpy rather
    than SQL: at a million rows the per-row overheads are what count.
    """
    dialect = session.connection().dialect.name
    ids_in_scope = [v for v in scope.identifiers if not v.startswith("name:")]
    # Which identifier each contact came from: its sender_id, or else the display
    # name it was attributed by (case-folded below).
    identifier = sql_case((Event.sender_id.in_(ids_in_scope), Event.sender_id),
                          else_=literal("name:") + Event.sender)
    withheld = and_(Event.case_id == case.id, Event.kind == "call",
                    Event.direction == "incoming", Event.flags.like('%"withheld"%'))
    query = select(
        Event.id, epoch_seconds(dialect), Event.channel,
        sql_case((Event.kind == "call", Event.flags)), identifier,
        sql_case((scope.condition, 1), else_=0)).where(or_(scope.condition, withheld))
    if representative is not None:
        query = query.where(representative)
    # Hundreds of thousands of short-lived tuples, none in a cycle: the collector
    # would only walk them again and again (a third of the Python time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = session.connection().execute(query)
        try:
            # Plain driver tuples: these column types need no result processing, and
            # wrapping a million rows in Row objects costs a second.
            rows = result.cursor.fetchall()
        finally:
            result.close()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 6
        del rows
    finally:
        if collecting:
            gc.enable()
    id_list, epoch_list, channel_list, flag_list, identifier_list, in_list = columns
    in_scope = np.array(in_list, dtype=bool)
    call_flags: Counter[str] = Counter(
        f for f, inside in zip(flag_list, in_list, strict=True) if inside and f is not None)
    unattributed = int(len(in_scope) - in_scope.sum())
    ids = np.array(id_list, dtype=np.int64)[in_scope]
    epochs = np.array(epoch_list, dtype=np.int64)[in_scope]
    channels, channel_codes = _coded(channel_list, in_scope)
    identifiers, identifier_codes = _coded(
        identifier_list, in_scope, lambda v: UNATTRIBUTED if v is None else (
            v.casefold() if v.startswith("name:") else v))
    order = np.lexsort((ids, epochs))
    ids, epochs = ids[order], epochs[order]
    local = local_seconds(epochs, case.timezone)
    return Contacts(ids=ids, epochs=epochs, channel_codes=channel_codes[order],
                    channels=channels, local_days=local // _DAY, hours=(local % _DAY) // 3600,
                    identifier_codes=identifier_codes[order],
                    identifiers=identifiers), call_flags, unattributed


def _coded(values: Sequence[Any], keep: npt.NDArray[np.bool_],
           label: Callable[[Any], str] = str) -> tuple[tuple[str, ...], Ints]:
    """Distinct labels of the kept values in name order (so arrays and charts are the
    same on every run) and each kept value's number among them."""
    kept = [v for v, k in zip(values, keep.tolist(), strict=True) if k]
    labels = {value: label(value) for value in set(kept)}
    names = tuple(sorted(set(labels.values())))
    number = {value: names.index(name) for value, name in labels.items()}
    return names, np.fromiter(map(number.__getitem__, kept), dtype=np.int64, count=len(kept))


def local_seconds(epochs: Ints, zone_name: str) -> Ints:
    """Each UTC epoch second shifted by the offset of ``zone_name`` at that instant."""
    if not len(epochs):
        return epochs.copy()
    tz = zone(zone_name)
    slots, inverse = np.unique(epochs // _SLOT, return_inverse=True)
    offsets = np.empty(len(slots), dtype=np.int64)
    mixed = []
    for k, slot in enumerate(slots.tolist()):
        first = _offset(slot * _SLOT, tz)
        offsets[k] = first
        if _offset(slot * _SLOT + _SLOT - 1, tz) != first:
            mixed.append(k)
    local = epochs + offsets[inverse]
    for k in mixed:
        for i in np.flatnonzero(inverse == k).tolist():
            local[i] = epochs[i] + _offset(int(epochs[i]), tz)
    return local


def _offset(epoch: int, tz: Any) -> int:
    offset = datetime.fromtimestamp(epoch, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _calendar(contacts: Contacts) -> tuple[dict[date, dict[str, int]], dict[str, dict[str, int]],
                                           dict[int, str]]:
    """Counts per local day and per ISO week (every week of the span), by channel."""
    if not contacts.count:
        return {}, {}, {}
    first, last = int(contacts.local_days[0]), int(contacts.local_days[-1])
    width = len(contacts.channels)
    cells = np.bincount((contacts.local_days - first) * width + contacts.channel_codes,
                        minlength=(last - first + 1) * width).reshape(-1, width)
    per_day: dict[date, dict[str, int]] = {}
    per_week: dict[str, dict[str, int]] = {}
    week_of_day: dict[int, str] = {}
    for offset, row in enumerate(cells.tolist()):
        day = _EPOCH_DAY + timedelta(days=first + offset)
        week = iso_week(day)
        week_of_day[first + offset] = week
        weekly = per_week.setdefault(week, {})
        counts = {c: n for c, n in zip(contacts.channels, row, strict=True) if n}
        if counts:
            per_day[day] = _ordered(counts)
            for channel, n in counts.items():
                weekly[channel] = weekly.get(channel, 0) + n
    return per_day, {w: _ordered(c) for w, c in per_week.items()}, week_of_day


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def find_bursts(contacts: Contacts, count: int, minutes: int) -> list[Burst]:
    """Runs of at least ``count`` contacts with at most ``minutes`` between the first
    and the last; overlapping runs are one burst (a long barrage is reported once)."""
    t = contacts.epochs
    if len(t) < count:
        return []
    starts = np.flatnonzero(t[count - 1:] - t[:len(t) - count + 1] <= minutes * 60)
    if not len(starts):
        return []
    new = np.ones(len(starts), dtype=bool)
    new[1:] = starts[1:] > starts[:-1] + count - 1
    group_first = starts[new]
    group_last = np.append(starts[np.flatnonzero(new)[1:] - 1], starts[-1]) + count - 1
    bursts = []
    for a, b in zip(group_first.tolist(), group_last.tolist(), strict=True):
        codes = np.bincount(contacts.channel_codes[a:b + 1], minlength=len(contacts.channels))
        bursts.append(Burst(
            start=_utc(int(t[a])), end=_utc(int(t[b])),
            channels=_ordered({c: int(n) for c, n in zip(contacts.channels, codes, strict=True)
                               if n}),
            event_ids=tuple(contacts.ids[a:b + 1].tolist())))
    return bursts


def _trend(weeks: tuple[str, ...], counts: list[int]) -> Trend:
    n = len(counts)
    slope = None
    if n >= 2:
        x = np.arange(n, dtype=np.float64)
        slope = float(np.polyfit(x, np.asarray(counts, dtype=np.float64), 1)[0])
    third = n // 3
    first = last = None
    if third:
        first = sum(counts[:third]) / third
        last = sum(counts[-third:]) / third
    return Trend(weeks, tuple(counts), slope, first, last)


def _calls(call_flags: Counter[str]) -> tuple[dict[str, int], int]:
    """Calls in scope by what became of them, and how many came from a withheld number."""
    outcomes: Counter[str] = Counter()
    withheld = 0
    for flags_text, n in call_flags.items():
        flags = set(json.loads(flags_text))
        outcomes[next((o for o in CALL_OUTCOMES if o in flags), ANSWERED_OR_NOT_STATED)] += n
        if "withheld" in flags:
            withheld += n
    ordered = {o: outcomes[o] for o in (*CALL_OUTCOMES, ANSWERED_OR_NOT_STATED) if outcomes[o]}
    return ordered, withheld


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
