"""Case-file export: time, throughput and peak memory, against plain SHA-256 of the same bytes.

Builds a case with a WhatsApp export of --events messages and --exhibit-gb of large
exhibits (phone-video-like files: an MP4 header and incompressible bytes, as a real
case's bulk is), ingested through the Ingestor like any case, with a suspect recorded
so the pattern analysis and its charts run. Then, each in a fresh subprocess so that
peak RSS is its own:
  1. SHA-256 over every original in the blob store (the least an export must do: read
     and hash each byte);
  2. `export_case` of the whole case into a ZIP (originals streamed in, every document
     drawn, manifest signed).
Memory should not grow with the exhibits' size: --compare-gb runs the export again on
a case with smaller exhibits and the same events, to show that.
Nothing generated is kept unless --keep DIR is given.
Run: .venv/bin/python bench/export_bench.py [--events 100000] [--exhibit-gb 2]
     [--files 8] [--compare-gb 0.2] [--redact] [--database-url URL]
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

from bench.generate import whatsapp_export  # noqa: E402
from evidence_store.database import scratch_schema  # noqa: E402

_MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
_MB = 1 << 20

SETUP = r"""
import json, sys, time
from pathlib import Path
from collector.intake import IngestOptions, Ingestor
from evidence_store import cases, persons
from evidence_store.store import init_store
store_dir, url, paths = Path(sys.argv[1]), sys.argv[2] or None, [Path(p) for p in sys.argv[3:]]
start = time.perf_counter()
store = init_store(store_dir, url)
with store.session() as session:
    case = cases.create_case(session, "BENCH", "Export bench", "Bench Officer", "BO")
    persons.add_person(session, case, "Sam Taylor", "suspect",
                       ["name:sam taylor", "+447700900461"], "bench")
    persons.add_person(session, case, "Alex Morgan", "victim", ["name:alex morgan"], "bench")
ingestor = Ingestor(store, "BENCH", IngestOptions(received_by="Bench Officer",
                                                  received_from="Alex Morgan (victim)"))
outcomes = ingestor.ingest_paths(paths)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "events": sum(o.events for top in outcomes for o in top.walk())}))
"""

EXPORT = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
from evidence_store import cases
from evidence_store.store import open_store
mode, store_dir, url, out, redact = sys.argv[1], Path(sys.argv[2]), sys.argv[3] or None, \
    Path(sys.argv[4]), sys.argv[5] == "1"
store = open_store(store_dir, url)
start = time.perf_counter()
result = {}
if mode == "sha256":
    total = 0
    blobs = store_dir / "blobs"
    for blob in sorted(p for p in blobs.rglob("*") if p.is_file()
                       and "tmp" not in p.relative_to(blobs).parts):
        digest = hashlib.sha256()
        with blob.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                total += len(chunk)
    result["bytes"] = total
else:
    import exports.bundle
    from exports.bundle import export_case
    drawing = exports.bundle._write_documents

    def timed(*args, **kwargs):
        began = time.perf_counter()
        drawing(*args, **kwargs)
        result["documents_seconds"] = time.perf_counter() - began

    exports.bundle._write_documents = timed
    with store.session() as session:
        bundle = export_case(session, store, cases.get_case(session, "BENCH"), out, "bench",
                             redact=redact)
    result["bundle_bytes"] = out.stat().st_size
    result["members"] = bundle.files
result["seconds"] = time.perf_counter() - start
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _videos(folder: Path, total_bytes: int, files: int) -> list[Path]:
    each = max(total_bytes // max(files, 1), len(_MP4_HEAD))
    made = []
    for n in range(files):
        path = folder / f"VID_2024031{n % 10}_{n:04d}.mp4"
        with path.open("wb") as out:
            out.write(_MP4_HEAD)
            left = each - len(_MP4_HEAD)
            while left > 0:
                chunk = os.urandom(min(_MB, left))
                out.write(chunk)
                left -= len(chunk)
        made.append(path)
    return made


def run_case(work: Path, events: int, exhibit_bytes: int, files: int, url: str | None,
             redact: bool) -> dict[str, object]:
    material = work / "material"
    material.mkdir(parents=True)
    chat = material / "WhatsApp Chat with Sam Taylor.txt"
    whatsapp_export(chat, events)
    paths = [chat, *_videos(material, exhibit_bytes, files)]
    setup = _child(SETUP, str(work / "store"), url or "", *map(str, paths))
    shutil.rmtree(material)  # the store holds the originals now; halve the disk used
    hashed = _child(EXPORT, "sha256", str(work / "store"), url or "", "", "0")
    exported = _child(EXPORT, "export", str(work / "store"), url or "",
                      str(work / "bundle.zip"), "1" if redact else "0")
    megabytes = hashed["bytes"] / _MB
    return {
        "events": setup["events"], "originals_mb": round(megabytes, 1),
        "ingest_seconds": round(setup["seconds"], 1),
        "sha256_seconds": round(hashed["seconds"], 2),
        "sha256_mb_s": round(megabytes / hashed["seconds"], 1),
        "export_seconds": round(exported["seconds"], 2),
        # Drawing the documents (PDFs, CSVs, charts) versus streaming everything into the ZIP.
        "documents_seconds": round(exported["documents_seconds"], 2),
        "zip_seconds": round(exported["seconds"] - exported["documents_seconds"], 2),
        "zip_mb_s": round(megabytes / (exported["seconds"] - exported["documents_seconds"]), 1),
        "export_mb_s": round(megabytes / exported["seconds"], 1),
        "export_vs_sha256": round(exported["seconds"] / hashed["seconds"], 2),
        "export_peak_rss_mb": round(exported["peak_rss_mb"], 1),
        "bundle_mb": round(exported["bundle_bytes"] / _MB, 1),
        "members": exported["members"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--exhibit-gb", type=float, default=2.0)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--compare-gb", type=float, default=None,
                        help="also export a case with this many GB of exhibits")
    parser.add_argument("--redact", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    sizes = [args.exhibit_gb] + ([args.compare_gb] if args.compare_gb is not None else [])
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="conduct-export-bench-", dir=args.keep))
        try:
            started = time.perf_counter()
            if args.database_url:
                with scratch_schema(args.database_url, prefix="bench") as url:
                    result = run_case(work, args.events, int(size * (1 << 30)), args.files,
                                      url, args.redact)
            else:
                result = run_case(work, args.events, int(size * (1 << 30)), args.files, None,
                                  args.redact)
            result["wall_seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps({"exhibit_gb": size, "redact": args.redact, **result}))
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
