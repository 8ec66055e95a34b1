"""libmagic's guess at a file's type, with a fallback when libmagic is absent.

libmagic calls mbox files and chat exports alike text/plain, so parsers sniff
content themselves; this only supplies the MIME type recorded on the exhibit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _magic() -> Any | None:
    try:
        import magic

        return magic.Magic(mime=True)
    except (ImportError, OSError):
        return None


def media_type(head: bytes) -> str:
    if not head:
        return "application/x-empty"
    detector = _magic()
    if detector is not None:
        try:
            return str(detector.from_buffer(head))
        except Exception:  # noqa: BLE001 - libmagic errors must not stop an ingest
            return "application/octet-stream"
    return _fallback(head)


def _fallback(head: bytes) -> str:
    signatures = (
        (b"PK\x03\x04", "application/zip"),
        (b"PK\x05\x06", "application/zip"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"%PDF-", "application/pdf"),
        (b"\xd0\xcf\x11\xe0", "application/x-ole-storage"),
    )
    for magic_bytes, mime in signatures:
        if head.startswith(magic_bytes):
            return mime
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the probe's end is still text.
        if exc.start < len(head) - 4:
            return "application/octet-stream"
    return "text/plain"
