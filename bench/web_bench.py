"""Timeline page latency served over HTTP at a million events.

Builds (or reuses) a synthetic case with bench/generate_case.py, adds a user,
starts `conduct serve` in a child process and times real HTTP requests with a
keep-alive client: the first page, walking pages onwards with the keyset
cursor, a page from the middle of the case, filtered pages, full-text search
and an event page. Every timeline request also appends its custody entry, as
in production. Target: p95 under 200 ms.

Run: .venv/bin/python bench/web_bench.py [--events N] [--store DIR] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.generate_case import REF, generate  # noqa: E402
from bench.web_session import free_port, sign_in  # noqa: E402
from evidence_store import cases  # noqa: E402
from evidence_store.models import Case, Event, Person  # noqa: E402
from evidence_store.search import make_cursor  # noqa: E402
from evidence_store.store import init_store, open_store  # noqa: E402
from web import access  # noqa: E402
from web.auth import create_user, find_user, hasher  # noqa: E402
from web.settings import WebSettings  # noqa: E402

USER, PASSWORD = "bench_investigator", "bench password, long enough"
TARGET_MS = 200.0


def prepare(store_dir: Path, events: int, url: str | None) -> dict[str, Any]:
    """The case, a user assigned to it, and the ids and cursors the requests need."""
    fresh = not (store_dir / "conduct.sqlite").exists() and url is None
    store = init_store(store_dir, url, actor="bench") if fresh or url else open_store(store_dir)
    try:
        with store.session() as session:
            have = session.execute(select(Case).where(Case.ref == REF)).scalar_one_or_none()
        if have is None:
            print(f"generating {events:,} events ...", flush=True)
            made = generate(store, events)
            print(f"  {made.events:,} events in {made.seconds:.0f} s", flush=True)
        with store.session() as session:
            case = cases.get_case(session, REF)
            user = find_user(session, USER) or create_user(
                session, hasher(WebSettings()), USER, "investigator", PASSWORD, "bench")
            access.assign(session, user, case, "bench")
            total = session.execute(select(Event.id).where(Event.case_id == case.id)
                                    .order_by(Event.id.desc()).limit(1)).scalar_one()
            count = session.query(Event).filter(Event.case_id == case.id).count()
            middle = session.execute(
                select(Event.occurred_at, Event.id).where(Event.case_id == case.id)
                .order_by(Event.occurred_at, Event.id).offset(count // 2).limit(1)).one()
            suspect = session.execute(select(Person.id).where(
                Person.case_id == case.id, Person.role == "suspect")).scalar_one()
            week = middle.occurred_at.date().isoformat()
        return {"events": count, "middle_cursor": make_cursor(middle.occurred_at, middle.id),
                "suspect": suspect, "event_id": total // 2, "day": week}
    finally:
        store.close()


def cpu_ms(pid: int) -> float:
    """CPU time the server process has used (user + system), in milliseconds.

    Wall-clock latency depends on what else the machine runs; the server's CPU time
    per request does not, so both are reported."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def timed(client: httpx.Client, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}\n{response.text[:500]}")
        times.append(elapsed)
    return times


def walk(client: httpx.Client, url: str, pages: int) -> list[float]:
    """Follow the "Next page" link ``pages`` times, timing each page."""
    times = []
    for _ in range(pages):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        found = re.search(r'href="([^"]+)" rel="next"', response.text)
        if response.status_code != 200 or found is None:
            raise SystemExit(f"walking stopped at {url}: HTTP {response.status_code}")
        url = found.group(1).replace("&amp;", "&")
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {"runs": len(times), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(p95, 1), "max_ms": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=HERE / "out" / "web-bench-store")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    facts = prepare(args.store, args.events, args.database_url)
    port = free_port()
    env = dict(os.environ)
    if args.database_url:
        env["CONDUCT_DATABASE_URL"] = args.database_url
    server = subprocess.Popen(
        [sys.executable, "-m", "conduct.cli", "--store", str(args.store), "--user", "bench",
         "serve", "--port", str(port)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"events": facts["events"],
                               "database": "postgresql" if args.database_url else "sqlite"}
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            signed = sign_in(client, server, USER, PASSWORD)
            if "Your cases" not in signed.text:
                raise SystemExit(f"could not sign in: HTTP {signed.status_code}")
            timeline = f"/cases/{REF}/timeline"
            began = time.perf_counter()
            timed(client, timeline, 1)
            results["first_page_cold_ms"] = round((time.perf_counter() - began) * 1000, 1)
            began = time.perf_counter()
            timed(client, f"{timeline}?q=knife", 1)
            results["search_index_catch_up_once_ms"] = round(
                (time.perf_counter() - began) * 1000, 1)
            scenarios = {
                "first page": (timed, timeline),
                "next pages (walk 50)": (walk, timeline),
                "page from the middle": (timed, f"{timeline}?after={facts['middle_cursor']}"),
                "channel=sms": (timed, f"{timeline}?channel=sms"),
                "person=suspect": (timed, f"{timeline}?person={facts['suspect']}"),
                "kind=call&flag=blocked": (timed, f"{timeline}?channel=call&flag=blocked"),
                "one day": (timed, f"{timeline}?from={facts['day']}&to={facts['day']}"),
                "search 'knife' (rare)": (timed, f"{timeline}?q=knife"),
                "search 'station tonight'": (timed, f"{timeline}?q=station+tonight"),
                "event page": (timed, f"/cases/{REF}/events/{facts['event_id']}"),
            }
            measured = {}
            results["load_average_before"] = os.getloadavg()[0]
            for name, (how, url) in scenarios.items():
                runs = 50 if how is walk else args.runs
                cpu_before = cpu_ms(server.pid)
                times = how(client, url, runs)
                measured[name] = summary(times)
                row = measured[name]
                row["server_cpu_ms_per_request"] = round(
                    (cpu_ms(server.pid) - cpu_before) / runs, 1)
                verdict = "ok" if row["p95_ms"] < TARGET_MS else "OVER TARGET"
                print(f"{name:28} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
                      f"max {row['max_ms']:7.1f} ms  server CPU "
                      f"{row['server_cpu_ms_per_request']:6.1f} ms/request  {verdict}",
                      flush=True)
            results["load_average_after"] = os.getloadavg()[0]
            results["scenarios"] = measured
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"machine load average {results['load_average_before']:.1f} before, "
          f"{results['load_average_after']:.1f} after ({os.cpu_count()} cores)")
    print(f"cold first page (filter menus read once): {results['first_page_cold_ms']} ms; "
          f"first search (indexes the case once): {results['search_index_catch_up_once_ms']} ms")
    out = HERE / "out" / "web_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
