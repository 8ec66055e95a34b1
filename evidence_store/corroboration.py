"""Does an export contain the conversation a screenshot shows?

A screenshot is a rendering of a chat, easy to fake and easy to dispute. For
each image whose OCR text holds message-like lines, this looks for message and
e-mail events of the case (from other exhibits) whose text matches those lines,
within a time window around the screenshot, and records what it found:

- ``corroborated_by``: one fact per matching event: its id, exhibit, locator,
  channel and time, the score, and which OCR lines matched it;
- ``corroboration``: the verdict for the whole screenshot (corroborated, partly,
  or not), the window searched and the lines no export contains;
- ``uncorroborated``: added when no line matched: no export holds this
  conversation. The screenshot itself stays in the timeline: it may be the only
  record of messages since deleted.

Matching: lines are folded (accents, case, punctuation, emoji, OCR look-alikes
such as 1/l/I and vv/w) and adjacent lines of one bubble joined. rapidfuzz
``partial_ratio`` (the shorter text aligned inside the longer) at 90 or more
selects candidates; the whole-text ``ratio`` then says how they fit: the same
text (ratio >= 90), the message shown among more text (bubbles read as one), or
the screen's first or last bubble cut off by the screen's edge. A mid-screen
bubble that matches only part of a longer message is *not* a link: the
screenshot says less, or something else, than the export ("differs_from" in the
verdict shows the officer which message it resembles). Shorter sides under 12
characters never link ("ok", "where are you" match too much to mean anything).
Why 90: on the OCR bench a correctly read bubble scores 97-100 against its
message (OCR character accuracy >= 0.99); among 2,000 distinct messages built
from one shared phrase list (harder than real chats) 0.009% of pairs reach a
whole-text ratio of 90, and those differ only in a trailing phrase.

Scale: candidates come from SQL (case, kind, time window via the events' case/time
index, optional channels), streamed in chunks and scored with ``process.cdist``
in C; no Python loop runs over every event of a case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, process
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from evidence_store import canonical_json, custody
from evidence_store.facts import FactWriter
from evidence_store.fuzzy_match import ocr_text_key
from evidence_store.models import Case, Event, Exhibit, Fact
from parsers.records import DerivedFact, JSONValue

SOURCE = "conduct-corroboration/1"
KINDS = ("corroborated_by", "corroboration", "uncorroborated")
_CHUNK = 20_000
#: Longer texts (e-mail bodies) are compared on their opening characters only.
_MAX_EVENT_CHARS = 5_000


@dataclass(frozen=True)
class CorroborationSettings:
    #: Messages sent up to this long before the screenshot was taken.
    before: timedelta = timedelta(days=30)
    #: ...and this long after it (clock and zone slack).
    after: timedelta = timedelta(days=1)
    #: When the capture time is unknown, how far before the receipt to look.
    before_unknown: timedelta = timedelta(days=365)
    threshold: float = 90.0
    min_chars: int = 12
    #: Event kinds a screenshot can show.
    kinds: tuple[str, ...] = ("message", "email")
    #: Only these channels (None: all).
    channels: tuple[str, ...] | None = None
    #: At most this many events are linked to one line (the same words sent again).
    max_links_per_segment: int = 5

    def as_json(self) -> dict[str, JSONValue]:
        return {"before_days": self.before.total_seconds() / 86400,
                "after_days": self.after.total_seconds() / 86400,
                "threshold": self.threshold, "min_chars": self.min_chars,
                "kinds": list(self.kinds),
                "channels": list(self.channels) if self.channels else None}


_COUNTERS = {"corroborated": "corroborated", "partly_corroborated": "partly",
             "uncorroborated": "uncorroborated"}


@dataclass
class CorroborationReport:
    screenshots: int = 0
    corroborated: int = 0
    partly: int = 0
    uncorroborated: int = 0
    changed: int = 0


@dataclass(frozen=True)
class Segment:
    """Consecutive OCR lines of one bubble, joined."""

    lines: tuple[int, ...]
    text: str
    normalised: str


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    basis: str

    def as_json(self) -> dict[str, JSONValue]:
        return {"from": _z(self.start), "to": _z(self.end), "basis": self.basis}


@dataclass
class _Hit:
    event_id: int
    exhibit_ref: str
    seq: int
    locator: str
    channel: str
    kind: str
    occurred_at: datetime
    sender: str | None
    score: float
    segment: int
    time_agrees: bool
    #: fuzz.ratio of the whole texts (partial_ratio is ``score``).
    whole: float = 0.0
    #: How the texts align: "whole" (the same text), "message_within_screen" (the
    #: screen shows the message and more, e.g. bubbles read as one),
    #: "cut_off_at_edge" (the screen's first or last bubble shows part of it), or
    #: "differs" (the screen shows part of a longer message mid-screen: the words
    #: agree only in part, which is no corroboration and may be an edit).
    fit: str = "whole"


@dataclass
class _Screen:
    exhibit: Exhibit
    lines: list[dict[str, Any]]
    excluded: set[int] = field(default_factory=set)
    dates: list[date] = field(default_factory=list)
    clock_times: set[str] = field(default_factory=set)
    capture: datetime | None = None
    header_line: int | None = None

    def app_chrome(self) -> set[int]:
        """Lines that are the app's, not the chat's: stamps, and the header band (the
        name and the status line under it, "online", "last seen today at 08:52")."""
        chrome = set(self.excluded)
        if self.header_line is not None and self.header_line < len(self.lines):
            _, top, _, bottom = _bounds(self.lines[self.header_line])
            limit = bottom + (bottom - top) * 1.2
            chrome.update(i for i, line in enumerate(self.lines) if _bounds(line)[1] <= limit)
        return chrome


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- reading a screenshot's facts -------------------------------------------------


def _screens(session: Session, case: Case, exhibit_ids: Sequence[int] | None
             ) -> Iterator[_Screen]:
    query = (select(Fact, Exhibit).join(Exhibit, Exhibit.id == Fact.exhibit_id)
             .where(Fact.case_id == case.id,
                    Fact.kind.in_(("ocr_words", "visible_time", "visible_name"))))
    if exhibit_ids is not None:
        query = query.where(Fact.exhibit_id.in_(list(exhibit_ids)))
    screens: dict[int, _Screen] = {}
    for fact, exhibit in session.execute(query.order_by(Fact.exhibit_id, Fact.id)):
        screen = screens.setdefault(exhibit.id, _Screen(exhibit, []))
        value = json.loads(fact.value)
        if fact.kind == "ocr_words":
            screen.lines = list(value.get("lines", []))
        elif fact.kind == "visible_name" and value.get("role") == "chat_header":
            screen.header_line = int(value["line"])
        elif fact.kind == "visible_time":
            if value.get("standalone"):
                screen.excluded.add(int(value["line"]))
            if isinstance(value.get("time"), str):
                screen.clock_times.add(value["time"][:5])
            for text in ([value["date"]] if isinstance(value.get("date"), str) else []) + [
                    str(c) for c in value.get("date_candidates") or []]:
                screen.dates.append(date.fromisoformat(text))
    if not screens:
        return
    captures = session.execute(
        select(Event.exhibit_id, Event.occurred_at)
        .where(Event.case_id == case.id, Event.exhibit_id.in_(list(screens)),
               Event.kind.in_(("screenshot", "photo")))
        .order_by(Event.exhibit_id, Event.seq))
    for exhibit_id, occurred_at in captures:
        screens[exhibit_id].capture = screens[exhibit_id].capture or occurred_at
    for exhibit_id in sorted(screens):
        yield screens[exhibit_id]


def segments(lines: Sequence[dict[str, Any]], excluded: set[int], min_chars: int
             ) -> list[Segment]:
    """Message-like text: runs of adjacent lines (one bubble), minus the app's own
    stamps and header; runs too short to identify a message are dropped."""
    runs: list[list[int]] = []
    previous: dict[str, Any] | None = None
    for index, line in enumerate(lines):
        if index in excluded or not str(line.get("text", "")).strip():
            previous = None
            continue
        if previous is not None and runs and _same_bubble(previous, line):
            runs[-1].append(index)
        else:
            runs.append([index])
        previous = line
    found = []
    for run in runs:
        text = " ".join(str(lines[i]["text"]).strip() for i in run)
        normalised = ocr_text_key(text)
        if len(normalised) >= min_chars:
            found.append(Segment(tuple(run), text, normalised))
    return found


def _bounds(line: dict[str, Any]) -> tuple[float, float, float, float]:
    box = line.get("box") or [[0, 0]]
    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    return min(xs), min(ys), max(xs), max(ys)


def _same_bubble(upper: dict[str, Any], lower: dict[str, Any]) -> bool:
    left, top, right, bottom = _bounds(upper)
    left2, top2, right2, _ = _bounds(lower)
    height = max(1.0, bottom - top)
    gap = top2 - bottom
    overlaps = min(right, right2) - max(left, left2) > 0
    return -height / 2 <= gap <= height * 0.8 and overlaps


# -- windows ----------------------------------------------------------------------


def windows(screen: _Screen, settings: CorroborationSettings
            ) -> tuple[Window | None, Window]:
    """A narrow window from the dates the screen shows (if any), and the wide one
    around the capture time (or, unknown, the receipt) searched for what the narrow
    one did not find."""
    narrow = None
    if screen.dates:
        first, last = min(screen.dates), max(screen.dates)
        narrow = Window(datetime.combine(first, time(), UTC) - timedelta(days=1),
                        datetime.combine(last, time(), UTC) + timedelta(days=2),
                        "visible_dates")
    if screen.capture is not None:
        return narrow, Window(screen.capture - settings.before, screen.capture + settings.after,
                              "capture_time")
    if narrow is not None:
        return narrow, Window(narrow.start - settings.before, narrow.end, "visible_dates")
    received = screen.exhibit.received_at
    return None, Window(received - settings.before_unknown, received + settings.after,
                        "received_at")


# -- matching --------------------------------------------------------------------------


def _candidates(session: Session, case: Case, window: Window, exclude_exhibit: int,
                settings: CorroborationSettings) -> Iterator[list[tuple[Any, ...]]]:
    # Only what scoring needs; the few events that match are looked up afterwards.
    query = (select(Event.id, Event.text, Event.subject)
             .where(Event.case_id == case.id, Event.kind.in_(settings.kinds),
                    Event.occurred_at >= window.start, Event.occurred_at <= window.end,
                    Event.exhibit_id != exclude_exhibit,
                    (Event.text.is_not(None)) | (Event.subject.is_not(None))))
    if settings.channels:
        query = query.where(Event.channel.in_(settings.channels))
    query = query.order_by(Event.occurred_at, Event.id).execution_options(yield_per=_CHUNK)
    chunk: list[tuple[Any, ...]] = []
    for row in session.execute(query):
        chunk.append(tuple(row))
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Keys:
    """Events' match keys, computed once per run: screenshots of one chat search the
    same weeks of messages again and again."""

    def __init__(self, limit: int = 500_000) -> None:
        self._keys: dict[int, str] = {}
        self._limit = limit

    def of(self, row: tuple[Any, ...]) -> str:
        key = self._keys.get(row[0])
        if key is None:
            key = ocr_text_key(" ".join(filter(None, (row[2], row[1]))))[:_MAX_EVENT_CHARS]
            if len(self._keys) < self._limit:
                self._keys[row[0]] = key
        return key


def _match(session: Session, case: Case, screen: _Screen, segs: Sequence[Segment],
           wanted: Sequence[int], window: Window, settings: CorroborationSettings,
           zone: ZoneInfo, keys: _Keys) -> tuple[list[_Hit], int]:
    queries = [segs[i].normalised for i in wanted]
    # (event id, segment, partial score, whole score, fit) for every pair that matches.
    pairs: list[tuple[int, int, float, float, str]] = []
    checked = 0
    for chunk in _candidates(session, case, window, screen.exhibit.id, settings):
        texts = [keys.of(row) for row in chunk]
        checked += len(chunk)
        scores = process.cdist(queries, texts, scorer=fuzz.partial_ratio,
                               score_cutoff=settings.threshold, workers=1)
        for q, c in zip(*scores.nonzero(), strict=True):
            query_text, event_text = queries[q], texts[c]
            if min(len(query_text), len(event_text)) < settings.min_chars:
                continue
            whole = fuzz.ratio(query_text, event_text)
            if whole >= settings.threshold:
                fit = "whole"
            elif len(event_text) <= len(query_text):
                fit = "message_within_screen"
            elif wanted[q] in (0, len(segs) - 1):
                fit = "cut_off_at_edge"
            else:
                fit = "differs"
            pairs.append((chunk[c][0], wanted[q], round(float(scores[q, c]), 2),
                          round(whole, 2), fit))
    details: dict[int, Any] = {}
    wanted_ids = sorted({pair[0] for pair in pairs})
    for start in range(0, len(wanted_ids), 5_000):  # bound the IN list
        details.update((row[0], row) for row in session.execute(
            select(Event.id, Event.seq, Event.occurred_at, Event.channel, Event.kind,
                   Event.locator, Event.sender, Exhibit.ref)
            .join(Exhibit, Exhibit.id == Event.exhibit_id)
            .where(Event.id.in_(wanted_ids[start:start + 5_000]))))
    hits = []
    for event_id, segment, score, whole, fit in pairs:
        _, seq, occurred_at, channel, kind, locator, sender, ref = details[event_id]
        hits.append(_Hit(event_id=event_id, exhibit_ref=ref, seq=seq, locator=locator,
                         channel=channel, kind=kind, occurred_at=occurred_at, sender=sender,
                         score=score, segment=segment,
                         time_agrees=occurred_at.astimezone(zone).strftime("%H:%M")
                         in screen.clock_times, whole=whole, fit=fit))
    return hits, checked


def _best(hits: list[_Hit], settings: CorroborationSettings) -> dict[int, list[_Hit]]:
    """Per segment, the strongest links: time agreement first, then score."""
    by_segment: dict[int, dict[int, _Hit]] = {}
    for hit in hits:
        kept = by_segment.setdefault(hit.segment, {})
        if hit.event_id not in kept or kept[hit.event_id].score < hit.score:
            kept[hit.event_id] = hit
    best: dict[int, list[_Hit]] = {}
    for segment, found in by_segment.items():
        ranked = sorted(found.values(), key=_rank)
        top = ranked[0]
        # Equally good links are all kept (the same words sent twice); weaker ones are not.
        best[segment] = [h for h in ranked if _rank(h)[:4] == _rank(top)[:4]]
        best[segment] = best[segment][: settings.max_links_per_segment]
    return best


def _rank(hit: _Hit) -> tuple[int, int, float, float, int]:
    """Time agreement first, then the same whole text, then the scores."""
    return (-hit.time_agrees, -(hit.fit == "whole"), -hit.score, -hit.whole, hit.event_id)


def assess(session: Session, case: Case, screen: _Screen, settings: CorroborationSettings,
           keys: _Keys | None = None) -> list[DerivedFact]:
    """The corroboration facts for one screenshot (empty when it shows no message text)."""
    keys = keys or _Keys()
    segs = segments(screen.lines, screen.app_chrome(), settings.min_chars)
    if not segs:
        return []
    zone = ZoneInfo(case.timezone)
    narrow, wide = windows(screen, settings)
    hits: list[_Hit] = []
    checked = 0
    remaining = list(range(len(segs)))
    differs: list[_Hit] = []
    for window in (narrow, wide):
        if window is None or not remaining:
            continue
        found, count = _match(session, case, screen, segs, remaining, window, settings, zone,
                              keys)
        hits.extend(h for h in found if h.fit != "differs")
        differs.extend(h for h in found if h.fit == "differs")
        checked += count
        matched = {hit.segment for hit in hits}
        remaining = [i for i in remaining if i not in matched]
    best = _best(hits, settings)
    per_event: dict[int, list[tuple[_Hit, Segment]]] = {}
    for segment_index, links in best.items():
        for hit in links:
            per_event.setdefault(hit.event_id, []).append((hit, segs[segment_index]))
    facts: list[DerivedFact] = []
    for event_id in sorted(per_event, key=lambda e: per_event[e][0][0].occurred_at):
        pairs = per_event[event_id]
        hit = pairs[0][0]
        facts.append(DerivedFact("corroborated_by", {
            "event_id": event_id, "exhibit": hit.exhibit_ref, "seq": hit.seq,
            "locator": json.loads(hit.locator), "channel": hit.channel, "kind": hit.kind,
            "occurred_at": _z(hit.occurred_at), "sender": hit.sender,
            "score": max(h.score for h, _ in pairs),
            "whole_score": max(h.whole for h, _ in pairs),
            "fit": list[JSONValue](sorted({h.fit for h, _ in pairs})),
            "time_agrees": any(h.time_agrees for h, _ in pairs),
            "ambiguous": any(len(best[h.segment]) > 1 for h, _ in pairs),
            "ocr_lines": [{"lines": list(seg.lines), "text": seg.text} for _, seg in pairs],
        }, about="file"))
    near: dict[int, list[_Hit]] = {}
    for hit in sorted(differs, key=_rank):
        # The wide pass sees the narrow window's events again.
        if all(h.event_id != hit.event_id for h in near.get(hit.segment, [])):
            near.setdefault(hit.segment, []).append(hit)
    unmatched: list[dict[str, JSONValue]] = []
    for i, seg in enumerate(segs):
        if i in best:
            continue
        entry: dict[str, JSONValue] = {"lines": list(seg.lines), "text": seg.text}
        if i in near:
            # Words shared with an exported message that says more: shown, not linked.
            entry["differs_from"] = [
                {"event_id": h.event_id, "exhibit": h.exhibit_ref, "score": h.score,
                 "whole_score": h.whole} for h in near[i][:3]]
        unmatched.append(entry)
    verdict = ("uncorroborated" if not best else
               "corroborated" if not unmatched else "partly_corroborated")
    summary: dict[str, JSONValue] = {
        "verdict": verdict, "segments": len(segs), "matched_segments": len(best),
        "events": len(per_event), "unmatched": unmatched,  # type: ignore[dict-item]
        "candidates_checked": checked,
        "windows": [w.as_json() for w in (narrow, wide) if w is not None],  # type: ignore[misc]
        "settings": settings.as_json(),
    }
    facts.append(DerivedFact("corroboration", summary, about="file"))
    if not best:
        facts.append(DerivedFact("uncorroborated", {
            "reason": "no export contains this conversation",
            "segments": len(segs), "candidates_checked": checked,
            "windows": summary["windows"],
        }, about="file"))
    return facts


# -- storing ------------------------------------------------------------------------


def _stored(session: Session, exhibit_id: int) -> list[tuple[str, str]]:
    return [(kind, value) for kind, value in session.execute(
        select(Fact.kind, Fact.value).where(Fact.exhibit_id == exhibit_id,
                                            Fact.kind.in_(KINDS)).order_by(Fact.id))]


def corroborate_case(session: Session, case: Case, actor: str,
                     settings: CorroborationSettings | None = None,
                     exhibit_ids: Sequence[int] | None = None) -> CorroborationReport:
    """Assess every OCR'd image of the case (or those named). Idempotent: facts are
    replaced only when the result changed (a new export may now corroborate an
    older screenshot), and each change is logged in the custody chain."""
    settings = settings or CorroborationSettings()
    report = CorroborationReport()
    keys = _Keys()
    for screen in _screens(session, case, exhibit_ids):
        if not screen.lines:
            continue
        facts = assess(session, case, screen, settings, keys)
        if not facts:
            continue
        report.screenshots += 1
        verdict = str(next(f.value["verdict"] for f in facts if f.kind == "corroboration"))
        counter = _COUNTERS[verdict]
        setattr(report, counter, getattr(report, counter) + 1)
        new = [(f.kind, canonical_json.dumps(f.value)) for f in facts]
        if new == _stored(session, screen.exhibit.id):
            continue
        session.execute(delete(Fact).where(Fact.exhibit_id == screen.exhibit.id,
                                           Fact.kind.in_(KINDS)))
        writer = FactWriter(session, case.id, screen.exhibit.id, SOURCE)
        writer.add_all(facts, None)
        writer.flush()
        report.changed += 1
        custody.append(session, custody.case_chain(case.ref), actor, "corroborated",
                       screen.exhibit.ref, {
                           "verdict": verdict, "source": SOURCE,
                           "events": [f.value["event_id"] for f in facts
                                      if f.kind == "corroborated_by"]})
    return report
