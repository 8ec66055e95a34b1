"""Files a victim uploaded through a one-time link wait here for an officer.

A quarantined file is stored (content-addressed, like any original) and its
arrival is in the custody log, but it is not an exhibit: nobody has yet
decided it belongs in the case. Accepting it runs the normal intake on the
stored bytes; rejecting it keeps the bytes and the row (originals are never
deleted) and records who decided and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.intake import IngestOptions, Ingestor
from collector.outcome import ExhibitOutcome
from evidence_store import cases, custody
from evidence_store.blobs import HEAD_SIZE, StoredBlob
from evidence_store.cases import CaseError
from evidence_store.models import Case, QuarantinedUpload
from evidence_store.store import Store
from parsers.sniff import media_type

WAITING, ACCEPTED, REJECTED = "waiting", "accepted", "rejected"


def hold(session: Session, case: Case, link_id: int, blob: StoredBlob, name: str,
         note: str | None, actor: str) -> QuarantinedUpload:
    """Record one uploaded file (already in the blob store) as waiting."""
    mime = media_type(blob.head)
    cases.ensure_blob(session, blob.sha256, blob.size, mime)
    row = QuarantinedUpload(
        case_id=case.id, link_id=link_id, sha256=blob.sha256, original_name=name,
        size=blob.size, media_type=mime, sender_note=note or None,
        received_at=datetime.now(UTC), status=WAITING,
    )
    session.add(row)
    session.flush()
    custody.append(session, custody.case_chain(case.ref), actor, "upload_quarantined",
                   f"upload {row.id}", {"sha256": blob.sha256, "size": blob.size,
                                        "media_type": mime, "name": name, "link": link_id})
    return row


def waiting(session: Session, case: Case) -> list[QuarantinedUpload]:
    return list(session.execute(
        select(QuarantinedUpload).where(QuarantinedUpload.case_id == case.id)
        .order_by(QuarantinedUpload.id)).scalars())


@dataclass(frozen=True)
class Accepted:
    upload_ids: tuple[int, ...]
    outcomes: list[ExhibitOutcome]


def accept(store: Store, case_ref: str, upload_ids: Sequence[int], options: IngestOptions
           ) -> Accepted:
    """Make waiting uploads exhibits, received together (a chat finds its photos)."""
    with store.session() as session:
        case = cases.get_case(session, case_ref)
        rows = _waiting_rows(session, case, upload_ids)
        files = []
        for row in rows:
            with store.blobs.open(row.sha256) as handle:
                head = handle.read(HEAD_SIZE)
            files.append((row.original_name,
                          StoredBlob(row.sha256, row.size, head, already_present=True)))
        ids = tuple(row.id for row in rows)
    # The intake commits on its own; if the marking below were lost, accepting again
    # would record the same bytes as duplicates of these exhibits, never lose them.
    outcomes = Ingestor(store, case_ref, options).ingest_stored_group(files)
    with store.session() as session:
        case = cases.get_case(session, case_ref)
        now = datetime.now(UTC)
        for upload_id, outcome in zip(ids, outcomes, strict=True):
            decided = session.get(QuarantinedUpload, upload_id)
            assert decided is not None
            decided.status, decided.decided_by, decided.decided_at = (
                ACCEPTED, options.received_by, now)
            decided.exhibit_ref = outcome.ref
            custody.append(session, custody.case_chain(case.ref), options.received_by,
                           "upload_accepted", f"upload {upload_id}",
                           {"sha256": decided.sha256, "exhibit": outcome.ref})
    return Accepted(ids, outcomes)


def reject(session: Session, case: Case, upload_id: int, actor: str, reason: str
           ) -> QuarantinedUpload:
    reason = reason.strip()
    if not reason:
        raise CaseError("say why the upload is rejected")
    (row,) = _waiting_rows(session, case, [upload_id])
    row.status, row.decided_by, row.decided_at = REJECTED, actor, datetime.now(UTC)
    row.decision_note = reason
    custody.append(session, custody.case_chain(case.ref), actor, "upload_rejected",
                   f"upload {row.id}", {"sha256": row.sha256, "reason": reason})
    return row


def _waiting_rows(session: Session, case: Case, upload_ids: Sequence[int]
                  ) -> list[QuarantinedUpload]:
    if not upload_ids:
        raise CaseError("choose at least one upload")
    rows = list(session.execute(
        select(QuarantinedUpload).where(QuarantinedUpload.case_id == case.id,
                                        QuarantinedUpload.id.in_(list(upload_ids)))
        .order_by(QuarantinedUpload.id)).scalars())
    if len(rows) != len(set(upload_ids)):
        raise CaseError("no such upload in this case")
    decided = [row.id for row in rows if row.status != WAITING]
    if decided:
        raise CaseError(f"upload {decided[0]} was already decided")
    return rows
