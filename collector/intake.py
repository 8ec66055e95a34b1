"""Ingest: store every original untouched, record its receipt, then parse it.

Order matters for the forensic rules: the bytes are stored and the receipt is
logged before any parsing, so a parser failure can never lose an original.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy.orm import Session

from collector.archives import ArchiveDamaged, ArchiveLimits, ArchiveRefused, ZipReader, is_zip
from collector.collection_pause import fewer_collections
from collector.offload import OFFLOAD_FROM_BYTES, OffloadJob, run_offloaded
from collector.outcome import ExhibitOutcome
from collector.progress import NoProgress, Progress, counting_reader
from collector.scope import Scope
from collector.siblings import SiblingIndex, SiblingReader
from evidence_store import cases, custody
from evidence_store.blobs import BlobSizeExceeded, BlobStore, StoredBlob
from evidence_store.events import EventWriter
from evidence_store.facts import FactWriter
from evidence_store.models import Case, Exhibit
from evidence_store.near_duplicates import record_near_duplicates
from evidence_store.store import Store
from parsers.base import DateOrder, ParseOptions, Parser, Probe, SourceFile
from parsers.errors import ParserError
from parsers.records import DerivedFact, EmbeddedFile, EventRecord, FileNote, ParsedItem
from parsers.registry import by_name, find_parser
from parsers.sniff import media_type

#: Extracted files received before their parsing starts (_process_pending).
_PENDING_CHILDREN = 64
# What reading one damaged or unsupported ZIP entry can raise; the other entries go on.
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
                  RuntimeError)


@dataclass(frozen=True)
class IngestOptions:
    received_by: str
    received_from: str | None = None
    how_obtained: str | None = None
    initials: str | None = None
    timezone: str | None = None
    date_order: DateOrder | None = None
    #: Generic CSV: (field, column header) pairs; files no parser claims are read with it.
    column_map: tuple[tuple[str, str], ...] = ()
    #: Proportionate review: keep only records involving these normalised identifiers.
    only_with: frozenset[str] = frozenset()
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass(frozen=True)
class Companion:
    """A file made alongside a top-level exhibit rather than found inside it (the
    record of the HTTP exchange behind a captured page): stored as its child with
    its own account of how it was obtained, and parsed after it."""

    blob: StoredBlob
    name: str
    how_obtained: str


@dataclass
class _Item:
    """An exhibit row just created, with what parsing needs to know about it."""

    exhibit: Exhibit
    blob: StoredBlob
    outcome: ExhibitOutcome
    depth: int
    #: When the file was last modified on the disk it was read from (top-level files only).
    modified: datetime | None = None
    #: Files extracted from this one, received but not yet parsed (_embedded).
    pending: list[_Item] = field(default_factory=list)


class Ingestor:
    def __init__(self, store: Store, case_ref: str, options: IngestOptions,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.case_ref = case_ref
        self.options = options
        self.progress = progress or NoProgress()
        # sha256 of every file a written record refers to: such a file, though no
        # parser reads it, is accounted for (a chat's photo), not a failure.
        self.linked: set[str] = set()
        self._blob_rows: set[str] = set()
        # Called before any database access while events are being written on the
        # writer thread (which shares the connection): the running parse's wait().
        self._quiesce: Callable[[], None] = _nothing
        self._first_receipts: dict[str, Exhibit] = {}
        #: Files at least this large are parsed in a child process (collector.offload).
        self.offload_from = OFFLOAD_FROM_BYTES

    @property
    def blobs(self) -> BlobStore:
        return self.store.blobs

    # -- entry points -------------------------------------------------------

    def ingest_paths(self, paths: Iterable[Path]) -> list[ExhibitOutcome]:
        paths = list(paths)
        # Every named path is checked before anything is stored, so a typo does not
        # leave half a batch ingested.
        for path in paths:
            if not (path.is_dir() or path.is_file()):
                raise FileNotFoundError(f"{path}: no such file or folder")
        outcomes: list[ExhibitOutcome] = []
        for path in paths:
            if path.is_dir():
                outcomes.extend(self._ingest_folder(path))
            else:
                outcomes.extend(self._ingest_group([path]))
        for top in outcomes:
            for outcome in top.walk():
                outcome.linked = outcome.sha256 in self.linked
        self._find_near_duplicates(outcomes)
        return outcomes

    def ingest_stream(self, stream: IO[bytes], name: str) -> ExhibitOutcome:
        """One upload, as received over the network."""
        with self.store.session() as session:
            case = cases.get_case(session, self.case_ref)
            item = self._receive(session, case, stream, name, parent=None, member=None, depth=0)
            self._process(session, case, item, siblings={})
        self._find_near_duplicates([item.outcome])
        return item.outcome

    def ingest_stored(self, blob: StoredBlob, name: str, companions: Sequence[Companion] = (),
                      on_received: Callable[[Session, Case, ExhibitOutcome], None] | None = None,
                      ) -> ExhibitOutcome:
        """Bytes already written to this store's blobs (a capture streams them there
        itself): receipt, companions as children, ``on_received`` (in the same
        transaction, before any parsing), then parsing."""
        with self.store.session() as session:
            case = cases.get_case(session, self.case_ref)
            item = self._record_receipt(session, case, blob, name, parent=None, member=None,
                                        depth=0)
            children = []
            for companion in companions:
                child = self._record_receipt(session, case, companion.blob, companion.name,
                                             item.exhibit, None, 1, ref=self._child_ref(item),
                                             companion=companion)
                item.outcome.children.append(child.outcome)
                children.append(child)
            if on_received is not None:
                on_received(session, case, item.outcome)
            for each in (item, *children):
                self._process(session, case, each, siblings={})
            for outcome in item.outcome.walk():
                outcome.linked = outcome.sha256 in self.linked
            return item.outcome

    def ingest_stored_group(self, files: Sequence[tuple[str, StoredBlob]]
                            ) -> list[ExhibitOutcome]:
        """Several stored blobs delivered together (one web upload): all received
        first, then parsed, so a chat can link the photos uploaded beside it."""
        if not files:
            return []
        with self.store.session() as session:
            case = cases.get_case(session, self.case_ref)
            items = [(name, self._record_receipt(session, case, blob, name, parent=None,
                                                 member=None, depth=0))
                     for name, blob in files]
            index = SiblingIndex({name: item.exhibit.sha256 for name, item in items})
            for name, item in items:
                self._process(session, case, item, index.beside(name))
        outcomes = [item.outcome for _, item in items]
        for top in outcomes:
            for outcome in top.walk():
                outcome.linked = outcome.sha256 in self.linked
        self._find_near_duplicates(outcomes)
        return outcomes

    def _find_near_duplicates(self, outcomes: list[ExhibitOutcome]) -> None:
        """After a batch with images: record which of the case's images show the same
        picture (evidence_store.near_duplicates), in a transaction of its own."""
        images = [o.ref for top in outcomes for o in top.walk()
                  if o.format == "image" and o.status == "parsed"]
        if not images:
            return
        with self.store.session() as session:
            case = cases.get_case(session, self.case_ref)
            record_near_duplicates(session, case, self.blobs, self.options.received_by,
                                   involving=images)

    # -- folders and files --------------------------------------------------

    def _ingest_folder(self, folder: Path) -> list[ExhibitOutcome]:
        files: list[Path] = []
        for directory, subdirs, names in os.walk(folder, followlinks=False):
            subdirs.sort()
            for name in sorted(names):
                path = Path(directory) / name
                # Links are not followed: they could point anywhere on the host.
                if path.is_file() and not path.is_symlink():
                    files.append(path)
        return self._ingest_group(files, root=folder)

    def _ingest_group(self, files: list[Path], root: Path | None = None) -> list[ExhibitOutcome]:
        """Files that arrived together: all stored first, so a chat can link its media."""
        if not files:
            return []
        with self.store.session() as session:
            case = cases.get_case(session, self.case_ref)
            items: list[tuple[str, _Item]] = []
            for path in files:
                where = path.relative_to(root).as_posix() if root else path.name
                self.progress.begin(f"storing {where}", path.stat().st_size)
                with path.open("rb") as handle:
                    item = self._receive(session, case, handle, path.name, parent=None,
                                         member=where if root else None, depth=0)
                    item.modified = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime,
                                                           UTC)
                items.append((where, item))
                self.progress.end()
            index = SiblingIndex({where: item.exhibit.sha256 for where, item in items})
            for where, item in items:
                self._process(session, case, item, index.beside(where))
            return [item.outcome for _, item in items]

    # -- receipt ------------------------------------------------------------

    def _receive(self, session: Session, case: Case, stream: IO[bytes], name: str,
                 parent: Exhibit | None, member: str | None, depth: int,
                 limit: int | None = None, ref: str | None = None) -> _Item:
        blob = self.blobs.put_stream(stream, limit=limit, on_bytes=self.progress.advance)
        return self._record_receipt(session, case, blob, name, parent, member, depth, ref)

    def _record_receipt(self, session: Session, case: Case, blob: StoredBlob, name: str,
                        parent: Exhibit | None, member: str | None, depth: int,
                        ref: str | None = None, companion: Companion | None = None) -> _Item:
        mime = media_type(blob.head)
        # Rows this ingest added are remembered here, so look-ups need no autoflush
        # and children can be inserted in batches (an SMS backup has thousands of
        # MMS images, an archive thousands of members).
        with session.no_autoflush:
            if blob.already_present:
                self._quiesce()
            if blob.sha256 not in self._blob_rows:
                if blob.already_present:
                    cases.ensure_blob(session, blob.sha256, blob.size, mime)
                else:
                    # Bytes never stored before cannot have a row yet.
                    cases.add_blob(session, blob.sha256, blob.size, mime)
                self._blob_rows.add(blob.sha256)
            first = self._first_receipts.get(blob.sha256)
            if first is None and blob.already_present:
                first = cases.first_receipt(session, case, blob.sha256)
        if first is not None and first.id is None:
            # A copy received in the same batch of extracted files refers to its id.
            self._quiesce()
            session.flush()
        with session.no_autoflush:
            if ref is None:
                # Children are always numbered by their parent (_child_ref).
                ref = cases.next_top_ref(session, case, self._initials(case))
        exhibit = Exhibit(
            case_id=case.id, ref=ref, parent_id=parent.id if parent else None,
            sha256=blob.sha256, original_name=name, member_path=member, size=blob.size,
            media_type=mime, format=None, status="duplicate" if first else "stored_unparsed",
            error=None, event_count=0, parser=None,
            duplicate_of_id=first.id if first else None,
            received_from=self.options.received_from if parent is None else None,
            received_by=self.options.received_by, received_at=datetime.now(UTC),
            how_obtained=(companion.how_obtained if companion
                          else self.options.how_obtained if parent is None
                          else f"extracted from {parent.ref}"),
            description=(f"File {name!r} made with exhibit {parent.ref}" if companion and parent
                         else self._describe(name, parent, member)), notes="[]",
        )
        session.add(exhibit)
        if first is None:
            self._first_receipts[blob.sha256] = exhibit
        if parent is None:
            self._quiesce()
            session.flush()  # top-level references are numbered from the database
        details = {
            "sha256": blob.sha256, "size": blob.size, "media_type": mime, "name": name,
            "received_from": exhibit.received_from, "how_obtained": exhibit.how_obtained,
        }
        if parent is not None:
            details.update(parent=parent.ref, member=member)
        if first is not None:
            details["duplicate_of"] = first.ref
        custody.append(session, custody.case_chain(case.ref), self.options.received_by,
                       "exhibit_received" if parent is None
                       else "exhibit_attached" if companion else "exhibit_extracted",
                       ref, details)
        outcome = ExhibitOutcome(
            ref=ref, name=name, sha256=blob.sha256, size=blob.size, format=None,
            status=exhibit.status, duplicate_of=first.ref if first else None,  # type: ignore[arg-type]
            top_level=parent is None,
        )
        return _Item(exhibit=exhibit, blob=blob, outcome=outcome, depth=depth)

    def _initials(self, case: Case) -> str:
        if self.options.initials:
            return self.options.initials.upper()
        if self.options.received_by and self.options.received_by != case.officer_name:
            return cases.initials_of(self.options.received_by)
        return case.officer_initials

    @staticmethod
    def _describe(name: str, parent: Exhibit | None, member: str | None) -> str:
        if parent is None:
            return f"File {name!r} as handed over"
        return f"{member or name!r} taken from exhibit {parent.ref}"

    # -- processing ---------------------------------------------------------

    def _process(self, session: Session, case: Case, item: _Item,
                 siblings: Mapping[str, str]) -> None:
        exhibit = item.exhibit
        if exhibit.status == "duplicate":
            return
        if item.blob.size == 0:
            self._finish(session, case, item, "stored_unparsed", error="empty file")
            return
        probe = Probe(name=exhibit.original_name, head=item.blob.head,
                      media_type=exhibit.media_type, size=item.blob.size)
        # Parsers are asked first even for ZIPs: an .xlsx diary is a ZIP too.
        parser = find_parser(probe)
        if parser is None and is_zip(item.blob.head):
            self._expand_zip(session, case, item)
            return
        if parser is None and self.options.column_map and item.depth == 0:
            parser = by_name("generic_csv")
        if parser is None:
            self._finish(session, case, item, "stored_unparsed",
                         error=f"no parser for this file ({exhibit.media_type})")
            return
        self._parse(session, case, item, parser, siblings)

    def _parse(self, session: Session, case: Case, item: _Item, parser: Parser,
               siblings: Mapping[str, str]) -> None:
        exhibit = item.exhibit
        self._quiesce()
        if exhibit.id is None:
            session.flush()  # events refer to the exhibit's id
        exhibit.format = parser.format
        exhibit.parser = f"{parser.name}/{parser.version}"
        writer = EventWriter(session, case.id, exhibit.id,
                             self.options.timezone or case.timezone, exhibit.parser)
        facts = FactWriter(session, case.id, exhibit.id, exhibit.parser, writer.wait)
        notes: list[dict[str, str]] = []
        source = SourceFile(
            name=exhibit.original_name, sha256=exhibit.sha256, size=exhibit.size,
            media_type=exhibit.media_type,
            open=lambda: self._open_for_parsing(exhibit),
            siblings=siblings,
            read_sibling=SiblingReader(siblings, self.blobs.root),
            modified=item.modified,
        )
        options = ParseOptions(date_order=self.options.date_order,
                               default_region=case.default_region,
                               column_map=self.options.column_map)
        outer_quiesce, self._quiesce = self._quiesce, writer.wait
        try:
            with fewer_collections():
                error, scope = self._run_parser(session, case, item, parser, source, options,
                                                writer, facts, notes)
                # Files extracted before a failure are kept and parsed like the records.
                self._process_pending(session, case, item)
        finally:
            self.progress.end()
            writer.close()
            # Facts of the records read before a failure are kept, like the records.
            facts.flush()
            self._quiesce = outer_quiesce
        if scope is not None:
            item.outcome.left_out = scope.report()
        exhibit.notes = json.dumps(notes, ensure_ascii=False)
        self._finish(session, case, item, "failed" if error else "parsed",
                     error=error, events=writer.count, notes=notes)

    def _run_parser(self, session: Session, case: Case, item: _Item, parser: Parser,
                    source: SourceFile, options: ParseOptions, writer: EventWriter,
                    facts: FactWriter, notes: list[dict[str, str]]
                    ) -> tuple[str | None, Scope | None]:
        """The parse itself: (the one-line error or None, the scope applied)."""
        scope = None
        try:
            if self.options.only_with:
                scope = Scope.survey(self.options.only_with, parser.parse(source, options))
            if scope is None and item.exhibit.size >= self.offload_from:
                return self._parse_offloaded(session, case, item, parser, source, options,
                                             writer, facts, notes), None
            self._parse_here(session, case, item, parser.parse(source, options), scope,
                             writer, facts, notes)
        except ParserError as exc:
            return str(exc) or type(exc).__name__, scope
        except Exception as exc:  # noqa: BLE001 - one broken parser must not stop a batch
            return (f"internal error in parser {item.exhibit.parser}: "
                    f"{type(exc).__name__}: {exc}"), scope
        return None, scope

    def _parse_here(self, session: Session, case: Case, item: _Item,
                    records: Iterable[ParsedItem], scope: Scope | None, writer: EventWriter,
                    facts: FactWriter, notes: list[dict[str, str]]) -> None:
        # An embedded file waits for the record that refers to it, so media of
        # conversations left out of scope is not extracted either.
        waiting: list[EmbeddedFile] = []
        # A record's facts follow it; those of a record left out of scope go too.
        last_kept = True
        for record in records:
            if isinstance(record, EventRecord):
                last_kept = scope is None or scope.keeps(record)
                if last_kept:
                    if record.attachments:
                        self.linked.update(a.sha256 for a in record.attachments if a.sha256)
                    for embedded in waiting:
                        self._embedded(session, case, item, embedded)
                    writer.add(record)
                elif scope is not None:
                    scope.media_left_out += len(waiting)
                waiting = []
            elif isinstance(record, EmbeddedFile):
                waiting.append(record)
            elif isinstance(record, FileNote):
                notes.append(record.as_json())
            elif isinstance(record, DerivedFact):
                facts.add_as_parsed(record, writer.count if last_kept else 0)
        for embedded in waiting:
            self._embedded(session, case, item, embedded)

    def _parse_offloaded(self, session: Session, case: Case, item: _Item, parser: Parser,
                         source: SourceFile, options: ParseOptions, writer: EventWriter,
                         facts: FactWriter, notes: list[dict[str, str]]) -> str | None:
        """A large file parsed in a child process (collector.offload); the error line or None."""
        exhibit = item.exhibit
        sink = writer.sink()
        job = OffloadJob(
            parser_name=parser.name, blob_path=str(self.blobs.path(exhibit.sha256)),
            name=source.name, sha256=source.sha256, size=source.size,
            media_type=source.media_type, siblings=source.siblings,
            read_sibling=source.read_sibling, options=options,
            zone_name=writer.zone_name, postgres=sink.postgres, modified=source.modified,
            blob_root=(str(self.blobs.root) if item.depth < self.options.limits.max_depth
                       else None),
            defer_sync=self.blobs.defer_sync,
        )
        for batch in run_offloaded(job):
            for entry in batch.items:
                tag = entry[0]
                if tag == "opened":
                    self.progress.begin(f"parsing {exhibit.ref} {exhibit.original_name}",
                                        exhibit.size)
                elif tag == "stored":
                    self.blobs.written_elsewhere(entry[2])
                    self._embedded(session, case, item, entry[1], stored=entry[2])
                elif tag == "note":
                    notes.append(entry[1].as_json())
                else:  # the child's event number: 0 for a fact before any record
                    facts.add_as_parsed(entry[1], entry[2])
            self.linked.update(batch.linked)
            if batch.rows:
                writer.add_derived(batch.rows)
            self.progress.advance(batch.bytes_read)
            if batch.last:
                return batch.error
        return None

    def _open_for_parsing(self, exhibit: Exhibit) -> BinaryIO:
        # A parser may read its file more than once (WhatsApp surveys it first): each
        # reading gets a bar of its own rather than one that runs past 100%.
        self.progress.begin(f"parsing {exhibit.ref} {exhibit.original_name}", exhibit.size)
        return counting_reader(self.blobs.open(exhibit.sha256), self.progress)

    def _embedded(self, session: Session, case: Case, item: _Item, record: EmbeddedFile,
                  stored: StoredBlob | None = None) -> None:
        """``stored``: the file's bytes already in the blob store (collector.offload)."""
        if item.depth >= self.options.limits.max_depth:
            return
        blob = stored or self.blobs.put_bytes(record.data)
        child = self._record_receipt(
            session, case, blob, record.name, item.exhibit,
            record.locator.json_path or record.name, item.depth + 1,
            ref=self._child_ref(item),
        )
        item.outcome.children.append(child.outcome)
        item.pending.append(child)
        if len(item.pending) >= _PENDING_CHILDREN:
            self._process_pending(session, case, item)

    def _process_pending(self, session: Session, case: Case, item: _Item) -> None:
        """Parse the files extracted so far: their rows are inserted together by one
        flush (an SMS backup has thousands of MMS images; a flush each cost more than
        parsing them), which also bounds the session's memory."""
        if not item.pending:
            return
        self._quiesce()
        session.flush()
        pending, item.pending = item.pending, []
        for child in pending:
            self._process(session, case, child, siblings={})

    def _child_ref(self, item: _Item) -> str:
        return f"{item.exhibit.ref}/{len(item.outcome.children) + 1}"

    def _expand_zip(self, session: Session, case: Case, item: _Item) -> None:
        exhibit = item.exhibit
        self._quiesce()
        session.flush()  # members refer to the archive's id
        exhibit.format = "zip"
        limits = self.options.limits
        if item.depth >= limits.max_depth:
            self._finish(session, case, item, "stored_unparsed",
                         error=f"archive nested deeper than {limits.max_depth}; stored unexpanded")
            return
        try:
            reader = ZipReader.open(self.blobs.open(exhibit.sha256), limits)
        except (ArchiveDamaged, ArchiveRefused) as exc:
            self._finish(session, case, item, "failed", error=str(exc))
            return
        children: list[_Item] = []
        failures: list[str] = []
        warnings: list[str] = []
        remaining = limits.max_total_bytes
        try:
            for member in reader.members():
                if member.unsafe_reasons:
                    warnings.append(f"{member.name!r}: unsafe name "
                                    f"({', '.join(member.unsafe_reasons)}); stored by hash only")
                budget = member.byte_budget(limits, remaining)
                try:
                    with reader.open_member(member) as stream:
                        child = self._receive(session, case, stream, member.base_name, exhibit,
                                              member.name, item.depth + 1, limit=budget,
                                              ref=self._child_ref(item))
                except BlobSizeExceeded:
                    failures.append(f"{member.name!r} expands past {budget} bytes "
                                    "(possible zip bomb); not extracted")
                    continue
                except _MEMBER_ERRORS as exc:
                    failures.append(f"{member.name!r} unreadable ({exc})")
                    continue
                remaining -= child.blob.size
                children.append(child)
                item.outcome.children.append(child.outcome)
        finally:
            reader.close()
        warnings.extend(reader.skipped)
        index = SiblingIndex({child.exhibit.member_path or child.exhibit.original_name:
                              child.exhibit.sha256 for child in children})
        for child in children:
            self._process(session, case, child,
                          index.beside(child.exhibit.member_path or child.exhibit.original_name))
        notes = [{"code": "archive_entry_not_extracted", "message": m} for m in failures]
        notes += [{"code": "archive_entry_warning", "message": m} for m in warnings]
        exhibit.notes = json.dumps(notes, ensure_ascii=False)
        item.outcome.warnings = warnings
        error = _summarise(failures) if failures else None
        self._finish(session, case, item, "failed" if failures else "parsed", error=error,
                     notes=notes)

    def _finish(self, session: Session, case: Case, item: _Item, status: str,
                error: str | None = None, events: int = 0,
                notes: list[dict[str, str]] | None = None) -> None:
        exhibit, outcome = item.exhibit, item.outcome
        exhibit.status, exhibit.error, exhibit.event_count = status, error, events
        outcome.status, outcome.error, outcome.events = status, error, events  # type: ignore[assignment]
        outcome.format = exhibit.format
        details: dict[str, object] = {"status": status, "events": events, "format": exhibit.format}
        if exhibit.parser:
            details["parser"] = exhibit.parser
        if error:
            details["error"] = error
        if notes:
            details["notes"] = [n["code"] for n in notes]
        if self.options.timezone:
            details["timezone"] = self.options.timezone
        if self.options.date_order:
            details["date_order"] = self.options.date_order
        if item.outcome.left_out is not None:
            details["scope"] = item.outcome.left_out
        action = {"parsed": "parsed", "failed": "parse_failed"}.get(status, "not_parsed")
        custody.append(session, custody.case_chain(case.ref), self.options.received_by, action,
                       exhibit.ref, details)




def _nothing() -> None:
    pass


def _summarise(problems: list[str], shown: int = 3) -> str:
    text = "; ".join(problems[:shown])
    return text + (f" (+{len(problems) - shown} more)" if len(problems) > shown else "")
