"""The OCR stage: read the text of a case's images, keep what is visible as facts.

Runs after an ingest (or on its own, `conduct ocr`) over every image exhibit not
read yet: exhibits with an ``ocr_text`` (or ``ocr_failed``) fact are skipped, so
running it again reads only what is new. Images are read in worker processes
(one engine and one thread each, spawned so no database connection or lock is
inherited); facts and custody entries are written here, a batch at a time, so
an interrupted run keeps what it finished. Then the visible names and numbers
are matched to the case's persons and screenshots are checked against exports.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ocr_engine import (
    ENGINE,
    OcrResult,
    ScalePolicy,
    check_image,
    engine_version,
    init_worker,
    model_paths,
    read_path,
)
from collector.progress import NoProgress, Progress
from collector.visible_text import TextLine, extract
from evidence_store import cases, custody
from evidence_store.corroboration import (
    CorroborationReport,
    CorroborationSettings,
    corroborate_case,
)
from evidence_store.facts import FactWriter
from evidence_store.models import Case, Exhibit, Fact
from evidence_store.store import Store
from evidence_store.visible_persons import match_case
from parsers.records import DerivedFact, JSONValue

#: Kinds that mark an exhibit as already read.
DONE_KINDS = ("ocr_text", "ocr_failed")
#: Results are committed in batches of this many images (or every few seconds).
COMMIT_EVERY = 25
COMMIT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class PendingImage:
    exhibit_id: int
    ref: str
    sha256: str
    size: int


@dataclass
class OcrStageReport:
    images: int = 0
    read: int = 0
    already_read: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    workers: int = 0
    seconds: float = 0.0
    facts: int = 0
    persons_changed: int = 0
    corroboration: CorroborationReport | None = None
    #: Set when the stage could not run at all (engine missing); one line.
    error: str | None = None
    read_exhibits: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        c = self.corroboration
        return {
            "images": self.images, "read": self.read, "already_read": self.already_read,
            "failed": [{"exhibit": ref, "error": error} for ref, error in self.failed],
            "workers": self.workers, "seconds": round(self.seconds, 3), "facts": self.facts,
            "error": self.error,
            "corroboration": None if c is None else {
                "screenshots": c.screenshots, "corroborated": c.corroborated,
                "partly_corroborated": c.partly, "uncorroborated": c.uncorroborated},
        }

    def one_line(self) -> str:
        if self.error:
            return f"OCR not run: {self.error}"
        text = f"OCR: {self.read} image(s) read"
        if self.failed:
            text += f", {len(self.failed)} unreadable"
        if self.already_read:
            text += f", {self.already_read} read before"
        if self.read:
            text += f" ({self.seconds:.1f} s, {self.workers} worker(s))"
        c = self.corroboration
        if c is not None and c.screenshots:
            text += (f"; screenshots: {c.corroborated} corroborated, {c.partly} partly, "
                     f"{c.uncorroborated} uncorroborated")
        return text


def source_label() -> str:
    return f"{ENGINE}/{engine_version()}"


def images_of(session: Session, case: Case) -> tuple[list[PendingImage], int]:
    """Image exhibits of the case not yet read, and how many were read before.

    Duplicates are left out: their bytes are read once, under the first receipt.
    """
    done = set(session.execute(
        select(Fact.exhibit_id).where(Fact.case_id == case.id, Fact.kind.in_(DONE_KINDS))
    ).scalars())
    pending: list[PendingImage] = []
    already = 0
    rows = session.execute(
        select(Exhibit.id, Exhibit.ref, Exhibit.sha256, Exhibit.size)
        .where(Exhibit.case_id == case.id, Exhibit.media_type.like("image/%"),
               Exhibit.status != "duplicate")
        .order_by(Exhibit.id))
    for exhibit_id, ref, sha256, size in rows:
        if exhibit_id in done:
            already += 1
        else:
            pending.append(PendingImage(exhibit_id, ref, sha256, size))
    return pending, already


def ocr_facts(result: OcrResult, engine_name: str, region: str,
              policy: ScalePolicy | None = None) -> list[DerivedFact]:
    """What one reading yields: the text, the word boxes, and every visible item.

    The engine and its scale policy are kept with the text: the same engine with
    the same policy reads the same image the same way, which lets anyone repeat it.
    """
    policy = policy or ScalePolicy()
    lines = [TextLine(line.text, line.left, line.top, line.right, line.bottom)
             for line in result.lines]
    facts = [
        DerivedFact("ocr_text", {
            "text": result.text, "engine": engine_name, "seconds": result.seconds,
            "cpu_seconds": result.cpu_seconds,
            "lines": len(result.lines), "width": result.width, "height": result.height,
            "policy": {"det_long_side": policy.det_long_side,
                       "det_min_short_side": policy.det_min_short_side,
                       "tall_ratio": policy.tall_ratio, "rec_height": policy.rec_height,
                       "max_long_side": policy.max_long_side,
                       "min_confidence": policy.min_confidence},
        }, about="file"),
        DerivedFact("ocr_words", {"lines": [
            {"text": line.text, "box": [list(point) for point in line.box],
             "confidence": line.confidence} for line in result.lines]}, about="file"),
    ]
    for item in extract(lines, region, result.height):
        value: dict[str, JSONValue] = item.fact_value()
        box = result.lines[item.line].box
        value["box"] = [list(point) for point in box]
        facts.append(DerivedFact(item.kind, value, about="file"))
    return facts


def run_ocr_stage(store: Store, case_ref: str, actor: str, progress: Progress | None = None,
                  workers: int | None = None, policy: ScalePolicy | None = None,
                  settings: CorroborationSettings | None = None,
                  recheck_all: bool = True) -> OcrStageReport:
    """Read what is new, then match persons and check screenshots against exports.

    ``recheck_all=False`` checks only the screenshots read in this run: right when
    no message has been added since the others were checked (an ingest of images
    alone), and it spares re-checking every screenshot of a large case.
    """
    progress = progress or NoProgress()
    report = OcrStageReport()
    started = time.perf_counter()
    with store.session() as session:
        case = cases.get_case(session, case_ref)
        region = case.default_region
        pending, report.already_read = images_of(session, case)
    report.images = len(pending)
    if pending:
        try:
            source = source_label()
            model_paths()  # a missing model is one line here, not a dead worker pool
        except RuntimeError as exc:
            report.error = str(exc)
            return report
        readable: list[PendingImage] = []
        unreadable: list[tuple[PendingImage, str]] = []
        for image in pending:
            problem = check_image(store.blobs.path(image.sha256))
            if problem:
                unreadable.append((image, problem))
            else:
                readable.append(image)
        with store.session() as session:
            case = cases.get_case(session, case_ref)
            for image, problem in unreadable:
                _record_failure(session, case, image, problem, source, actor, report)
        if readable:
            report.workers = min(workers or os.cpu_count() or 1, len(readable))
            progress.begin(f"reading text in {len(readable)} image(s)",
                           sum(image.size for image in readable))
            try:
                _read_all(store, case_ref, readable, report, source, actor, region,
                          progress, policy or ScalePolicy())
            except BrokenProcessPool as exc:
                report.error = f"OCR workers stopped: {exc or 'a worker died'}"
            finally:
                progress.end()
    report.seconds = time.perf_counter() - started
    with store.session() as session:
        case = cases.get_case(session, case_ref)
        report.persons_changed = match_case(session, case, actor)
    with store.session() as session:
        case = cases.get_case(session, case_ref)
        report.corroboration = corroborate_case(
            session, case, actor, settings,
            exhibit_ids=None if recheck_all else report.read_exhibits)
    return report


def _read_all(store: Store, case_ref: str, images: Sequence[PendingImage],
              report: OcrStageReport, source: str, actor: str, region: str,
              progress: Progress, policy: ScalePolicy) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=report.workers, mp_context=context,
                             initializer=init_worker, initargs=(policy,)) as pool:
        futures: dict[Future[OcrResult | str], PendingImage] = {
            pool.submit(read_path, str(store.blobs.path(image.sha256))): image
            for image in images}
        # Written in exhibit order, whichever worker finishes first, so the custody
        # log of the same batch reads the same every time.
        for batch in _batches(iter(futures)):
            with store.session() as session:
                case = cases.get_case(session, case_ref)
                for future in batch:
                    image = futures[future]
                    outcome = future.result()
                    if isinstance(outcome, str):
                        _record_failure(session, case, image, outcome, source, actor, report)
                    else:
                        _record_reading(session, case, image, outcome, source, actor,
                                        region, report, policy)
                    progress.advance(image.size)


def _batches(futures: Iterator[Future[OcrResult | str]]
             ) -> Iterator[list[Future[OcrResult | str]]]:
    batch: list[Future[OcrResult | str]] = []
    since = time.monotonic()
    for future in futures:
        future.result()  # waits: results are taken in submission order
        batch.append(future)
        if len(batch) >= COMMIT_EVERY or time.monotonic() - since >= COMMIT_SECONDS:
            yield batch
            batch, since = [], time.monotonic()
    if batch:
        yield batch


def _record_reading(session: Session, case: Case, image: PendingImage, result: OcrResult,
                    source: str, actor: str, region: str, report: OcrStageReport,
                    policy: ScalePolicy) -> None:
    engine_name = f"{result.engine}-onnxruntime {result.version} (PP-OCRv4 det+rec)"
    facts = ocr_facts(result, engine_name, region, policy)
    writer = FactWriter(session, case.id, image.exhibit_id, source)
    writer.add_all(facts, None)
    writer.flush()
    report.read += 1
    report.read_exhibits.append(image.exhibit_id)
    report.facts += writer.count
    visible = Counter(f.kind for f in facts if f.kind.startswith("visible_"))
    custody.append(session, custody.case_chain(case.ref), actor, "ocr", image.ref, {
        "engine": source, "lines": len(result.lines), "characters": len(result.text),
        "seconds": result.seconds, "visible": dict(sorted(visible.items())),
    })


def _record_failure(session: Session, case: Case, image: PendingImage, problem: str,
                    source: str, actor: str, report: OcrStageReport) -> None:
    writer = FactWriter(session, case.id, image.exhibit_id, source)
    writer.add(DerivedFact("ocr_failed", {"error": problem}, about="file"), None)
    writer.flush()
    report.failed.append((image.ref, problem))
    custody.append(session, custody.case_chain(case.ref), actor, "ocr_failed", image.ref,
                   {"engine": source, "error": problem})
