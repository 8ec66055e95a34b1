"""The record Conduct writes when it captures a web page (collector/capture.py).

A live capture is stored as two exhibits: the body exactly as the server sent
it, and this JSON record of the exchange (request, redirects, response headers,
peer address, TLS certificate, retrieval times, the body's SHA-256). The split
keeps each parser honest about what it knows: the page's own parser
(parsers/web_page.py) reads what the page shows but cannot know when it was
fetched; this one knows exactly when and how, and makes the capture event, at
the moment the final response arrived (UTC, from Conduct's clock), with the
page linked by its SHA-256 and the exchange kept as a ``capture_http`` fact.
A second capture of an unchanged page (same bytes, a duplicate exhibit) still
gets its own event, because each capture has its own record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, DerivedFact, EventRecord, Locator, ParsedItem, WallClock
from parsers.web_extract import read_up_to

FORMAT = "conduct-capture/1"
CHANNEL = "web"
#: A record is headers and certificates; anything much larger is not one.
MAX_RECORD_BYTES = 8 * 1024 * 1024

_START = re.compile(rb'\A\{\s*"_format"\s*:\s*"conduct-capture/1"')
_REQUIRED = ("request_url", "final_url", "status", "response_at", "body")


class CaptureRecordParser:
    name = "capture_record"
    version = "1.0.0"
    format = "capture_record"

    def detect(self, probe: Probe) -> bool:
        return _START.match(probe.head) is not None

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        record = _load(source)
        body = record["body"]
        when = _instant(record["response_at"], "response_at")
        flags = ["live_capture"]
        if record.get("redirects"):
            flags.append("redirected")
        if body.get("truncated"):
            flags.append("truncated")
        if record.get("tls") is not None and record.get("tls_verified") is False:
            flags.append("tls_not_verified")
        status = record["status"]
        text = (f"Captured {record['final_url']}: HTTP {status}, {body.get('size')} bytes, "
                f"sha256 {body.get('sha256')}")
        if body.get("truncated"):
            text += f" (cut short: {body.get('truncated_reason')})"
        if record.get("note"):
            text += f"\nNote: {record['note']}"
        extra = {key: str(value) for key, value in (
            ("request_url", record["request_url"]), ("final_url", record["final_url"]),
            ("status", status), ("body_sha256", body.get("sha256")),
            ("peer_ip", (record.get("peer") or {}).get("ip")),
            ("captured_by", record.get("captured_by"))) if value is not None}
        attachments: list[AttachmentRef] = []
        if isinstance(body.get("sha256"), str):
            attachments.append(AttachmentRef(name=_text(body.get("name")) or "page",
                                             sha256=body["sha256"],
                                             media_type=_text(body.get("content_type"))))
        decoded = record.get("decoded_body")
        if isinstance(decoded, Mapping) and isinstance(decoded.get("sha256"), str):
            # The body as sent was compressed; Conduct's decoded copy is read as the page.
            attachments.append(AttachmentRef(name=_text(decoded.get("name")) or "decoded",
                                             sha256=decoded["sha256"]))
            flags.append("decoded_by_conduct")
        yield EventRecord(
            kind="capture",
            time=WallClock(text=str(record["response_at"]), instant=when,
                           precision="subsecond"),
            time_basis="captured", channel=CHANNEL, locator=Locator(json_path="$"),
            text=text, attachments=tuple(attachments),
            flags=tuple(flags), extra=extra,
        )
        fact = {key: value for key, value in record.items() if key != "_format"}
        yield DerivedFact("capture_http", fact, Locator(json_path="$"))


def _load(source: SourceFile) -> dict[str, Any]:
    try:
        with source.open() as stream:
            data = read_up_to(stream, MAX_RECORD_BYTES + 1)
    except OSError as exc:
        raise DamagedInput(f"unreadable: {exc}") from exc
    if len(data) > MAX_RECORD_BYTES:
        raise DamagedInput(f"larger than {MAX_RECORD_BYTES} bytes; not a capture record")
    try:
        record = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise DamagedInput(f"not valid JSON: {exc}") from exc
    if not isinstance(record, dict) or record.get("_format") != FORMAT:
        raise DamagedInput(f"not a {FORMAT} record")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise DamagedInput(f"capture record lacks {', '.join(missing)}")
    if not isinstance(record["body"], Mapping) or not isinstance(record["status"], int):
        raise DamagedInput("capture record's body or status is malformed")
    return record


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not plain JSON")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _instant(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise DamagedInput(f"capture record's {name} is not a time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DamagedInput(f"capture record's {name} {value!r} is not an ISO time") from exc
    if moment.tzinfo is None:
        raise DamagedInput(f"capture record's {name} {value!r} has no offset")
    return moment


PARSER = CaptureRecordParser()
