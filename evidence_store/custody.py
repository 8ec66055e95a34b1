"""The append-only, hash-chained custody log, and its verification.

Each entry's hash covers the previous entry's hash and a canonical JSON of the
entry itself, so editing, inserting or deleting any row breaks the chain at a
place verify can name. The head table records each chain's last entry, which
catches the deletion of entries from the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import canonical_json
from evidence_store.models import CustodyEntry, CustodyHead

GENESIS = "0" * 64
STORE_CHAIN = "store"


def case_chain(case_ref: str) -> str:
    return f"case:{case_ref}"


def utc_stamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    payload = prev_hash.encode("ascii") + canonical_json.dumps_bytes(dict(body))
    return hashlib.sha256(payload).hexdigest()


def _body(chain: str, seq: int, actor: str, action: str, subject: str, at: str,
          details: Mapping[str, Any]) -> dict[str, Any]:
    return {"chain": chain, "seq": seq, "actor": actor, "action": action, "subject": subject,
            "at": at, "details": dict(details)}


def _head(session: Session, chain: str) -> CustodyHead | None:
    """The chain's head, locked for this transaction and then kept in the session.

    On PostgreSQL the first look-up takes a row lock, so two writers cannot both
    extend the same head; later appends in the same transaction reuse the object
    instead of querying again (an archive of thousands of members appends
    thousands of entries).
    """
    heads: dict[str, CustodyHead] = session.info.setdefault("custody_heads", {})
    head = heads.get(chain)
    if head is None or head not in session:
        head = session.execute(
            select(CustodyHead).where(CustodyHead.chain == chain).with_for_update()
        ).scalar_one_or_none()
        if head is not None:
            heads[chain] = head
    return head


def append(
    session: Session,
    chain: str,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
) -> CustodyEntry:
    """Append one entry; the caller's transaction makes the action and its record atomic."""
    details = dict(details or {})
    head = _head(session, chain)
    seq = 1 if head is None else head.seq + 1
    prev = GENESIS if head is None else head.entry_hash
    at = utc_stamp()
    body = _body(chain, seq, actor, action, subject, at, details)
    digest = entry_hash(prev, body)
    entry = CustodyEntry(
        chain=chain, seq=seq, actor=actor, action=action, subject=subject, at=at,
        details=canonical_json.dumps(details), prev_hash=prev, entry_hash=digest,
    )
    session.add(entry)
    if head is None:
        head = CustodyHead(chain=chain, seq=seq, entry_hash=digest)
        session.add(head)
        session.info.setdefault("custody_heads", {})[chain] = head
    else:
        head.seq, head.entry_hash = seq, digest
    return entry


@dataclass(frozen=True, slots=True)
class ChainProblem:
    chain: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.chain} entry {self.seq}" if self.seq is not None else self.chain
        return f"custody {where}: {self.message}"


def verify_entries(chain: str, entries: Iterable[CustodyEntry], head: CustodyHead | None
                   ) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    last_seq = 0
    for entry in entries:
        if entry.seq != expected_seq:
            problems.append(ChainProblem(chain, expected_seq,
                                         f"missing (next entry present is {entry.seq})"))
        if entry.prev_hash != prev:
            problems.append(ChainProblem(chain, entry.seq, "previous-hash link broken"))
        try:
            details = canonical_json_loads(entry.details)
            body = _body(entry.chain, entry.seq, entry.actor, entry.action, entry.subject,
                         entry.at, details)
            recomputed = entry_hash(entry.prev_hash, body)
        except ValueError:
            recomputed = ""
        if recomputed != entry.entry_hash:
            problems.append(ChainProblem(chain, entry.seq, "entry altered (hash mismatch)"))
        prev = entry.entry_hash
        expected_seq = entry.seq + 1
        last_seq = entry.seq
    if head is None:
        if last_seq:
            problems.append(ChainProblem(chain, None, "chain head record missing"))
    elif head.seq != last_seq or head.entry_hash != prev:
        problems.append(ChainProblem(
            chain, head.seq,
            f"entries after {last_seq} deleted (head records entry {head.seq})"
            if head.seq > last_seq else "chain head does not match the last entry",
        ))
    return problems


def canonical_json_loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("details must be a JSON object")
    return value


def chains(session: Session) -> list[str]:
    names = set(session.execute(select(CustodyEntry.chain).distinct()).scalars())
    names.update(session.execute(select(CustodyHead.chain)).scalars())
    return sorted(names)


def entries_of(session: Session, chain: str, upto_seq: int | None = None) -> list[CustodyEntry]:
    query = select(CustodyEntry).where(CustodyEntry.chain == chain)
    if upto_seq is not None:
        query = query.where(CustodyEntry.seq <= upto_seq)
    return list(session.execute(query.order_by(CustodyEntry.seq)).scalars())
