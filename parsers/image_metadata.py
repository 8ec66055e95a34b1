"""Metadata inside an image: XMP, PNG text and the times EXIF states, as plain JSON values.

EXIF itself is read by exifread (parsers/image_exif.py); this module cleans
what it reads and turns its time fields into StatedTime.

Everything here is read from a hostile file, so every value is bounded in
length, turned into str/int/float, and a field that cannot be read is left out
rather than guessed. Times are returned as written plus their parsed parts;
turning them into instants is the parser's business.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from parsers.records import JSONValue

#: Longest text kept from any one metadata field.
MAX_TEXT = 500
#: PNG text chunks: how many, and how much of each value, go into the fact.
MAX_PNG_CHUNKS = 32
MAX_PNG_VALUE = 2000
#: XMP is scanned for a few fields only; a larger packet is cut here.
MAX_XMP = 256 * 1024

_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?")
_XMP_DATE_FIELDS = ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate")


@dataclass(frozen=True, slots=True)
class StatedTime:
    """A time an image's metadata states, with where it was read."""

    source: str
    text: str
    local: datetime | None = None
    instant: datetime | None = None
    precision: str = "second"
    #: What was wrong with it, when it could not be used as written.
    problem: str | None = None


@dataclass
class Metadata:
    exif: dict[str, JSONValue] = field(default_factory=dict)
    gps: dict[str, JSONValue] = field(default_factory=dict)
    png_text: dict[str, str] = field(default_factory=dict)
    png_text_truncated: list[str] = field(default_factory=list)
    xmp: str = ""

    def text_fields(self) -> list[tuple[str, str]]:
        """(where, value) of every field that may name software or say "Screenshot"."""
        found: list[tuple[str, str]] = []
        for key in ("software", "processing_software", "user_comment", "host_computer"):
            value = self.exif.get(key)
            if isinstance(value, str) and value:
                found.append((f"exif:{key}", value))
        for key, value in self.png_text.items():
            if key.lower() in ("software", "source", "comment", "description", "title"):
                found.append((f"png:{key}", value))
        for name in ("xmp:CreatorTool", "exif:UserComment", "photoshop:History"):
            value = xmp_field(self.xmp, name)
            if value:
                found.append((f"xmp:{name}", value))
        return found


def clean_text(value: Any, limit: int = MAX_TEXT) -> str:
    """A metadata string made safe to store: NULs and padding gone, surrogates escaped."""
    if isinstance(value, bytes):
        value = _decode_bytes(value)
    text = str(value).replace("\x00", " ").strip()
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def _decode_bytes(value: bytes) -> str:
    # EXIF UserComment starts with an 8-byte character-code prefix.
    prefix, body = value[:8], value[8:]
    if prefix.startswith(b"UNICODE"):
        encoding = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return body.decode(encoding, "replace")
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00"):
        return body.decode("utf-8", "replace")
    return value.decode("utf-8", "replace")


def exif_time(fields: dict[str, JSONValue], which: str) -> StatedTime | None:
    """DateTimeOriginal or DateTimeDigitized with its offset and sub-seconds."""
    raw = fields.get(f"datetime_{which}")
    if not isinstance(raw, str):
        return None
    source = f"exif:DateTime{which.capitalize()}"
    match = _EXIF_TIME.fullmatch(raw.strip())
    moment = _datetime(*match.groups()) if match else None
    if moment is None:
        return StatedTime(source, raw, problem=f"{source} {raw!r} is not a real time")
    subsec = fields.get(f"subsec_time_{which}")
    text = raw
    precision = "second"
    if isinstance(subsec, str | int) and str(subsec).strip().isdigit():
        digits = str(subsec).strip()
        moment = moment.replace(microsecond=int(digits.ljust(6, "0")[:6]))
        text += f".{digits}"
        precision = "subsecond"
    offset_text = fields.get(f"offset_time_{which}")
    if isinstance(offset_text, str) and offset_text.strip():
        zone = _offset(offset_text.strip())
        if zone is None:
            return StatedTime(source, text, local=moment, precision=precision,
                              problem=f"offset {offset_text!r} unreadable; zone assumed")
        return StatedTime(source, f"{text} {offset_text.strip()}",
                          instant=moment.replace(tzinfo=zone), precision=precision)
    return StatedTime(source, text, local=moment, precision=precision)


def _datetime(*parts: str | None) -> datetime | None:
    try:
        numbers = [int(p) if p else 0 for p in parts[:6]]
        moment = datetime(*numbers)  # type: ignore[arg-type]  # noqa: DTZ001 - wall-clock
    except (ValueError, TypeError, OverflowError):
        return None
    return moment if 1970 <= moment.year <= 2100 else None


def _offset(text: str) -> timezone | None:
    if text.upper() == "Z":
        return UTC
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    hours, minutes = int(match[2]), int(match[3])
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if match[1] == "-" else delta)


def iso_time(source: str, raw: str) -> StatedTime | None:
    """An XMP or PNG ISO 8601 time; None when the text is not one."""
    match = _ISO_TIME.fullmatch(raw.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone_text = match.groups()
    moment = _datetime(year, month, day, hour, minute, second)
    if moment is None:
        return StatedTime(source, raw, problem=f"{source} {raw!r} is not a real time")
    precision = "day" if hour is None else "minute" if second is None else "second"
    if fraction:
        moment = moment.replace(microsecond=int(fraction.ljust(6, "0")[:6]))
        precision = "subsecond"
    if zone_text:
        zone = _offset(zone_text)
        if zone is not None:
            return StatedTime(source, raw, instant=moment.replace(tzinfo=zone),
                              precision=precision)
    return StatedTime(source, raw, local=moment, precision=precision)


def xmp_time(xmp: str) -> StatedTime | None:
    for name in _XMP_DATE_FIELDS:
        raw = xmp_field(xmp, name)
        if raw:
            stated = iso_time(f"xmp:{name}", raw)
            if stated is not None:
                return stated
    return None


def png_time(text: dict[str, str]) -> StatedTime | None:
    """The PNG "Creation Time" keyword: RFC 1123 by the specification, ISO 8601 in practice."""
    raw = text.get("Creation Time")
    if not raw:
        return None
    stated = iso_time("png:Creation Time", raw)
    if stated is not None:
        return stated
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return StatedTime("png:Creation Time", raw, problem="PNG Creation Time unreadable")
    if moment.tzinfo is None:
        return StatedTime("png:Creation Time", raw, local=moment)
    return StatedTime("png:Creation Time", raw, instant=moment)


def xmp_field(xmp: str, name: str) -> str | None:
    """A simple XMP property, as element text (first rdf:li for alternatives) or attribute."""
    if not xmp:
        return None
    escaped = re.escape(name)
    element = re.search(rf"<{escaped}(?:\s[^>]*)?>(.*?)</{escaped}>", xmp, re.DOTALL)
    if element is not None:
        inner = element.group(1)
        item = re.search(r"<rdf:li(?:\s[^>]*)?>(.*?)</rdf:li>", inner, re.DOTALL)
        value = re.sub(r"<[^>]*>", "", item.group(1) if item else inner)
        return _unescape(clean_text(value)) or None
    attribute = re.search(rf"\s{escaped}\s*=\s*\"([^\"]*)\"", xmp)
    return _unescape(clean_text(attribute.group(1))) if attribute else None


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def xmp_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value[:MAX_XMP].decode("utf-8", "replace")
    return str(value)[:MAX_XMP] if value else ""


def png_text(chunks: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Bounded copies of a PNG's tEXt/iTXt/zTXt chunks and the keys that were cut."""
    kept: dict[str, str] = {}
    cut: list[str] = []
    for key, value in list(chunks.items())[:MAX_PNG_CHUNKS]:
        if not isinstance(key, str) or not isinstance(value, str | bytes):
            continue
        text = clean_text(value, limit=MAX_PNG_VALUE + 1)
        name = clean_text(key, 79)
        if len(text) > MAX_PNG_VALUE:
            text = text[:MAX_PNG_VALUE]
            cut.append(name)
        kept[name] = text
    if len(chunks) > MAX_PNG_CHUNKS:
        cut.append(f"({len(chunks) - MAX_PNG_CHUNKS} more chunks)")
    return kept, cut


def raw_exif(data: bytes) -> bytes | None:
    """The EXIF block of a JPEG, PNG or WebP found by walking its segments.

    Used when Pillow cannot open a damaged file (the metadata near the start of
    the file is often intact when the picture data is not) or has not seen the
    block, so that exifread can be given the block on its own.
    """
    try:
        if data[:2] == b"\xff\xd8":
            return _jpeg_exif(data)
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _chunk(data, 8, b"eXIf", length_first=True)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _chunk(data, 12, b"EXIF", length_first=False)
    except (struct.error, IndexError):
        return None
    return None


def _jpeg_exif(data: bytes) -> bytes | None:
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            return None
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        segment = data[position + 4:position + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return segment
        position += 2 + length
    return None


def _chunk(data: bytes, position: int, kind: bytes, length_first: bool) -> bytes | None:
    for _ in range(10_000):
        if position + 8 > len(data):
            return None
        if length_first:
            (length,) = struct.unpack(">I", data[position:position + 4])
            name = data[position + 4:position + 8]
        else:
            name = data[position:position + 4]
            (length,) = struct.unpack("<I", data[position + 4:position + 8])
        body = data[position + 8:position + 8 + length]
        if name == kind:
            return body
        position += 8 + length + (4 if length_first else length % 2)
    return None
