"""The case file's tables as rows: exhibits (MG12), continuity (custody) and facts."""

from __future__ import annotations

import re
from typing import Any

from evidence_store import canonical_json
from evidence_store.models import CustodyEntry, Exhibit
from evidence_store.timeline import utc_z

EXHIBIT_COLUMNS = (
    "ref", "description", "file_name", "size", "sha256", "received_from", "received_by",
    "received_at", "how_obtained", "parent", "member_path", "media_type", "format", "status",
    "duplicate_of", "bundle_path", "where_received",
)
CUSTODY_COLUMNS = ("chain", "seq", "at", "actor", "action", "subject", "details", "prev_hash",
                   "entry_hash")
FACT_COLUMNS = ("exhibit", "event_seq", "kind", "value", "locator", "source")


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .") or "file"
    return cleaned[:120]


def exhibit_path(exhibit: Exhibit, *, by_reference_only: bool = False) -> str:
    """Where an original sits in the bundle: named by its exhibit reference.

    A redacted bundle names originals by reference and extension only, because
    an original's file name can itself name a third party ("Chat with Jo.txt")."""
    stem = exhibit.ref.replace("/", "-")
    if by_reference_only:
        suffix = re.sub(r"[^A-Za-z0-9]", "", exhibit.original_name.rpartition(".")[2])[:8]
        return f"exhibits/{stem}.{suffix}" if "." in exhibit.original_name and suffix else (
            f"exhibits/{stem}")
    return f"exhibits/{stem}_{_safe_name(exhibit.original_name)}"


def ref_order(ref: str) -> tuple[tuple[int, int | str], ...]:
    """JS/1, JS/1/1, JS/1/2, JS/2, ... JS/10: children beside their parent."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in ref.split("/"))


def where_received(exhibit: Exhibit, parent: Exhibit | None) -> str:
    """MG12's "where and when found or received", in words."""
    when = utc_z(exhibit.received_at)
    if parent is not None:
        inside = exhibit.member_path or exhibit.original_name
        return (f"Extracted by Conduct from exhibit {parent.ref} ({inside}) on {when}; "
                "bytes as held inside the parent")
    how = exhibit.how_obtained or "how obtained not recorded"
    return f"Received {when}; {how}"


def exhibit_row(exhibit: Exhibit, by_id: dict[int, Exhibit], bundle_path: str) -> list[str]:
    parent = by_id.get(exhibit.parent_id) if exhibit.parent_id else None
    duplicate = by_id.get(exhibit.duplicate_of_id) if exhibit.duplicate_of_id else None
    return [
        exhibit.ref, exhibit.description, exhibit.original_name, str(exhibit.size),
        exhibit.sha256, exhibit.received_from or "", exhibit.received_by,
        utc_z(exhibit.received_at), exhibit.how_obtained or "", parent.ref if parent else "",
        exhibit.member_path or "", exhibit.media_type, exhibit.format or "", exhibit.status,
        duplicate.ref if duplicate else "", bundle_path, where_received(exhibit, parent),
    ]


def custody_row(entry: CustodyEntry) -> list[str]:
    return [entry.chain, str(entry.seq), entry.at, entry.actor, entry.action, entry.subject,
            entry.details, entry.prev_hash, entry.entry_hash]


def fact_row(fact: dict[str, Any]) -> list[str]:
    return [
        str(fact["exhibit"]), "" if fact["event_seq"] is None else str(fact["event_seq"]),
        str(fact["kind"]), canonical_json.dumps(fact["value"]),
        canonical_json.dumps(fact["locator"]), str(fact["source"]),
    ]


def locator_text(locator: dict[str, Any]) -> str:
    """A locator in words for a printed page: "line 4-5", "byte 1024 (+310)", ..."""
    parts: list[str] = []
    if "member" in locator:
        parts.append(f"in {locator['member']}")
    if "line" in locator:
        end = locator.get("line_end")
        parts.append(f"line {locator['line']}" + (f"-{end}" if end and end != locator["line"]
                                                  else ""))
    if "byte_offset" in locator:
        length = locator.get("byte_length")
        parts.append(f"byte {locator['byte_offset']}" + (f" (+{length})" if length else ""))
    if "json_path" in locator:
        parts.append(str(locator["json_path"]))
    if "message_id" in locator:
        parts.append(f"Message-ID {locator['message_id']}")
    known = {"member", "line", "line_end", "byte_offset", "byte_length", "json_path",
             "message_id"}
    parts.extend(f"{k} {v}" for k, v in sorted(locator.items()) if k not in known)
    return ", ".join(parts)
