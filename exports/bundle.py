"""The case file for the CPS: originals, documents derived from them, continuity,
checksums and a signed manifest, in one ZIP.

Deterministic by construction (fixed member times and modes, a fixed member
order, PDFs drawn with fixed metadata, the continuity record cut at the case's
last change, a deterministic signature) so that exporting an unchanged case
twice gives byte-identical ZIPs. Streamed: originals go from the blob store
into the ZIP chunk by chunk, and the documents are written to a private work
folder first (so each one's size is known before it enters the ZIP), never
held whole in memory except a PDF's page streams while it is drawn.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.blobs import CHUNK, BlobStore
from evidence_store.cases import CaseError, exhibits_of
from evidence_store.facts import iter_case_facts
from evidence_store.models import Case, CustodyEntry, CustodyHead, Event, Exhibit
from evidence_store.store import Store
from evidence_store.timeline import COLUMNS, csv_row, iter_events, utc_z
from exports import case_tables, disclosure, manifest, readme, signing
from exports.case_tables import (
    CUSTODY_COLUMNS,
    EXHIBIT_COLUMNS,
    FACT_COLUMNS,
    exhibit_path,
    ref_order,
)
from exports.course_summary import build_summary
from exports.pdf import tables
from exports.pdf.statement import statement_pdf
from exports.pdf.summary import summary_pdf
from exports.pdf.timeline import TimelinePdf
from exports.redaction import LOG_COLUMNS, Redactor, parties_of
from exports.statement import ProducedExhibit, Statement
from exports.timesketch import jsonl_line

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: Events per timeline PDF; see timeline_volumes.
TIMELINE_VOLUME_EVENTS = 20_000
#: Custody actions that read a case without changing it; they do not make it "changed".
ACCESS_ACTIONS = frozenset({"timeline_viewed", "exported", "verified", "viewed", "downloaded",
                            "analysed", "searched"})
#: Media already compressed: stored as they are, since deflating them again costs time
#: and saves nothing.
_COMPRESSED = re.compile(
    r"^(image/(jpeg|png|gif|webp|heic|heif|avif)|video/.*|audio/.*|application/(zip|gzip|"
    r"x-7z-compressed|x-rar-compressed|x-bzip2|x-xz|zstd|pdf|vnd\.openxmlformats.*|"
    r"x-zip-compressed))$")

__all__ = ["ACCESS_ACTIONS", "BundleResult", "ExportError", "exhibit_path", "export_case",
           "last_change_seq"]


class ExportError(CaseError):
    """The case cannot be exported as it is (an original no longer matches its hash)."""


@dataclass(frozen=True)
class BundleResult:
    path: Path
    sha256: str
    files: int
    custody_upto: int
    fingerprint: str = ""
    redacted: bool = False


def last_change_seq(entries: list[CustodyEntry]) -> int:
    seq = 0
    for entry in entries:
        if entry.action not in ACCESS_ACTIONS:
            seq = entry.seq
    return seq


# -- writing the documents ------------------------------------------------------


class _Documents:
    """Derived files in a private work folder, remembered in the order written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.names.append(name)
        return target

    def csv(self, name: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        with self.path(name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)

    def text(self, name: str, text: str) -> None:
        self.path(name).write_bytes(text.encode("utf-8"))


# -- the ZIP --------------------------------------------------------------------


class _HashingSink:
    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.target.write(data)


class _HashedOutput:
    """The bundle file, hashed as it is written. It says it cannot seek, so zipfile
    writes each member once, sizes after the data, instead of going back to patch
    the header: the bundle's SHA-256 is then known without reading gigabytes again."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.offset += len(data)
        return self.target.write(data)

    def tell(self) -> int:
        return self.offset

    def seek(self, *_: object) -> int:
        raise OSError("the bundle is written front to back")

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        """The caller closes the file it opened."""


class _Zip:
    def __init__(self, handle: _HashedOutput) -> None:
        self.archive = zipfile.ZipFile(handle, "w", allowZip64=True)
        self.digests: dict[str, str] = {}

    def stream(self, name: str, chunks: Iterable[bytes], size: int, deflate: bool = True
               ) -> tuple[int, str]:
        info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        info.create_system = 3
        info.file_size = size
        with self.archive.open(info, "w") as raw:
            sink = _HashingSink(raw)
            for chunk in chunks:
                sink.write(chunk)
        self.digests[name] = sink.digest.hexdigest()
        return sink.size, sink.digest.hexdigest()

    def bytes(self, name: str, data: bytes) -> str:
        return self.stream(name, [data], len(data))[1]

    def file(self, name: str, path: Path) -> tuple[int, str]:
        return self.stream(name, _chunks_of(path), path.stat().st_size)

    def __enter__(self) -> _Zip:
        return self

    def __exit__(self, *exc: object) -> None:
        # Also on failure, so the half-written ZIP's file is released before it is deleted.
        self.archive.close()


def _chunks_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _blob_chunks(blobs: BlobStore, sha256: str) -> Iterator[bytes]:
    with blobs.open(sha256) as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


# -- the export -----------------------------------------------------------------


def export_case(session: Session, store: Store, case: Case, out: Path, actor: str, *,
                redact: bool = False) -> BundleResult:
    key = signing.load_or_create(store.root)
    if key.created:
        custody.append(session, custody.STORE_CHAIN, actor, "signing_key_created",
                       str(key.path.name), {"algorithm": signing.ALGORITHM,
                                            "fingerprint": key.fingerprint})
    exhibits = sorted(exhibits_of(session, case), key=lambda e: ref_order(e.ref))
    chain = custody.case_chain(case.ref)
    entries = custody.entries_of(session, chain)
    upto = last_change_seq(entries)
    kept = [e for e in entries if e.seq <= upto]
    redactor = Redactor(parties_of(session, case) if redact else None)
    paths = {e.id: exhibit_path(e, by_reference_only=redact) for e in exhibits}
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=".export-work-"))
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=".zip")
    try:
        docs = _Documents(work)
        _write_documents(session, case, docs, exhibits, kept, paths, redactor, key)
        header = _manifest_header(case, kept, redactor, key, redact)
        with os.fdopen(fd, "wb") as handle:
            output = _HashedOutput(handle)
            with _Zip(output) as archive:
                files = [manifest.FileEntry(readme.NAME, *archive.file(readme.NAME,
                                                                       work / readme.NAME),
                                            "readme")]
                for exhibit in exhibits:
                    files.append(_original(archive, store.blobs, exhibit, paths[exhibit.id]))
                for name in sorted(n for n in docs.names if n != readme.NAME):
                    files.append(manifest.FileEntry(name, *archive.file(name, work / name),
                                                    "document", redacted=redact))
                signed = manifest.manifest_bytes(header, files)
                archive.bytes(manifest.MANIFEST, signed)
                archive.bytes(manifest.SIGNATURE, key.sign(signed))
                archive.bytes(manifest.PUBLIC_KEY, key.public_pem)
                archive.bytes(manifest.FINGERPRINT, (key.fingerprint + "\n").encode())
                archive.bytes(manifest.SUMS, manifest.sums_bytes(archive.digests))
                members = len(archive.digests)
            handle.flush()
            os.fsync(handle.fileno())
        digest = output.digest
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    custody.append(session, chain, actor, "exported", case.ref, {
        "bundle_sha256": digest.hexdigest(), "file": out.name, "members": members,
        "custody_upto": upto, "signature_fingerprint": key.fingerprint, "redacted": redact,
    })
    return BundleResult(path=out, sha256=digest.hexdigest(), files=members, custody_upto=upto,
                        fingerprint=key.fingerprint, redacted=redact)


def _original(archive: _Zip, blobs: BlobStore, exhibit: Exhibit, name: str
              ) -> manifest.FileEntry:
    size, sha = archive.stream(name, _blob_chunks(blobs, exhibit.sha256), exhibit.size,
                               deflate=not _COMPRESSED.match(exhibit.media_type or ""))
    if sha != exhibit.sha256 or size != exhibit.size:
        raise ExportError(f"the original of exhibit {exhibit.ref} no longer matches its SHA-256 "
                          "in the store: nothing exported; run `conduct verify`")
    return manifest.FileEntry(name, size, sha, "original", exhibit=exhibit.ref)


def _manifest_header(case: Case, kept: list[CustodyEntry], redactor: Redactor,
                     key: signing.SigningKey, redact: bool) -> dict[str, Any]:
    last = kept[-1] if kept else None
    return {
        "case": {"ref": case.ref, "title": redactor.text(case.title, "manifest.json", "title"),
                 "officer": case.officer_name, "timezone": case.timezone},
        "generator": "Conduct",
        "custody": {"chain": custody.case_chain(case.ref), "upto_seq": last.seq if last else 0,
                    "upto_entry_hash": last.entry_hash if last else custody.GENESIS},
        "redacted": redact,
        "signature": {"algorithm": signing.ALGORITHM, "public_key": manifest.PUBLIC_KEY,
                      "signature": manifest.SIGNATURE, "fingerprint": key.fingerprint,
                      "signs": "the exact bytes of manifest.json"},
    }


def _write_documents(session: Session, case: Case, docs: _Documents, exhibits: list[Exhibit],
                     kept: list[CustodyEntry], paths: dict[int, str], redactor: Redactor,
                     key: signing.SigningKey) -> None:
    by_id = {e.id: e for e in exhibits}
    summary = build_summary(session, case, redactor)
    charts = _charts(summary.report, docs)
    _timeline(session, case, docs, redactor, charts)
    summary_pdf(docs.path("course_of_conduct.pdf"), case.ref, summary, charts)
    _exhibit_list(docs, case, exhibits, by_id, paths, redactor)
    docs.csv("facts.csv", FACT_COLUMNS, (
        redactor.cells(case_tables.fact_row(_redacted_fact(f, redactor)), FACT_COLUMNS,
                       "facts.csv") for f in iter_case_facts(session, case.id)))
    _continuity(docs, case, kept, redactor)
    _disclosure(session, case, docs, exhibits, kept, redactor)
    _statements(docs, case, exhibits, by_id, redactor, key)
    if redactor.enabled:
        docs.csv("redaction_log.csv", LOG_COLUMNS, redactor.log_rows())
    docs.text(readme.NAME, readme.text(case.ref, key.fingerprint, redactor.enabled))


def _charts(report: Any, docs: _Documents) -> list[Path]:
    if report is None:
        return []
    try:
        from exports.charts import write_charts
    except ImportError:
        return []
    pngs = []
    for chart in write_charts(report, docs.folder / "charts"):
        for made in (chart.png, chart.svg):
            docs.names.append(f"charts/{made.name}")
        pngs.append(chart.png)
    return pngs


def timeline_volumes(events: int) -> list[str]:
    """Names of the timeline PDFs: one, or numbered volumes of TIMELINE_VOLUME_EVENTS events.

    A PDF is held whole in memory until it is saved (about 2 KB per event), so a
    long timeline is split into volumes to keep the export's memory flat; a volume
    of 20,000 events is some 1,500 pages, as much as anyone reads as one document."""
    count = max(1, -(-events // TIMELINE_VOLUME_EVENTS))
    if count == 1:
        return ["timeline.pdf"]
    return [f"timeline-{n:02d}-of-{count:02d}.pdf" for n in range(1, count + 1)]


def _timeline(session: Session, case: Case, docs: _Documents, redactor: Redactor,
              charts: list[Path]) -> None:
    count, sources = session.execute(
        select(func.count(Event.id), func.count(func.distinct(Event.exhibit_id)))
        .where(Event.case_id == case.id)).one()
    volumes = timeline_volumes(count)
    intro = [
        f"{count:,} events from {sources:,} exhibits, in UTC order (events at the same instant "
        "in the order of their original). Each row names the exhibit and where in the original "
        "the event is (its locator), so it can be found by hand.",
        "The same events, complete and with every field, are in timeline.csv and (for "
        "Timesketch) timeline.jsonl.",
    ]
    if len(volumes) > 1:
        intro.append(f"The timeline is printed in {len(volumes)} volumes of up to "
                     f"{TIMELINE_VOLUME_EVENTS:,} events: {', '.join(volumes)}.")
    if redactor.enabled:
        intro.append("Third-party personal data is redacted: see redaction_log.csv.")

    def volume(number: int) -> TimelinePdf:
        first = number * TIMELINE_VOLUME_EVENTS + 1
        part = (f"Volume {number + 1} of {len(volumes)}: events {first:,} to "
                f"{min(first + TIMELINE_VOLUME_EVENTS - 1, count):,} of {count:,}.")
        return TimelinePdf(docs.path(volumes[number]), case.ref,
                           [part, *intro] if len(volumes) > 1 else intro,
                           charts if number == 0 else [],
                           volume=(number + 1, len(volumes)) if len(volumes) > 1 else None)

    pdf = volume(0)
    csv_path = docs.path("timeline.csv")
    jsonl_path = docs.path("timeline.jsonl")
    with csv_path.open("w", encoding="utf-8", newline="") as table, \
            jsonl_path.open("w", encoding="utf-8", newline="\n") as lines:
        writer = csv.writer(table, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for number, event in enumerate(iter_events(session, case)):
            if number and number % TIMELINE_VOLUME_EVENTS == 0 and \
                    number // TIMELINE_VOLUME_EVENTS < len(volumes):
                pdf.close()
                pdf = volume(number // TIMELINE_VOLUME_EVENTS)
            shown = redactor.event(event, "timeline")
            writer.writerow(csv_row(shown))
            lines.write(jsonl_line(shown))
            pdf.add(shown)
    pdf.close()


def _exhibit_list(docs: _Documents, case: Case, exhibits: list[Exhibit],
                  by_id: dict[int, Exhibit], paths: dict[int, str], redactor: Redactor) -> None:
    rows = [redactor.cells(case_tables.exhibit_row(e, by_id, paths[e.id]), EXHIBIT_COLUMNS,
                           "exhibits") for e in exhibits]
    docs.csv("exhibits.csv", EXHIBIT_COLUMNS, rows)
    at = {column: i for i, column in enumerate(EXHIBIT_COLUMNS)}
    tables.exhibit_list(
        docs.path("exhibits.pdf"), case.ref,
        ([r[at["ref"]], f"{r[at['description']]}\n({r[at['file_name']]}, {r[at['size']]} bytes"
          f"; {r[at['status']].replace('_', ' ')})", r[at["where_received"]],
          r[at["received_from"]], r[at["received_by"]], r[at["sha256"]]] for r in rows),
        f"{len(rows)} exhibits. Each original is in the bundle byte for byte under exhibits/, "
        "named by its reference; its SHA-256 was computed when it was received. Items found "
        "inside another item follow it (JS/1/1 inside JS/1).")


def _redacted_fact(fact: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    if not redactor.enabled:
        return fact
    return {**fact, "value": redactor.value(fact["value"], "facts.csv", "value"),
            "locator": redactor.value(fact["locator"], "facts.csv", "locator")}


def _continuity(docs: _Documents, case: Case, kept: list[CustodyEntry], redactor: Redactor
                ) -> None:
    chain = custody.case_chain(case.ref)
    head = CustodyHead(chain=chain, seq=kept[-1].seq, entry_hash=kept[-1].entry_hash) if kept \
        else None
    problems = custody.verify_entries(chain, kept, head)
    rows = []
    for entry in kept:
        details = redactor.value(json.loads(entry.details), "custody", "details")
        row = case_tables.custody_row(entry)
        row[CUSTODY_COLUMNS.index("details")] = json.dumps(
            details, ensure_ascii=False, sort_keys=True, separators=(",", ":")) \
            if redactor.enabled else entry.details
        rows.append(redactor.cells(row, CUSTODY_COLUMNS, "custody", skip=("details",)))
    docs.csv("custody.csv", CUSTODY_COLUMNS, rows)
    verdict = (f"Chain checked when exported: {len(kept)} entries; every entry's hash and every "
               "link to the previous entry recomputed and found correct."
               if not problems else "Chain checked when exported: PROBLEMS: "
               + "; ".join(str(p) for p in problems))
    note = (f"Custody log of case {case.ref} up to its last change (entry {len(kept)}); later "
            "entries only record reading the case. Each entry's hash covers the previous "
            f"entry's hash and the entry itself (README.txt says how to recompute it). {verdict}")
    if redactor.enabled:
        note += (" Third-party data in the details is redacted here, so hashes can be "
                 "recomputed only from an unredacted export.")
    at = {column: i for i, column in enumerate(CUSTODY_COLUMNS)}
    tables.continuity(docs.path("custody.pdf"), case.ref, note, (
        [r[at["seq"]], r[at["at"]].replace("T", " "), r[at["actor"]], r[at["action"]],
         r[at["subject"]], _details_text(r[at["details"]]),
         f"{r[at['prev_hash']]}\n{r[at['entry_hash']]}"] for r in rows))


def _details_text(details: str) -> str:
    try:
        value = json.loads(details)
    except ValueError:
        return details
    if not isinstance(value, dict):
        return details
    return "; ".join(f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                     for k, v in value.items())


def _disclosure(session: Session, case: Case, docs: _Documents, exhibits: list[Exhibit],
                kept: list[CustodyEntry], redactor: Redactor) -> None:
    items = disclosure.unused_material(exhibits, kept,
                                       disclosure.referenced_files(session, case))
    rows = [redactor.cells(i.row(), disclosure.COLUMNS, "disclosure_aid") for i in items]
    docs.csv("disclosure_aid.csv", disclosure.COLUMNS, rows)
    tables.disclosure_aid(
        docs.path("disclosure_aid.pdf"), case.ref,
        "Material held in this case whose content is not in the timeline, with the reason, to "
        "help the officer prepare the schedule of unused material. Every original listed here "
        "is in the bundle whole under exhibits/.",
        ([r[0], r[1], r[3], r[4], r[5]] for r in rows))


def _statements(docs: _Documents, case: Case, exhibits: list[Exhibit],
                by_id: dict[int, Exhibit], redactor: Redactor, key: signing.SigningKey) -> None:
    officers = sorted({e.received_by for e in exhibits}) or [case.officer_name]
    for officer in officers:
        produced = tuple(_produced(e, by_id, redactor) for e in exhibits
                         if e.received_by == officer)
        statement = Statement(officer=officer, case_ref=case.ref,
                              case_title=redactor.text(case.title, "statement", "title") or "",
                              exhibits=produced, fingerprint=key.fingerprint)
        stem = "witness_statement" if len(officers) == 1 else (
            "witness_statement_" + re.sub(r"[^A-Za-z0-9]+", "_", officer).strip("_"))
        docs.text(f"{stem}.txt", statement.text())
        statement_pdf(docs.path(f"{stem}.pdf"), statement)


def _produced(exhibit: Exhibit, by_id: dict[int, Exhibit], redactor: Redactor
              ) -> ProducedExhibit:
    def text(value: str | None, field: str) -> str:
        return redactor.text(value, "statement", field) or ""

    parent = by_id.get(exhibit.parent_id) if exhibit.parent_id else None
    duplicate = by_id.get(exhibit.duplicate_of_id) if exhibit.duplicate_of_id else None
    return ProducedExhibit(
        ref=exhibit.ref, description=text(exhibit.description, "description"),
        file_name=text(exhibit.original_name, "file_name"), sha256=exhibit.sha256,
        size=exhibit.size, received_from=text(exhibit.received_from, "received_from"),
        received_at=utc_z(exhibit.received_at).replace("T", " ").replace("Z", " UTC"),
        how_obtained=text(exhibit.how_obtained, "how_obtained"),
        parent_ref=parent.ref if parent else None,
        member_path=text(exhibit.member_path, "member_path") or None,
        duplicate_of=duplicate.ref if duplicate else None)
