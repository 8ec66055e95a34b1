"""Pattern analysis, timeline pages and full-text search on a 1,000,000-event case.

Generates the case with bench/generate_case.py into a fresh store (SQLite, or a
scratch PostgreSQL schema with --database-url), then, in a fresh subprocess so
peak RSS is its own, measures:
  - catch-up indexing of every event for full-text search (the first search pays it);
  - `analyse`: duplicate merging and the behaviour rules when present, then the
    frequency analysis and course-of-conduct summary (and, separately, the charts);
  - timeline pages by keyset: 200 pages of 100 events after random cursors, with
    and without filters (p50/p95);
  - full-text searches of rare, common, phrase and prefix terms (p50/p95).
Targets: analyse < 10 s, page < 20 ms, search < 100 ms.
Wall times depend on what else the machine runs, so CPU times of this process are
printed beside them (on PostgreSQL the server's work is not in them).
Run: .venv/bin/python bench/analyse_bench.py [--events N] [--database-url URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from evidence_store.database import scratch_schema  # noqa: E402

CHILD = r"""
import json, random, resource, statistics, sys, time
from datetime import UTC, datetime
from pathlib import Path
from sqlalchemy import select
from evidence_store import cases
from evidence_store.course_of_conduct import summarise
from evidence_store.models import Event, Person
from evidence_store.search import PageFilter, catch_up, make_cursor, search, timeline_page
from evidence_store.store import open_store

store = open_store(Path(sys.argv[1]), sys.argv[2] or None)
charts_dir = Path(sys.argv[3])
result = {}

def clock(action):
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    return value, time.perf_counter() - wall, time.process_time() - cpu

def percentiles(samples):
    samples = sorted(samples)
    return {"p50_ms": round(statistics.median(samples) * 1000, 1),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1] * 1000, 1)}

with store.session() as session:
    added, wall, cpu = clock(lambda: catch_up(session))
    result["catch_up"] = {"events": added, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}
steps = {}


def optional(name, module, function):
    # Steps of the pattern work that other modules provide, each in a transaction of
    # its own: one that fails is reported, and the rest is still measured.
    try:
        action = getattr(__import__(module, fromlist=[function]), function)
    except (ImportError, AttributeError):
        steps[name] = "not available"
        return
    try:
        with store.session() as session:
            case = cases.get_case(session, "BENCH")
            value, wall, cpu = clock(lambda: action(session, case))
        steps[name] = round(wall, 2)
        if isinstance(value, list):
            steps[name + "_results"] = len(value)
    except Exception as exc:
        steps[name] = "failed: " + str(exc).splitlines()[0][:160]


optional("merge_duplicates", "evidence_store.occurrences", "merge_duplicates")
optional("evaluate_flags", "evidence_store.behaviour", "evaluate_flags")
with store.session() as session:
    case = cases.get_case(session, "BENCH")
    summary, wall, cpu = clock(lambda: summarise(session, case))
    steps["summarise"] = round(wall, 2)
    steps["summarise_cpu"] = round(cpu, 2)
    steps["occasions"] = summary.occasions
    steps["bursts"] = len(summary.bursts)
    from exports.charts import write_charts
    _, wall, cpu = clock(lambda: write_charts(summary.report, charts_dir))
    steps["charts"] = round(wall, 2)
    result["analyse"] = steps
with store.session() as session:
    case = cases.get_case(session, "BENCH")
    rng = random.Random(5)
    top = session.execute(select(Event.id).order_by(Event.id.desc()).limit(1)).scalar_one()
    picked = session.execute(select(Event.occurred_at, Event.id).where(
        Event.id.in_([rng.randrange(1, top + 1) for _ in range(400)]))).all()
    cursors = [make_cursor(t, i) for t, i in picked][:200]
    people = dict(session.execute(
        select(Person.role, Person.id).where(Person.case_id == case.id)).all())
    filters = {
        "none": PageFilter(), "channel": PageFilter(channel="email"),
        "kind": PageFilter(kind="call"),
        "person (suspect)": PageFilter(person_id=people["suspect"]),
        "person (witness)": PageFilter(person_id=people["witness"]),
        "flag": PageFilter(flag="missed"),
        "date range": PageFilter(start=datetime(2023, 9, 1, tzinfo=UTC),
                                 end=datetime(2023, 10, 1, tzinfo=UTC)),
    }
    pages = {}
    for name, filt in filters.items():
        walls, cpus = [], []
        for cursor in cursors:
            _, wall, cpu = clock(
                lambda: timeline_page(session, case, filt, after=cursor, limit=100))
            walls.append(wall); cpus.append(cpu)
        pages[name] = {**percentiles(walls), "cpu": percentiles(cpus)}
    result["pages"] = pages
    queries = {"rare word": "knife", "rare phrase": '"you will regret"', "common word": "tonight",
               "very common word": "sam", "prefix": "stat*", "two common words": "please tonight",
               "no match": "zzyzx"}
    searches = {}
    for name, query in queries.items():
        walls, cpus = [], []
        for _ in range(20):
            page, wall, cpu = clock(lambda: search(session, case, query, limit=50))
            walls.append(wall); cpus.append(cpu)
        searches[f"{name} ({query})"] = {**percentiles(walls), "cpu": percentiles(cpus),
                                        "results": len(page.rows)}
    result["search"] = searches
result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(result))
"""


def run(store: Path, url: str | None, events: int) -> dict[str, object]:
    began = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "generate_case.py"), str(store), "--events",
                    str(events), *(["--database-url", url] if url else [])],
                   check=True, cwd=HERE.parent)
    generated = time.perf_counter() - began
    done = subprocess.run([sys.executable, "-c", CHILD, str(store), url or "",
                           str(store / "charts")],
                          capture_output=True, text=True, cwd=HERE.parent, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["generate_seconds"] = round(generated, 1)
    return result


def report(result: dict[str, object], where: str) -> None:
    print(f"\n{where}")
    print(json.dumps(result, indent=2))
    analyse = result["analyse"]
    assert isinstance(analyse, dict)
    total = sum(v for k, v in analyse.items()
                if k in ("merge_duplicates", "evaluate_flags", "summarise")
                and isinstance(v, int | float))
    pages = result["pages"]
    searches = result["search"]
    assert isinstance(pages, dict) and isinstance(searches, dict)
    worst_page = max(p["p95_ms"] for p in pages.values())
    worst_search = max(s["p95_ms"] for s in searches.values())
    print(f"  analyse {total:.2f} s (target < 10 s); worst page p95 {worst_page} ms "
          f"(target < 20 ms); worst search p95 {worst_search} ms (target < 100 ms); "
          f"load average now {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="Build the store here and keep it (SQLite only).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="conduct-analyse-bench-"))
    try:
        store = args.keep or work / "store"
        if args.database_url:
            with scratch_schema(args.database_url, prefix="bench") as url:
                report(run(store, url, args.events), "PostgreSQL")
        else:
            report(run(store, None, args.events), "SQLite")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
