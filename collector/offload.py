"""Parsing a large file in a separate process, beside the database writes.

Parsing and deriving rows is pure Python and holds the GIL, so in one process it
cannot overlap with itself; a million-message SMS backup spent most of its time
there. Here a child process runs the parser and derives and encodes the event
rows; the parent only stores embedded files, facts and notes and hands the
already-encoded batches to the event writer. The two then run on two cores.

Only what a parser yields crosses the pipe, in batches: encoded rows (tuples, pickled:
cheaper than JSON both to make and for SQLite to take in), and the embedded files,
notes and facts that arrived with them, in order. A full pipe blocks the child,
so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from collector.collection_pause import collect_less_often
from collector.progress import counting_reader
from evidence_store.blobs import BlobStore
from evidence_store.bulk import aware_utc, encode_json, sqlite_time
from evidence_store.events import BATCH, BATCH_CHARS, derive_row
from parsers.base import ParseOptions, SourceFile
from parsers.errors import ParserError
from parsers.records import DerivedFact, EmbeddedFile, EventRecord, FileNote
from parsers.registry import by_name

#: Files smaller than this are parsed in-process: starting a process costs ~0.3 s.
OFFLOAD_FROM_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class OffloadJob:
    """Everything the child needs, all picklable."""

    parser_name: str
    blob_path: str
    name: str
    sha256: str
    size: int
    media_type: str
    siblings: Mapping[str, str]
    read_sibling: Callable[[str, int], bytes | None]
    options: ParseOptions
    zone_name: str
    #: occurred_at is handed to PostgreSQL's COPY as a datetime, to SQLite as text.
    postgres: bool
    #: SourceFile.modified: the file's time on the disk it was ingested from.
    modified: datetime | None = None
    #: The store's blob folder: the child stores embedded files there itself (hashing
    #: and writing thousands of MMS images was the parent's largest cost). None when
    #: they are not to be kept (the nesting limit is reached): they are skipped.
    blob_root: str | None = None
    defer_sync: bool = False


@dataclass
class Batch:
    """One message from the child: rows plus what the parser yielded beside them, in order."""

    #: Derived event rows, their last column (extra) already JSON text.
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    #: ("stored", EmbeddedFile without its data, StoredBlob) | ("note", FileNote)
    #: | ("fact", DerivedFact, seq) | ("opened",)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    bytes_read: int = 0
    #: Set on the last batch: None when the parse finished, else the one-line error.
    error: str | None = None
    last: bool = False


class _Tally:
    """A Progress that only counts bytes read, for the parent's progress bar."""

    def __init__(self) -> None:
        self.read = 0

    def begin(self, label: str, total: int | None) -> None:
        pass

    def advance(self, amount: int) -> None:
        self.read += amount

    def end(self) -> None:
        pass


def _child(job: OffloadJob, conn: Connection) -> None:
    """Runs in the child process: parse, derive, encode, send."""
    tally = _Tally()
    batch = Batch()

    def opener() -> BinaryIO:
        batch.items.append(("opened",))
        raw = Path(job.blob_path).open("rb")  # noqa: SIM115 - the parser closes it
        return counting_reader(raw, tally)

    source = SourceFile(name=job.name, sha256=job.sha256, size=job.size,
                        media_type=job.media_type, open=opener, siblings=job.siblings,
                        read_sibling=job.read_sibling, modified=job.modified)
    time_value: Callable[[Any], Any] = aware_utc if job.postgres else sqlite_time
    rows: list[tuple[Any, ...]] = []
    chars = 0
    seq = 0

    def send(last: bool = False, error: str | None = None) -> None:
        nonlocal rows, chars, batch
        batch.rows = rows
        batch.bytes_read, tally.read = tally.read, 0
        batch.last, batch.error = last, error
        conn.send(batch)
        batch, rows, chars = Batch(), [], 0

    blobs = BlobStore(Path(job.blob_root), job.defer_sync) if job.blob_root else None
    # This process only parses: it keeps fewer collections for its whole life.
    collect_less_often()
    try:
        parser = by_name(job.parser_name)
        for item in parser.parse(source, job.options):
            if isinstance(item, EventRecord):
                seq += 1
                row = derive_row(item, seq=seq, zone_name=job.zone_name,
                                 time_value=time_value)
                rows.append((*row[:-1], encode_json(row[-1])))
                if item.attachments:
                    batch.linked.extend(a.sha256 for a in item.attachments if a.sha256)
                if item.text is not None:
                    chars += len(item.text)
                if len(rows) >= BATCH or chars >= BATCH_CHARS:
                    send()
            elif isinstance(item, EmbeddedFile):
                if blobs is not None:
                    stored = blobs.put_bytes(item.data)
                    batch.items.append(("stored", replace(item, data=b""), stored))
            elif isinstance(item, FileNote):
                batch.items.append(("note", item))
            elif isinstance(item, DerivedFact):
                batch.items.append(("fact", item, seq))
    except ParserError as exc:
        send(last=True, error=str(exc) or type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - reported on the exhibit like any parser crash
        send(last=True, error=f"internal error in parser {job.parser_name}: "
                              f"{type(exc).__name__}: {exc}")
    else:
        send(last=True)
    finally:
        conn.close()


def run_offloaded(job: OffloadJob) -> Iterator[Batch]:
    """Start the child and yield its batches; the last one has ``last`` set.

    The child is stopped if the caller stops early (an interrupt, a database
    error), and a child that dies without a last batch is reported as an error.
    """
    # spawn, not fork: the parent has a database connection and, on a terminal, a
    # progress thread; forking those copies locks held by other threads.
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, send), daemon=True,
                              name=f"conduct-parse-{job.parser_name}")
    process.start()
    send.close()
    finished = False
    try:
        while True:
            try:
                batch: Batch = receive.recv()
            except EOFError:
                process.join()
                yield Batch(last=True, error=f"parser process for {job.parser_name} ended "
                                             f"unexpectedly (exit code {process.exitcode})")
                finished = True
                return
            yield batch
            if batch.last:
                finished = True
                return
    finally:
        receive.close()
        if not finished and process.is_alive():
            process.terminate()
        process.join()
