"""Proportionate review: keep only conversations involving the people named.

A phone backup holds the victim's whole life. With `ingest --only-with`, the
parser is run twice: first to find the conversations in which any named
identifier takes part (as sender, recipient or participant), then to keep every
record of those conversations, replies included. The original stays stored
whole; what was left out (records, media, conversations) is reported and logged,
so it can be listed as unused material.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from parsers.records import EventRecord, ParsedItem

# Records of a file that is a single conversation carry no conversation key.
_WHOLE_FILE = "(whole file)"


def involves(record: EventRecord, identifiers: frozenset[str]) -> bool:
    if record.sender_id in identifiers:
        return True
    if not identifiers.isdisjoint(record.recipients) or not identifiers.isdisjoint(
            record.participants):
        return True
    # "name:<display name>" lets an officer scope an export that has names only.
    return record.sender is not None and f"name:{record.sender.casefold()}" in identifiers


class Scope:
    def __init__(self, identifiers: frozenset[str], conversations: set[str]) -> None:
        self.identifiers = identifiers
        self.conversations = conversations
        self.kept = 0
        self.media_left_out = 0
        self.left_out: Counter[str] = Counter()

    @classmethod
    def survey(cls, identifiers: frozenset[str], items: Iterable[ParsedItem]) -> Scope:
        found = {
            item.conversation or _WHOLE_FILE
            for item in items
            if isinstance(item, EventRecord) and involves(item, identifiers)
        }
        return cls(identifiers, found)

    def keeps(self, record: EventRecord) -> bool:
        if record.kind == "incident":
            # The victim's own diary names no identifiers but is about the suspect.
            self.kept += 1
            return True
        key = record.conversation or _WHOLE_FILE
        if key in self.conversations:
            self.kept += 1
            return True
        self.left_out[key] += 1
        return False

    def report(self) -> dict[str, Any]:
        return {
            "only_with": sorted(self.identifiers),
            "kept_events": self.kept,
            "kept_conversations": len(self.conversations),
            "left_out_events": sum(self.left_out.values()),
            "left_out_conversations": len(self.left_out),
            "left_out_media": self.media_left_out,
        }
