"""The case-file bundle: originals, timeline, exhibit list, continuity, checksums.

Deterministic by construction (fixed member times and modes, sorted members,
the continuity record cut at the case's last change) so that exporting an
unchanged case twice gives byte-identical ZIPs, and streamed so that large
originals never sit in memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session

from evidence_store import canonical_json, cases, custody
from evidence_store.blobs import CHUNK, BlobStore
from evidence_store.facts import iter_case_facts
from evidence_store.models import Case, CustodyEntry, Exhibit
from evidence_store.timeline import COLUMNS, csv_row, iter_events, utc_z

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: Custody actions that read a case without changing it; they do not make it "changed".
ACCESS_ACTIONS = frozenset({"timeline_viewed", "exported", "verified", "viewed"})

EXHIBIT_COLUMNS = (
    "ref", "description", "file_name", "size", "sha256", "received_from", "received_by",
    "received_at", "how_obtained", "parent", "member_path", "media_type", "format", "status",
    "duplicate_of", "bundle_path",
)
FACT_COLUMNS = ("exhibit", "event_seq", "kind", "value", "locator", "source")
CUSTODY_COLUMNS = ("chain", "seq", "at", "actor", "action", "subject", "details", "prev_hash",
                   "entry_hash")


@dataclass(frozen=True)
class BundleResult:
    path: Path
    sha256: str
    files: int
    custody_upto: int


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .") or "file"
    return cleaned[:120]


def exhibit_path(exhibit: Exhibit) -> str:
    return f"exhibits/{exhibit.ref.replace('/', '-')}_{_safe_name(exhibit.original_name)}"


class _HashingWriter(io.RawIOBase):
    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.target.write(data)
        return len(data)


def _member(name: str, size_hint: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    info.file_size = size_hint
    return info


class _BundleWriter:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.sums: list[tuple[str, str]] = []

    def stream(self, name: str, chunks: Iterator[bytes], size_hint: int = 0) -> None:
        info = _member(name, size_hint)
        with self.archive.open(info, "w", force_zip64=size_hint >= 2**31) as raw:
            hashing = _HashingWriter(raw)
            for chunk in chunks:
                hashing.write(chunk)
        self.sums.append((name, hashing.digest.hexdigest()))

    def text(self, name: str, lines: Iterator[str]) -> None:
        self.stream(name, (line.encode("utf-8") for line in lines))


def _csv_lines(header: tuple[str, ...], rows: Iterator[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()


def _file_chunks(blobs: BlobStore, sha256: str) -> Iterator[bytes]:
    with blobs.open(sha256) as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def last_change_seq(entries: list[CustodyEntry]) -> int:
    seq = 0
    for entry in entries:
        if entry.action not in ACCESS_ACTIONS:
            seq = entry.seq
    return seq


def export_case(session: Session, blobs: BlobStore, case: Case, out: Path, actor: str
                ) -> BundleResult:
    exhibits = cases.exhibits_of(session, case)
    by_id = {e.id: e for e in exhibits}
    chain = custody.case_chain(case.ref)
    entries = custody.entries_of(session, chain)
    upto = last_change_seq(entries)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            writer = _BundleWriter(archive)
            for exhibit in sorted(exhibits, key=lambda e: exhibit_path(e)):
                writer.stream(exhibit_path(exhibit), _file_chunks(blobs, exhibit.sha256),
                              exhibit.size)
            writer.text("custody.csv", _csv_lines(CUSTODY_COLUMNS, (
                [e.chain, str(e.seq), e.at, e.actor, e.action, e.subject, e.details,
                 e.prev_hash, e.entry_hash] for e in entries if e.seq <= upto)))
            writer.text("exhibits.csv", _csv_lines(EXHIBIT_COLUMNS, (
                _exhibit_row(e, by_id) for e in exhibits)))
            writer.text("timeline.csv", _csv_lines(COLUMNS, (
                csv_row(event) for event in iter_events(session, case))))
            writer.text("facts.csv", _csv_lines(FACT_COLUMNS, (
                _fact_row(fact) for fact in iter_case_facts(session, case.id))))
            sums = sorted(writer.sums)
            writer.text("SHA256SUMS", iter([f"{digest}  {name}\n" for name, digest in sums]))
        digest = hashlib.sha256()
        with open(tmp, "rb") as check:
            while chunk := check.read(CHUNK):
                digest.update(chunk)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    custody.append(session, chain, actor, "exported", case.ref, {
        "bundle_sha256": digest.hexdigest(), "file": out.name, "members": len(writer.sums),
        "custody_upto": upto,
    })
    return BundleResult(path=out, sha256=digest.hexdigest(), files=len(writer.sums),
                        custody_upto=upto)


def _fact_row(fact: dict[str, object]) -> list[str]:
    return [
        str(fact["exhibit"]), "" if fact["event_seq"] is None else str(fact["event_seq"]),
        str(fact["kind"]), canonical_json.dumps(fact["value"]),
        canonical_json.dumps(fact["locator"]), str(fact["source"]),
    ]


def _exhibit_row(exhibit: Exhibit, by_id: dict[int, Exhibit]) -> list[str]:
    parent = by_id.get(exhibit.parent_id) if exhibit.parent_id else None
    duplicate = by_id.get(exhibit.duplicate_of_id) if exhibit.duplicate_of_id else None
    return [
        exhibit.ref, exhibit.description, exhibit.original_name, str(exhibit.size),
        exhibit.sha256, exhibit.received_from or "", exhibit.received_by,
        utc_z(exhibit.received_at), exhibit.how_obtained or "", parent.ref if parent else "",
        exhibit.member_path or "", exhibit.media_type, exhibit.format or "", exhibit.status,
        duplicate.ref if duplicate else "", exhibit_path(exhibit),
    ]
