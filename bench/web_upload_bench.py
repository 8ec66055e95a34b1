"""A 2 GB upload through `conduct serve`, with the server's memory watched.

The request body is generated on the fly (never whole in memory on either
side); the server streams it into the blob store. The server's resident set is
sampled while the upload runs: it should stay flat, not grow with the upload.

Run: .venv/bin/python bench/web_upload_bench.py [--mb 2048] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.web_session import csrf_token, free_port, sign_in  # noqa: E402
from evidence_store import cases  # noqa: E402
from evidence_store.store import init_store  # noqa: E402
from web import access  # noqa: E402
from web.auth import create_user, hasher  # noqa: E402
from web.settings import WebSettings  # noqa: E402

USER, PASSWORD = "bench_officer", "bench password, long enough"
MIB = 1024 * 1024


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=2048)
    parser.add_argument("--keep", action="store_true", help="Keep the store afterwards.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="conduct-upload-bench-", dir=HERE / "out"
                                 if (HERE / "out").is_dir() else None))
    store_dir = work / "store"
    store = init_store(store_dir, actor="bench")
    with store.session() as session:
        case = cases.create_case(session, "UP-1", "upload bench", "Bench Officer", "BO")
        user = create_user(session, hasher(WebSettings()), USER, "officer", PASSWORD, "bench")
        access.assign(session, user, case, "bench")
    store.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "conduct.cli", "--store", str(store_dir),
                               "serve", "--port", str(port)], cwd=ROOT)
    block = bytes(range(256)) * 4096
    expected = hashlib.sha256()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3600) as client:
            sign_in(client, server, USER, PASSWORD)
            form = client.get("/cases/UP-1/upload").text
            csrf = csrf_token(form)
            boundary = "conduct-bench-boundary"
            fields = {"csrf_token": csrf, "received_from": "bench", "how_obtained": "bench",
                      "consent": "not_required", "initials": "BO"}

            def body():
                for name, value in fields.items():
                    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
                           f"\r\n\r\n{value}\r\n").encode()
                yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                       "filename=\"phone-backup.bin\"\r\nContent-Type: application/octet-stream"
                       "\r\n\r\n").encode()
                for i in range(args.mb):
                    chunk = i.to_bytes(8, "big") + block[8:]
                    expected.update(chunk)
                    yield chunk
                yield f"\r\n--{boundary}--\r\n".encode()

            before = rss_kib(server.pid)
            peak = [before]
            running = threading.Event()
            running.set()

            def sample() -> None:
                while running.is_set():
                    peak[0] = max(peak[0], rss_kib(server.pid))
                    time.sleep(0.1)

            watcher = threading.Thread(target=sample, daemon=True)
            watcher.start()
            began = time.perf_counter()
            response = client.post("/cases/UP-1/upload", content=body(), headers={
                "content-type": f"multipart/form-data; boundary={boundary}"})
            seconds = time.perf_counter() - began
            running.clear()
            watcher.join()
            if response.status_code != 200 or expected.hexdigest() not in response.text:
                raise SystemExit(f"upload failed: HTTP {response.status_code}\n"
                                 f"{response.text[:800]}")
        result = {
            "megabytes": args.mb, "seconds": round(seconds, 1),
            "mb_per_s": round(args.mb / seconds, 1),
            "server_rss_before_mb": round(before / 1024, 1),
            "server_rss_peak_mb": round(peak[0] / 1024, 1),
            "server_rss_growth_mb": round((peak[0] - before) / 1024, 1),
            "sha256": expected.hexdigest(),
        }
        print(json.dumps(result, indent=2))
        out = HERE / "out" / "web_upload_bench.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=60)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
