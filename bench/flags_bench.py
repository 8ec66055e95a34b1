"""Timing of the pattern-of-behaviour passes (duplicates, links, notices, flags) on a
store made by bench/generate_case.py.

Run: .venv/bin/python bench/flags_bench.py STORE_DIR [--database-url URL] [--ref BENCH]

Each step runs in its own transaction, twice: the first run stores what it finds,
the second shows the cost of an unchanged re-run (what `conduct analyse` pays
every time). A notice is recorded half-way through the case the first time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from evidence_store import cases  # noqa: E402
from evidence_store.behaviour import evaluate_flags  # noqa: E402
from evidence_store.linking import suggest_links  # noqa: E402
from evidence_store.models import Event  # noqa: E402
from evidence_store.notices import (  # noqa: E402
    after_notice_event_ids,
    notices_of_case,
    record_notice,
    suggest_notices,
)
from evidence_store.occurrences import merge_duplicates, representative_event_filter  # noqa: E402
from evidence_store.store import Store, open_store  # noqa: E402


def timed(store: Store, ref: str, label: str, step: Callable[[Any, Any], Any]) -> Any:
    began, cpu = time.perf_counter(), time.process_time()
    with store.session() as session:
        case = cases.get_case(session, ref)
        result = step(session, case)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    size = len(result) if hasattr(result, "__len__") else result
    print(f"{label:<34} {seconds:7.2f} s wall {cpu:7.2f} s cpu   ({size:,})")
    return result


def _ensure_notice(session: Any, case: Any) -> int:
    if any(n.kind == "warning" for n in notices_of_case(session, case)):
        return 0
    first, last = session.execute(select(func.min(Event.occurred_at), func.max(
        Event.occurred_at)).where(Event.case_id == case.id)).one()
    record_notice(session, case, "warning", first + (last - first) / 2 + timedelta(seconds=1),
                  "PC Bench")
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store", type=Path)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--ref", default="BENCH")
    args = parser.parse_args()
    store = open_store(args.store, args.database_url)
    try:
        with store.session() as session:
            case = cases.get_case(session, args.ref)
            events = session.execute(select(func.count()).select_from(Event)
                                     .where(Event.case_id == case.id)).scalar_one()
        print(f"case {args.ref}: {events:,} events ({store.engine.dialect.name})")
        timed(store, args.ref, "record a warning", _ensure_notice)
        for attempt in ("first run", "re-run"):
            print(f"-- {attempt}")
            began, cpu = time.perf_counter(), time.process_time()
            timed(store, args.ref, "merge_duplicates", merge_duplicates)
            timed(store, args.ref, "evaluate_flags", evaluate_flags)
            timed(store, args.ref, "after_notice_event_ids", after_notice_event_ids)
            timed(store, args.ref, "counted events (representatives)",
                  lambda s, c: s.execute(select(func.count()).select_from(Event).where(
                      Event.case_id == c.id, representative_event_filter(c.id))).scalar_one())
            total, cpu = time.perf_counter() - began, time.process_time() - cpu
            print(f"{'analyse share (the four above)':<34} {total:7.2f} s wall {cpu:7.2f} s cpu")
            timed(store, args.ref, "suggest_links", suggest_links)
            timed(store, args.ref, "suggest_notices", suggest_notices)
    finally:
        store.close()


if __name__ == "__main__":
    main()
