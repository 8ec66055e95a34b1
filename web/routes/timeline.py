"""The timeline a page at a time, with filters and full-text search.

Pages are keyset pages (evidence_store.search.timeline_page): each continues
after the last (occurred_at, id) shown, so page 10,000 of a million events
costs what page 1 costs. Dates typed in the filter are days in the case's time
zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_store import persons
from evidence_store.localtime import zone
from evidence_store.models import Case, Event, Exhibit
from evidence_store.search import (
    PageFilter,
    SearchError,
    make_cursor,
    parse_cursor,
    search,
    timeline_page,
)
from web import access
from web import format as fmt
from web.deps import ctx, log_case, render, viewer
from web.sessions import Viewer

router = APIRouter()

#: With a search and filters together, at most this many search pages are read to fill one.
_SEARCH_PAGES = 20


@dataclass(frozen=True)
class Facets:
    channels: list[str]
    kinds: list[str]
    flags: list[str]


_facets: dict[tuple[str, int], tuple[tuple[int, int], Facets]] = {}


def facets(session: Session, case: Case) -> Facets:
    """Channels, kinds and flags in use, for the filter menus. Reading them scans the
    case's events, so they are kept until the case's exhibits change."""
    signature = session.execute(
        select(func.count(), func.coalesce(func.sum(Exhibit.event_count), 0))
        .where(Exhibit.case_id == case.id)).one()
    key = (str(session.get_bind().engine.url), case.id)
    cached = _facets.get(key)
    if cached is not None and cached[0] == tuple(signature):
        return cached[1]
    # One pass over the case's events; the combinations are few.
    combos = session.execute(select(Event.channel, Event.kind, Event.flags)
                             .where(Event.case_id == case.id).distinct()).all()
    found = Facets(sorted({c for c, _, _ in combos}), sorted({k for _, k, _ in combos}),
                   sorted({f for _, _, text in combos for f in json.loads(text or "[]")}))
    _facets[key] = ((int(signature[0]), int(signature[1])), found)
    return found


@dataclass
class Query:
    """The filters as typed (for the form and links) and as understood."""

    values: dict[str, str]
    filters: PageFilter
    text: str | None
    after: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(v for k, v in self.values.items() if k != "q")


def _day(text: str, label: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{label} must be a date like 2024-03-12, not {text!r}")
        return None


def read_query(case: Case, params: dict[str, str]) -> Query:
    keys = ("person", "channel", "kind", "flag", "from", "to", "q")
    values = {k: params.get(k, "").strip() for k in keys}
    problems: list[str] = []
    tz = zone(case.timezone)
    start_day = _day(values["from"], "From", problems)
    end_day = _day(values["to"], "To", problems)
    person_id = int(values["person"]) if values["person"].isdigit() else None
    filters = PageFilter(
        start=(datetime.combine(start_day, time(), tz).astimezone(UTC) if start_day else None),
        end=(datetime.combine(end_day + timedelta(days=1), time(), tz).astimezone(UTC)
             if end_day else None),
        channel=values["channel"] or None, kind=values["kind"] or None,
        person_id=person_id, flag=values["flag"] or None,
    )
    after = params.get("after") or None
    if after is not None:
        try:
            parse_cursor(after)
        except SearchError as exc:
            problems.append(str(exc))
            after = None
    return Query(values, filters, values["q"] or None, after, problems)


def _matches(row: dict[str, Any], filters: PageFilter, person_name: str | None) -> bool:
    """The page filters applied to a search result row (search itself has none)."""
    at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
    return ((filters.start is None or at >= filters.start)
            and (filters.end is None or at < filters.end)
            and (filters.channel is None or row["channel"] == filters.channel)
            and (filters.kind is None or row["kind"] == filters.kind)
            and (filters.flag is None or filters.flag in row["flags"])
            and (person_name is None or row["sender_person"] == person_name))


def search_page(session: Session, case: Case, query: Query, limit: int, person_name: str | None
                ) -> tuple[list[dict[str, Any]], str | None]:
    assert query.text is not None
    rows: list[dict[str, Any]] = []
    after = query.after
    for _ in range(_SEARCH_PAGES):
        page = search(session, case, query.text, limit=limit, after=after)
        for row in page.rows:
            if _matches(row, query.filters, person_name):
                rows.append(row)
                if len(rows) == limit:
                    at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
                    return rows, make_cursor(at, row["id"])
        if page.next_cursor is None:
            return rows, None
        after = page.next_cursor
    # Read as far as one request should; the next page goes on from here.
    return rows, after


@router.get("/cases/{ref}/timeline")
def timeline(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
             ) -> Response:
    limit = ctx(request).settings.page_size
    params = dict(request.query_params)
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
        query = read_query(case, params)
        people = persons.persons_of(session, case)
        names = {p.id: p.name for p, _ in people}
        if query.filters.person_id is not None and query.filters.person_id not in names:
            query.problems.append("No such person in this case.")
        rows: list[dict[str, Any]] = []
        next_cursor = None
        if not query.problems:
            try:
                if query.text:
                    rows, next_cursor = search_page(
                        session, case, query, limit,
                        names.get(query.filters.person_id or -1))
                else:
                    rows, next_cursor = timeline_page(session, case, query.filters,
                                                      after=query.after, limit=limit)
            except SearchError as exc:
                query.problems.append(str(exc))
        found = facets(session, case)
        log_case(session, user, case, "timeline_viewed", {
            "path": request.url.path, "filters": {k: v for k, v in query.values.items() if v},
            "after": query.after, "events": len(rows)})
    base = {k: v for k, v in query.values.items() if v}
    next_url = (f"{request.url.path}?{urlencode({**base, 'after': next_cursor})}"
                if next_cursor else None)
    first_url = f"{request.url.path}?{urlencode(base)}" if base else request.url.path
    return render(request, "timeline.html", {
        "case": case, "rows": [display_row(r, case.timezone) for r in rows], "query": query,
        "people": people, "facets": found,
        "next_url": next_url, "first_url": first_url if query.after else None,
        "zone_name": case.timezone,
    }, status=400 if query.problems else 200)


@dataclass(frozen=True, slots=True)
class DisplayRow:
    """One table row, worked out here rather than in the template (a page is 100 rows)."""

    id: int
    utc: str
    local: str
    time_flags: list[str]
    kind: str
    channel: str
    sender: str
    direction: str
    subject: str
    text: str
    flags: list[str]
    exhibit: str


def display_row(row: dict[str, Any], zone_name: str, width: int = 300) -> DisplayRow:
    at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
    text = row.get("excerpt") or row["text"] or ""
    sender = (f"{row['sender_person']} ({row['sender_role']})" if row["sender_person"]
              else row["sender"] or "–")
    return DisplayRow(
        id=row["id"], utc=fmt.utc(row["occurred_at"]),
        local=at.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M:%S %Z"),
        time_flags=[f for f in row["time_flags"] if f != "minute_precision"],
        kind=row["kind"], channel=row["channel"], sender=sender,
        direction="" if row["direction"] == "unknown" else row["direction"],
        subject=row["subject"] or "", text=text if len(text) <= width else text[:width] + "…",
        flags=row["flags"], exhibit=row["exhibit"])
