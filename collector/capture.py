"""Capturing a public web page as evidence (``conduct capture REF URL``).

What is kept: the response body exactly as the server sent it (a top-level
exhibit), and a record of the exchange (a JSON child exhibit, read by
parsers/capture_record.py): the URL asked for, every redirect hop (status,
Location, headers, peer address), the final status and headers, the peer's
IP address, the TLS certificate the server presented, the UTC times the
retrieval started, the final response arrived and the body ended, the body's
SHA-256 and size, and whether it was cut short. Both are hashed and logged; the
page is then parsed like any delivered page (parsers/web_page.py). A body the
server compressed although asked not to is kept as sent, and a decoded copy
(bounded) is stored beside it and parsed.

A capture shows what the server returned to Conduct at that time, no more: the
record says so in as many words.

How the URL is fetched safely: collector/capture_fetch.py. What may be fetched
and the store's configuration (conduct.toml): collector/capture_policy.py.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, BinaryIO

import httpx
from sqlalchemy.orm import Session

from collector.capture_fetch import Fetched, fetch, stamp, validated_url
from collector.capture_policy import (
    CONFIG_FILE,
    CaptureConfig,
    CaptureConfigError,
    CaptureError,
    CaptureFailed,
    CaptureRefused,
    address_refusal,
    load_config,
    user_agent,
)
from collector.intake import Companion, IngestOptions, Ingestor
from collector.outcome import ExhibitOutcome
from evidence_store import canonical_json, cases, custody
from evidence_store.blobs import StoredBlob
from evidence_store.models import Case
from evidence_store.store import Store

__all__ = [
    "CONFIG_FILE", "CaptureConfig", "CaptureConfigError", "CaptureError", "CaptureFailed",
    "CaptureOutcome", "CaptureRefused", "address_refusal", "capture_url", "load_config",
    "user_agent",
]

STATEMENT = ("This capture shows what the server returned to Conduct at the time stated; "
             "it does not prove what other visitors saw.")
RECORD_FORMAT = "conduct-capture/1"
RECEIVED_FROM = "public web (server response)"
_EXTENSIONS = {
    "text/html": ".html", "application/xhtml+xml": ".xhtml", "text/plain": ".txt",
    "application/json": ".json", "application/pdf": ".pdf", "image/png": ".png",
    "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "text/xml": ".xml",
    "application/xml": ".xml", "multipart/related": ".mhtml",
}
_PIECE = 256 * 1024


# -- storing ---------------------------------------------------------------------------


@dataclass
class CaptureOutcome:
    page: ExhibitOutcome
    request_url: str
    final_url: str
    status: int
    sha256: str
    size: int
    cut: str | None
    retrieved_at: str
    redirects: int
    warnings: list[str] = field(default_factory=list)

    @property
    def record(self) -> ExhibitOutcome:
        return self.page.children[0]

    def lines(self) -> list[str]:
        first = (f"{self.page.ref} {self.page.name}: HTTP {self.status} from {self.final_url}, "
                 f"{self.size} bytes, sha256 {self.sha256}, retrieved {self.retrieved_at}")
        if self.redirects:
            first += f" ({self.redirects} redirect{'s' * (self.redirects != 1)})"
        lines = [first]
        if self.cut:
            lines.append(f"  warning: body cut short: {self.cut}; the part received is kept")
        lines.extend("  " + outcome.one_line() for outcome in self.page.walk())
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "request_url": self.request_url, "final_url": self.final_url,
            "status": self.status, "sha256": self.sha256, "size": self.size, "cut": self.cut,
            "retrieved_at": self.retrieved_at, "redirects": self.redirects,
            "exhibits": [self.page.as_json()],
        }


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", text).strip("_") or "page"


@dataclass(frozen=True)
class _Names:
    page: str
    record: str
    decoded: str


def _names(fetched: Fetched) -> _Names:
    final = httpx.URL(fetched.final_url)
    host = _safe(final.host)
    if final.port is not None:
        host += f"_{final.port}"
    moment = fetched.response_at.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    media = (fetched.content_type or "").split(";", 1)[0].strip().lower()
    stem = f"capture-{host}-{moment}"
    extension = _EXTENSIONS.get(media, ".bin")
    encoding = (fetched.content_encoding or "").strip().lower()
    # The stored body is what was sent: still compressed when the server compressed it.
    sent = extension + {"gzip": ".gz", "x-gzip": ".gz", "deflate": ".zz"}.get(
        encoding, f".{_safe(encoding)}" if encoding and encoding != "identity" else "")
    return _Names(stem + sent, stem + ".capture-record.json", f"{stem}.decoded{extension}")


class _Inflated:
    """A stored gzip/deflate body decompressed as a stream, stopped just past the size
    limit: a few kilobytes can expand to gigabytes."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        # 32 + MAX_WBITS: a gzip or a zlib header, whichever the server sent.
        self._inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
        self.limit = limit
        self.size = 0
        self.cut: str | None = None
        self._done = False

    def read(self, _size: int = -1) -> bytes:
        while not self._done:
            data = self._inflater.unconsumed_tail or self._source.read(_PIECE)
            if not data:
                self._done = True
                return self._bounded(self._inflater.flush())
            out = self._inflater.decompress(data, _PIECE)
            if self._inflater.eof:
                self._done = True
            if out:
                return self._bounded(out)
        return b""

    def _bounded(self, out: bytes) -> bytes:
        room = self.limit - self.size
        if len(out) > room:
            out, self._done = out[:room], True
            self.cut = f"size limit of {self.limit} bytes reached"
        self.size += len(out)
        return out


def _decode_body(store: Store, fetched: Fetched, limit: int
                 ) -> tuple[StoredBlob | None, dict[str, Any] | None]:
    """The body as the server meant it to be read, when it was sent compressed anyway."""
    encoding = (fetched.content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return None, None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return None, {"encoding": encoding, "error": "Conduct cannot decode this encoding"}
    with store.blobs.open(fetched.blob.sha256) as source:
        inflated = _Inflated(source, limit)
        try:
            blob = store.blobs.put_stream(inflated)  # type: ignore[arg-type]
        except zlib.error as exc:
            return None, {"encoding": encoding, "error": f"cannot be decoded: {exc}"}
    return blob, {"encoding": encoding, "sha256": blob.sha256, "size": blob.size,
                  "truncated": inflated.cut is not None, "truncated_reason": inflated.cut}


def _record(fetched: Fetched, names: _Names, decoded: dict[str, Any] | None,
            note: str | None, actor: str, config: CaptureConfig, agent: str) -> dict[str, Any]:
    if decoded is not None and "sha256" in decoded:
        decoded = dict(decoded, name=names.decoded)
    return {
        "_format": RECORD_FORMAT,
        "statement": STATEMENT,
        "request_url": fetched.request_url,
        "final_url": fetched.final_url,
        "status": fetched.status,
        "reason": fetched.reason,
        "http_version": fetched.http_version,
        "response_headers": fetched.headers,
        "redirects": fetched.redirects,
        "peer": fetched.peer,
        "tls": fetched.tls,
        "tls_verified": config.verify_tls if fetched.tls is not None else None,
        "started_at": stamp(fetched.started_at),
        "response_at": stamp(fetched.response_at),
        "finished_at": stamp(fetched.finished_at),
        "decoded_body": decoded,
        "body": {
            "name": names.page, "sha256": fetched.blob.sha256, "size": fetched.blob.size,
            "truncated": fetched.cut is not None, "truncated_reason": fetched.cut,
            "content_type": fetched.content_type, "content_encoding": fetched.content_encoding,
            "content_length_header": fetched.content_length,
            "stored_as": "the bytes as received, before any content decoding",
        },
        "request": {"method": "GET", "headers": fetched.request_headers,
                    "cookies_sent": False, "javascript_run": False},
        "user_agent": agent,
        "captured_by": actor,
        "note": note,
        "limits": config.as_record(),
    }


def _encode_record(record: dict[str, Any]) -> bytes:
    canonical_json.dumps(record)  # refuses anything that is not plain JSON
    # Sorted keys and fixed indentation: deterministic like the canonical form, and
    # readable by whoever opens the exhibit.
    return (json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def capture_url(store: Store, case_ref: str, url: str, note: str | None, actor: str,
                config: CaptureConfig) -> CaptureOutcome:
    """Fetch ``url`` and store the response and its record as exhibits of the case.

    Raises CaptureRefused or CaptureFailed (nothing stored; the attempt is logged
    in the case's custody chain) and CaseError for an unknown case (before any
    network access).
    """
    with store.session() as session:
        cases.get_case(session, case_ref)
    agent = user_agent(config)
    try:
        target = validated_url(url)
        fetched = fetch(store.blobs, target, config, agent)
    except CaptureError as exc:
        _log_failure(store, case_ref, actor, url, exc)
        raise
    names = _names(fetched)
    decoded_blob, decoded = _decode_body(store, fetched, config.max_bytes)
    record_blob = store.blobs.put_bytes(
        _encode_record(_record(fetched, names, decoded, note, actor, config, agent)))
    started = stamp(fetched.started_at)
    options = IngestOptions(
        received_by=actor, received_from=RECEIVED_FROM,
        how_obtained=f"captured from {fetched.request_url} by {actor} at {started}")
    companions = [Companion(
        record_blob, names.record,
        f"written by Conduct when capturing {fetched.request_url} at {started}: the request, "
        "redirects, response headers, peer address and TLS certificate behind its parent")]
    if decoded_blob is not None:
        companions.append(Companion(
            decoded_blob, names.decoded,
            f"decoded by Conduct from its parent, which the server sent "
            f"{fetched.content_encoding}-compressed"))

    def log_capture(session: Session, case: Case, page: ExhibitOutcome) -> None:
        custody.append(session, custody.case_chain(case.ref), actor, "captured", page.ref, {
            "url": fetched.request_url, "final_url": fetched.final_url,
            "status": fetched.status, "sha256": fetched.blob.sha256,
            "size": fetched.blob.size, "truncated": fetched.cut,
            "record": page.children[0].ref, "record_sha256": record_blob.sha256,
            "peer_ip": fetched.peer["ip"], "redirects": len(fetched.redirects),
            "retrieved_at": stamp(fetched.response_at), "note": note,
        })

    page = Ingestor(store, case_ref, options).ingest_stored(
        fetched.blob, names.page, companions, on_received=log_capture)
    return CaptureOutcome(
        page=page, request_url=fetched.request_url, final_url=fetched.final_url,
        status=fetched.status, sha256=fetched.blob.sha256, size=fetched.blob.size,
        cut=fetched.cut, retrieved_at=stamp(fetched.response_at),
        redirects=len(fetched.redirects))


def _log_failure(store: Store, case_ref: str, actor: str, url: str, exc: CaptureError) -> None:
    hops = exc.hops
    with store.session() as session:
        custody.append(session, custody.case_chain(case_ref), actor,
                       "capture_refused" if isinstance(exc, CaptureRefused) else "capture_failed",
                       case_ref, {
                           "url": url, "reason": str(exc),
                           "hops": [{"url": h["url"], "status": h["status"],
                                     "location": h.get("location")} for h in hops],
                       })
