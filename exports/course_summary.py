"""The course-of-conduct summary of the case file, as blocks ready to print.

The numbers and cited events come from evidence_store.course_of_conduct; the
dismissed flags (set aside by the officer, so not part of the case put, but to
be disclosed) from evidence_store.behaviour. Every cited event keeps its
exhibit reference and locator. Text passes through the redactor first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from evidence_store.cases import CaseError
from evidence_store.models import Case
from exports.case_tables import locator_text
from exports.pdf.layout import Column
from exports.redaction import Redactor

FILE = "course_of_conduct.pdf"
_BURSTS_SHOWN = 30


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: list[list[str]]


Block = Heading | Para | Table


@dataclass
class Summary:
    blocks: list[Block] = field(default_factory=list)
    #: evidence_store.frequency.FrequencyReport, for the charts; None without an analysis.
    report: Any = None


_CITED = (Column("Event", 34), Column("Local time", 90), Column("Channel", 50),
          Column("Exhibit and locator", 110), Column("Excerpt", 240))


def build_summary(session: Session, case: Case, redactor: Redactor) -> Summary:
    summary = Summary()
    blocks = summary.blocks
    try:
        from evidence_store.course_of_conduct import summarise
    except ImportError:
        blocks.append(Para("The pattern analysis is not available in this version of Conduct."))
        return summary
    try:
        course = summarise(session, case)
    except CaseError as exc:
        blocks.append(Para(f"No pattern analysis: {exc}"))
        return summary
    summary.report = course.report
    text = _texter(redactor)
    scope = course.scope[:1].upper() + course.scope[1:]
    blocks += [Heading("Scope"), Para(text(f"{scope}. Local times in {course.timezone}."))]
    blocks.append(Heading("In numbers"))
    numbers = [f"{_count(course.occasions, 'occasion')} of contact on "
               f"{_count(course.days, 'day')}."]
    if course.first and course.last:
        numbers.append(f"First: {_cited_line(course.first.as_json(), text)}.")
        numbers.append(f"Last: {_cited_line(course.last.as_json(), text)}.")
    if course.after_notice is not None:
        numbers.append(f"{len(course.after_notice.event_ids):,} contacts after the suspect was "
                       "told to stop.")
    share = course.night_share
    numbers.append(f"At night ({course.night_hours[0]:02d}:00-{course.night_hours[1]:02d}:00): "
                   f"{course.night_count:,}" + (f" ({share:.0%})." if share is not None else "."))
    numbers.append(f"Escalation of contacts: {course.escalation.replace('_', ' ')}"
                   + (f"; of flagged contacts: {course.flagged_escalation.replace('_', ' ')}."
                      if course.flagged_escalation else "."))
    blocks += [Para(line) for line in numbers]
    blocks.append(Table((Column("Channel", 120), Column("Contacts", 60)),
                        [[c, f"{n:,}"] for c, n in course.channels.items()]))
    blocks.append(Table(
        (Column("Identifier", 160), Column("Contacts", 60), Column("First event", 60),
         Column("Last event", 60)),
        [[redactor.identifier(v, FILE, "identifier") or "", f"{n:,}", str(a), str(b)]
         for v, n, a, b in course.identifiers]))
    blocks.append(Heading("Bursts"))
    at_least, minutes = course.burst_rule
    blocks.append(Para(f"{len(course.bursts):,} bursts of at least {at_least} contacts within "
                       f"{minutes} minutes" + (f"; the first {_BURSTS_SHOWN} are listed."
                                               if len(course.bursts) > _BURSTS_SHOWN else ".")))
    if course.bursts:
        blocks.append(Table(
            (Column("Start (UTC)", 100), Column("End (UTC)", 100), Column("Contacts", 50),
             Column("Channels", 120), Column("Events", 150)),
            [[b["start"], b["end"], str(b["count"]),
              ", ".join(f"{c} {n}" for c, n in b["channels"].items()),
              _ids(b["event_ids"])] for b in (x.as_json() for x in course.bursts[:_BURSTS_SHOWN])]))
    blocks.append(Heading("Behaviour flags"))
    if not course.categories:
        blocks.append(Para("No active behaviour flags."))
    for category in course.categories:
        flags, events = len(category.flag_ids), len(category.event_ids)
        blocks.append(Para(f"{category.category.replace('_', ' ').capitalize()}: "
                           f"{_count(flags, 'flag')} on {_count(events, 'event')}; the "
                           "strongest:"))
        blocks.append(Table(_CITED, [_cited_row(e.as_json(), text)
                                     for e in category.strongest]))
    blocks += _dismissed(session, case, text)
    if course.notes:
        blocks.append(Heading("Notes"))
        blocks += [Para(note) for note in course.notes]
    return summary


def _texter(redactor: Redactor) -> Any:
    def text(value: str) -> str:
        return redactor.text(value, FILE, "text") or ""
    return text


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _ids(ids: list[int], shown: int = 12) -> str:
    head = ", ".join(map(str, ids[:shown]))
    return head + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _cited_line(event: dict[str, Any], text: Any) -> str:
    return (f"event {event['event_id']}, {event['local_time']}, {event['channel']}, exhibit "
            f"{event['exhibit']} {locator_text(event['locator'])}: "
            f"\u201c{text(event['excerpt'])}\u201d")


def _cited_row(event: dict[str, Any], text: Any) -> list[str]:
    return [str(event["event_id"]), event["local_time"], event["channel"],
            f"{event['exhibit']}\n{locator_text(event['locator'])}", text(event["excerpt"])]


def _dismissed(session: Session, case: Case, text: Any) -> list[Block]:
    blocks: list[Block] = [Heading("Dismissed flags")]
    try:
        from evidence_store.behaviour import DISMISSED, flags_of_case
    except ImportError:
        return [*blocks, Para("Behaviour flags are not available in this version of Conduct.")]
    rows = [[str(f.id), f"{f.rule_id} v{f.rule_version}", f.category, text(f.explanation),
             _ids(list(f.event_ids)), f.dismissed_by or "",
             f.dismissed_at.isoformat(timespec="seconds") if f.dismissed_at else "",
             text(f.dismissed_reason or "")]
            for f in flags_of_case(session, case, include_dismissed=True)
            if f.status == DISMISSED]
    if not rows:
        return [*blocks, Para("No flag was dismissed.")]
    blocks.append(Para("Flags the officer set aside, with the reason given. They are not part of "
                       "the course of conduct above, and are listed here for disclosure."))
    blocks.append(Table((Column("Flag", 30), Column("Rule", 80), Column("Category", 60),
                         Column("Explanation", 150), Column("Events", 60),
                         Column("Dismissed by", 60), Column("When (UTC)", 70),
                         Column("Reason", 110)), rows))
    return blocks
