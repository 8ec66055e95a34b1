"""The timeline as a readable, paginated PDF, drawn one event at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exports.case_tables import locator_text
from exports.pdf.layout import Column, PdfDocument

_TEXT_CHARS = 900
_SHOWN_RECIPIENTS = 3
COLUMNS = (
    Column("Time (UTC)", 58), Column("Local time as written; zone", 88),
    Column("Kind, channel, time basis", 64), Column("From / to", 112),
    Column("Text", 290), Column("Exhibit, locator, event", 118),
)


def _who(event: dict[str, Any]) -> str:
    if event["sender_person"]:
        who = f"{event['sender_person']} ({event['sender_role']})"
    else:
        who = event["sender"] or event["sender_id"] or ""
    if event["sender_id"] and event["sender_id"] != who and not event["sender_person"]:
        who = f"{who} <{event['sender_id']}>" if who else event["sender_id"]
    recipients = event["recipients"]
    if recipients:
        shown = ", ".join(recipients[:_SHOWN_RECIPIENTS])
        more = len(recipients) - _SHOWN_RECIPIENTS
        who += f"\nto {shown}" + (f" and {more} more" if more > 0 else "")
    if event["direction"] != "unknown":
        who += f"\n({event['direction']})"
    return who


def _text(event: dict[str, Any]) -> str:
    parts = []
    if event["subject"]:
        parts.append(f"Subject: {event['subject']}")
    if event["text"]:
        parts.append(event["text"])
    parts.extend(f"[attachment: {a.get('name')}]" for a in event["attachments"])
    text = "\n".join(parts)
    if len(text) > _TEXT_CHARS:
        text = text[: _TEXT_CHARS - 1] + "…"
    return text


def event_cells(event: dict[str, Any]) -> list[str]:
    when = event["occurred_at"].replace("T", "\n").replace("Z", "")
    local = f"{event['local_time'] or ''}\n{event['time_zone'] or ''}"
    notable = [f for f in event["time_flags"] if f != "minute_precision"]
    if event["precision"] not in ("second", "subsecond"):
        notable.insert(0, f"{event['precision']} precision")
    if notable:
        local += f"\n[{', '.join(notable)}]"
    kind = f"{event['kind']}\n{event['channel']}\n{event['time_basis']}"
    where = f"{event['exhibit']}\n{locator_text(event['locator'])}\nevent {event['id']}"
    return [when, local, kind, _who(event), _text(event), where]


class TimelinePdf:
    def __init__(self, path: Path, case_ref: str, intro: list[str], charts: list[Path],
                 volume: tuple[int, int] | None = None) -> None:
        title = "Timeline of events" + (f" (volume {volume[0]} of {volume[1]})" if volume
                                        else "")
        self.doc = PdfDocument(
            path, title, case_ref, wide=True,
            footer_note="Times in UTC; local time as written in the source, with the zone "
                        "assumed. Long texts are cut: full text in timeline.csv.")
        self.doc.heading(f"{title}: case {case_ref}")
        for paragraph in intro:
            self.doc.paragraph(paragraph, size=9)
        if charts:
            self.doc.heading("Pattern of contact", size=11)
            self.doc.images(charts)
        self.doc.new_page()
        self.table = self.doc.table(COLUMNS, max_lines=10,
                                    overflow="… (full text in timeline.csv)")
        self.events = 0

    def add(self, event: dict[str, Any]) -> None:
        self.table.row(event_cells(event))
        self.events += 1

    def close(self) -> int:
        if not self.events:
            self.table.row(["", "", "", "", "No events in this case.", ""])
        self.doc.end_table()
        return self.doc.close()
