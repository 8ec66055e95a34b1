"""`conduct analyse` and `conduct search`: the pattern of behaviour, and finding words.

Registered on the main app by conduct.cli (imported at its end).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from conduct.cli import app, fail, guarded, opened, out, settings
from evidence_store import cases, custody, persons
from evidence_store.contact_scope import ContactScope
from evidence_store.models import Case
from evidence_store.search import SearchError, search

if TYPE_CHECKING:
    from evidence_store.course_of_conduct import CourseOfConduct
    from evidence_store.frequency import FrequencyReport


@app.command()
def analyse(
    ref: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
    charts: Annotated[Path | None, typer.Option(
        "--charts", help="Write the charts (PNG and SVG) into this folder.")] = None,
    person: Annotated[str | None, typer.Option(
        "--person", help="Only this person's contacts (name or number from `person list`); "
        "default: every suspect's.")] = None,
    inbound: Annotated[bool, typer.Option(
        "--inbound", help="Everything the victim received, whoever sent it.")] = False,
    burst_count: Annotated[int, typer.Option(
        "--burst-count", help="A burst: at least this many contacts ...")] = 5,
    burst_minutes: Annotated[int, typer.Option(
        "--burst-minutes", help="... with at most this many minutes from first to last.")] = 10,
    night: Annotated[str, typer.Option(
        "--night", help="Night hours, local time, as FROM-TO (e.g. 23-6).")] = "23-6",
    rules: Annotated[Path | None, typer.Option(
        "--rules", help="Behaviour rule file (default: the one shipped with Conduct).")] = None,
) -> None:
    """The pattern of behaviour: frequency, timing, bursts, escalation, calls, flags and
    the course-of-conduct summary (duplicates merged and the rules run first)."""
    # numpy and the analysis load only for this command, not for every `conduct` run.
    from evidence_store.course_of_conduct import summarise
    from evidence_store.frequency import AnalysisOptions

    if person and inbound:
        fail("choose --person or --inbound, not both")
    night_start, night_end = _night(night)
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        scope = (ContactScope("inbound") if inbound else
                 ContactScope("person", _person_id(session, case, person)) if person
                 else ContactScope())
        try:
            options = AnalysisOptions(scope=scope, burst_count=burst_count,
                                      burst_minutes=burst_minutes, night_start=night_start,
                                      night_end=night_end)
        except ValueError as exc:
            fail(str(exc))
        merged = _merge_duplicates(session, case)
        evaluated = _evaluate_flags(session, case, rules)
        summary = guarded(lambda: summarise(session, case, options))
        written = []
        if charts is not None:
            from exports.charts import write_charts

            written = [(path, _sha256(path)) for chart in write_charts(summary.report, charts)
                       for path in (chart.png, chart.svg)]
        custody.append(session, custody.case_chain(case.ref), settings.user, "analysed",
                       case.ref, {
                           "scope": summary.scope, "burst_count": burst_count,
                           "burst_minutes": burst_minutes, "night": f"{night_start}-{night_end}",
                           "occasions": summary.occasions, "days": summary.days,
                           "after_notice": (len(summary.after_notice.event_ids)
                                            if summary.after_notice else None),
                           "flags": sum(len(c.flag_ids) for c in summary.categories),
                           "bursts": len(summary.bursts),
                           "charts": [{"file": p.name, "sha256": h} for p, h in written]})
    if as_json:
        print(json.dumps({"summary": summary.as_json(), "analysis": summary.report.as_json(),
                          "duplicates_merged": merged, "flags_evaluated": evaluated,
                          "charts": [{"path": str(p), "sha256": h} for p, h in written]},
                         ensure_ascii=False, indent=2))
        return
    _print_summary(summary, merged, evaluated)
    for path, _ in written:
        out.print(f"chart {path}", markup=False, highlight=False)


def _night(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    if not (sep and start.strip().isdigit() and end.strip().isdigit()):
        fail(f"--night takes FROM-TO hours such as 23-6, not {text!r}")
    return int(start), int(end)


def _person_id(session: Session, case: Case, wanted: str) -> int:
    people = persons.persons_of(session, case)
    if wanted.isdigit():
        for person, _ in people:
            if person.id == int(wanted):
                return person.id
    named = [p for p, _ in people if p.name.casefold() == wanted.casefold()]
    if len(named) == 1:
        return named[0].id
    if len(named) > 1:
        fail(f"{len(named)} people in case {case.ref} are called {wanted!r}: give the number "
             "instead")
    fail(f"case {case.ref} has no person {wanted!r} (see `conduct person list`)")


def _merge_duplicates(session: Session, case: Case) -> int | None:
    try:
        from evidence_store.occurrences import merge_duplicates
    except ImportError:
        return None
    return int(merge_duplicates(session, case))


def _evaluate_flags(session: Session, case: Case, rules: Path | None) -> int | None:
    try:
        from evidence_store.behaviour import evaluate_flags
    except ImportError:
        return None
    return len(guarded(lambda: evaluate_flags(session, case, rules, actor=settings.user)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _print_summary(summary: CourseOfConduct, merged: int | None, evaluated: int | None) -> None:
    report = summary.report
    table = Table(title=f"Course of conduct, case {summary.case_ref} "
                        f"(local times {summary.timezone})", show_header=False,
                  title_justify="left")
    table.add_column("measure", style="bold", no_wrap=True)
    table.add_column("value")
    table.add_row("scope", summary.scope)
    occasions = f"{summary.occasions:,} contact events on {summary.days:,} days"
    if merged is not None:
        occasions += f" (duplicates counted once; {merged:,} merged now)"
    table.add_row("occasions", occasions)
    if summary.first and summary.last:
        table.add_row("span", f"{summary.first.local_time} (event {summary.first.event_id}) "
                              f"to {summary.last.local_time} (event {summary.last.event_id})")
    table.add_row("channels", _counts(summary.channels))
    table.add_row("identifiers", "\n".join(
        f"{v}: {n:,} (events {a} to {b})" for v, n, a, b in summary.identifiers) or "none")
    if summary.after_notice is not None:
        by = ", ".join(f"notice {k}: {v:,}" for k, v in summary.after_notice.by_notice.items())
        table.add_row("after notice", f"{len(summary.after_notice.event_ids):,}"
                                      + (f" ({by})" if by else ""))
    table.add_row("flags", _flags(summary, evaluated))
    table.add_row("bursts", _bursts(summary))
    share = summary.night_share
    table.add_row("night", f"{summary.night_count:,} between {summary.night_hours[0]:02d}:00 "
                           f"and {summary.night_hours[1]:02d}:00"
                           + (f" ({share:.1%})" if share is not None else ""))
    table.add_row("escalation", _trend(report))
    table.add_row("calls", _calls(report))
    for note in summary.notes:
        table.add_row("note", note)
    out.print(table)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"


def _flags(summary: CourseOfConduct, evaluated: int | None) -> str:
    if not summary.categories:
        return "none" if evaluated is not None else "not available"
    lines = []
    for category in summary.categories:
        lines.append(f"{category.category}: {len(category.flag_ids):,} flags on "
                     f"{len(category.event_ids):,} events")
        for event in category.strongest[:3]:
            where = ", ".join(f"{k} {v}" for k, v in event.locator.items())
            lines.append(f"  event {event.event_id} {event.local_time} {event.exhibit} "
                         f"({where}): {event.excerpt}")
    return "\n".join(lines)


def _bursts(summary: CourseOfConduct) -> str:
    count, minutes = summary.burst_rule
    text = f"{len(summary.bursts):,} (at least {count} contacts within {minutes} minutes)"
    if summary.bursts:
        largest = max(summary.bursts, key=lambda b: (b.count, -b.start.timestamp()))
        text += (f"; largest {largest.count} contacts from {largest.start:%Y-%m-%d %H:%M} UTC "
                 f"(events {largest.event_ids[0]} to {largest.event_ids[-1]})")
    return text


def _trend(report: FrequencyReport) -> str:
    trend = report.escalation
    text = trend.direction.replace("_", " ")
    if trend.slope_per_week is not None:
        text += f" (slope {trend.slope_per_week:+.2f} contacts/week per week"
        if trend.first_third_mean is not None and trend.last_third_mean is not None:
            text += (f"; first third {trend.first_third_mean:,.1f}/week, last third "
                     f"{trend.last_third_mean:,.1f}/week")
        text += ")"
    if report.flagged_escalation is not None:
        text += f"; flagged contacts: {report.flagged_escalation.direction.replace('_', ' ')}"
    return text


def _calls(report: FrequencyReport) -> str:
    text = _counts({k.replace("_", " "): v for k, v in report.calls_by_outcome.items()})
    return (f"{text}; withheld number: {report.withheld_calls_in_scope:,} in scope, "
            f"{report.withheld_calls_unattributed:,} more not attributed to anyone")


@app.command("search")
def search_command(
    ref: str,
    words: Annotated[str, typer.Argument(
        help='Words to find (all must occur); "a phrase" in quotes; word* for words '
             "beginning so.")],
    limit: Annotated[int, typer.Option(help="Results per page.")] = 50,
    after: Annotated[str | None, typer.Option(
        "--after", help="Continue after this cursor (printed at the end of a page).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Find events whose text, subject or sender contain the words, in time order."""
    with opened() as store, store.session() as session:
        case = guarded(lambda: cases.get_case(session, ref))
        try:
            page = search(session, case, words, limit=limit, after=after)
        except SearchError as exc:
            fail(str(exc))
        custody.append(session, custody.case_chain(case.ref), settings.user, "searched",
                       case.ref, {"query": words, "after": after, "results": len(page.rows)})
    if as_json:
        print(json.dumps({"results": page.rows, "next_cursor": page.next_cursor},
                         ensure_ascii=False, indent=2))
        return
    for row in page.rows:
        sender = (f"{row['sender_person']} ({row['sender_role']})" if row["sender_role"]
                  else row["sender"] or "")
        out.print(f"{row['occurred_at']}  #{row['id']}  {row['channel']}  {sender}  "
                  f"{row['exhibit']}  {row['excerpt']}", markup=False, highlight=False)
    _print_more(len(page.rows), page.next_cursor)


def _print_more(count: int, cursor: str | None) -> None:
    if cursor:
        out.print(f"{count} shown; more with --after {cursor}", markup=False, highlight=False)
    else:
        out.print(f"{count} shown; no more", markup=False, highlight=False)
