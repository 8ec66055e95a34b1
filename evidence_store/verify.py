"""Re-checking a store: every blob re-hashed, every custody chain re-walked."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.blobs import BlobStore
from evidence_store.models import Case, CustodyHead, Exhibit


@dataclass
class VerifyReport:
    blobs_checked: int = 0
    entries_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, blobs: BlobStore, case: Case | None = None) -> VerifyReport:
    report = VerifyReport()
    query = select(Exhibit, Case.ref).join(Case, Case.id == Exhibit.case_id).order_by(Exhibit.id)
    if case is not None:
        query = query.where(Exhibit.case_id == case.id)
    seen: dict[str, str | None] = {}
    for exhibit, case_ref in session.execute(query):
        if exhibit.sha256 not in seen:
            seen[exhibit.sha256] = blobs.rehash(exhibit.sha256)
            report.blobs_checked += 1
        actual = seen[exhibit.sha256]
        if actual is None:
            report.problems.append(
                f"exhibit {case_ref} {exhibit.ref}: original missing from the store")
        elif actual != exhibit.sha256:
            report.problems.append(
                f"exhibit {case_ref} {exhibit.ref}: original altered "
                f"(recorded {exhibit.sha256[:16]}…, now {actual[:16]}…)"
            )
    names = [custody.case_chain(case.ref)] if case is not None else custody.chains(session)
    for chain in names:
        entries = custody.entries_of(session, chain)
        report.entries_checked += len(entries)
        head = session.get(CustodyHead, chain)
        report.problems.extend(str(p) for p in custody.verify_entries(chain, entries, head))
    return report
