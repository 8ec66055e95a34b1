"""What an ingest reports, exhibit by exhibit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["parsed", "stored_unparsed", "duplicate", "failed"]


@dataclass
class ExhibitOutcome:
    ref: str
    name: str
    sha256: str
    size: int
    format: str | None
    status: Status
    events: int = 0
    error: str | None = None
    duplicate_of: str | None = None
    top_level: bool = True
    warnings: list[str] = field(default_factory=list)
    #: A record of this ingest refers to this file (a chat's photo, say).
    linked: bool = False
    #: With ingest --only-with: how much was kept and left out, for disclosure.
    left_out: dict[str, Any] | None = None
    children: list[ExhibitOutcome] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "status": self.status,
            "events": self.events,
            "error": self.error,
            "duplicate_of": self.duplicate_of,
            "warnings": self.warnings,
            "scope": self.left_out,
            "linked": self.linked,
            "children": [child.as_json() for child in self.children],
        }

    def walk(self) -> list[ExhibitOutcome]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found

    @property
    def unparsed_problem(self) -> bool:
        """Counts against the exit status: a failure anywhere, or an item the officer
        named that no parser could read. Unparsed archive members (chat media) do not."""
        return self.status == "failed" or (
            self.top_level and self.status == "stored_unparsed" and not self.linked)

    def one_line(self) -> str:
        what = self.format or "unknown format"
        if self.status == "parsed":
            text = f"{self.ref} {self.name}: {what}, {self.events} events"
            if self.left_out and self.left_out["left_out_events"]:
                text += (f", {self.left_out['left_out_events']} left out of scope in "
                         f"{self.left_out['left_out_conversations']} conversations")
            inside = len(self.children)
            return text + (f" ({inside} item{'s' * (inside != 1)} inside)" if inside else "")
        if self.status == "duplicate":
            return (f"{self.ref} {self.name}: same bytes as {self.duplicate_of}; "
                    "recorded as a duplicate")
        if self.status == "stored_unparsed" and self.linked:
            return f"{self.ref} {self.name}: stored; a message refers to it"
        if self.status == "stored_unparsed":
            return f"{self.ref} {self.name}: stored, not parsed ({self.error or what})"
        return f"{self.ref} {self.name}: stored, could not be parsed: {self.error}"
