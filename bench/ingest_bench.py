"""Ingest throughput and peak memory, against plain SHA-256 over the same bytes.

Generates a 200,000-message WhatsApp export, a 200 MB mbox and a 1,000,000-message
(~500 MB) SMS Backup & Restore file (or smaller with --scale), then for each runs,
in a fresh subprocess so peak RSS is its own:
  1. hashlib SHA-256 over the file (the baseline: the least any ingest must do);
  2. a full `Ingestor` run into a new store (store, hash, parse, write events).
Targets: WhatsApp >= 50,000 messages/s, mbox >= 1,500 messages/s, SMS >= 30,000
messages/s, peak RSS < 300 MB.
Run: .venv/bin/python bench/ingest_bench.py [--scale 0.1] [--only sms] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.generate import mbox, whatsapp_export  # noqa: E402
from bench.generate_sms import sms_backup  # noqa: E402
from evidence_store.database import scratch_schema  # noqa: E402

CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
mode, path, store_dir, url = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] or None
start = time.perf_counter()
result = {}
if mode == "sha256":
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
else:
    from collector.intake import IngestOptions, Ingestor
    from evidence_store import cases
    from evidence_store.store import init_store
    store = init_store(store_dir, url)
    with store.session() as session:
        cases.create_case(session, "BENCH", "bench", "Bench Officer", "BO")
    setup = time.perf_counter() - start
    start = time.perf_counter()
    ingestor = Ingestor(store, "BENCH", IngestOptions(received_by="Bench Officer"))
    [outcome] = ingestor.ingest_paths([path])
    result = {"events": outcome.events, "status": outcome.status, "error": outcome.error,
              "children": len(outcome.children), "setup_seconds": setup}
result["seconds"] = time.perf_counter() - start
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# Large files are parsed in a child process (collector.offload): the largest child peak counts too.
result["child_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(result))
"""


def run_child(mode: str, path: Path, store: Path, url: str | None) -> dict[str, float]:
    if mode != "ingest" or not url:
        return _child(mode, path, store, None)
    with scratch_schema(url, prefix="bench") as schema_url:
        return _child(mode, path, store, schema_url)


def _child(mode: str, path: Path, store: Path, url: str | None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), str(store), url or ""],
        capture_output=True, text=True, check=True, cwd=HERE.parent,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(label: str, path: Path, expected: int, work: Path, url: str | None,
            target_rate: float) -> None:
    size_mb = path.stat().st_size / 1e6
    baseline = run_child("sha256", path, work / f"{label}-unused", url)
    ingest = run_child("ingest", path, work / f"{label}-store", url)
    rate = ingest["events"] / ingest["seconds"]
    if ingest["status"] != "parsed":
        print(f"  ingest status {ingest['status']}: {ingest['error']}")
    where = "PostgreSQL" if url else "SQLite"
    print(f"\n{label} ({where}): {size_mb:.1f} MB, {expected:,} messages generated")
    print(f"  sha256 baseline : {baseline['seconds']:.2f} s "
          f"({size_mb / baseline['seconds']:.0f} MB/s), peak RSS {baseline['peak_rss_mb']:.0f} MB")
    print(f"  ingest          : {ingest['seconds']:.2f} s, {ingest['events']:,} events "
          f"({rate:,.0f} messages/s, {size_mb / ingest['seconds']:.1f} MB/s), "
          f"peak RSS {ingest['peak_rss_mb']:.0f} MB (child processes "
          f"{ingest['child_peak_rss_mb']:.0f} MB), status {ingest['status']}")
    print(f"  ratio ingest/sha256 time: {ingest['seconds'] / baseline['seconds']:.1f}x")
    peak = max(ingest["peak_rss_mb"], ingest["child_peak_rss_mb"])
    verdict = "meets" if rate >= target_rate and peak < 300 else "MISSES"
    print(f"  target >= {target_rate:,.0f} messages/s and < 300 MB peak: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--only", choices=("whatsapp", "mbox", "sms"), default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conduct-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "whatsapp"):
            chat = work / "WhatsApp Chat with Sam Taylor.txt"
            count = whatsapp_export(chat, int(200_000 * args.scale))
            measure("whatsapp", chat, count, work, args.database_url, 50_000)
        if args.only in (None, "mbox"):
            box = work / "All mail Including Spam and Trash.mbox"
            count = mbox(box, int(200e6 * args.scale))
            measure("mbox", box, count, work, args.database_url, 1_500)
            box.unlink()
        if args.only in (None, "sms"):
            backup = work / "sms-20240412093000.xml"
            count = sms_backup(backup, int(1_000_000 * args.scale))
            measure("sms", backup, count, work, args.database_url, 30_000)


if __name__ == "__main__":
    main()
