"""EXIF and GPS of a hostile image, read by exifread, as plain JSON values.

exifread is pure Python and trusts the offsets and counts it reads, so it is
given only bytes already in memory, through a stream that stops it after a
fixed amount of reading: a crafted IFD chain, a huge count or a looping HEIF
box cannot keep it busy. It is given the EXIF block alone when the image's
container has been walked already (see read_exif for why).

exifread does not raise on most damage: it logs a warning, or nothing, and
goes on with what it could read. What it raises or warns about, and IFDs or
values that run past the end of the block, become the problem reported with
the fields that could be read; a field read from beyond the end is dropped.
Nothing it logs reaches the terminal.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import exifread

from parsers.image_metadata import clean_text
from parsers.records import JSONValue

#: exifread reads values a byte or a word at a time; a real file, maker notes
#: included, needs a few tens of thousands of reads and far less than this.
MAX_EXIF_READS = 200_000
MAX_EXIF_BYTES = 8 * 1024 * 1024

_IFD0, _EXIF_IFD, _GPS_IFD = "Image", "EXIF", "GPS"
#: (fact key, tag) in the main IFD.
_MAIN_TAGS = (
    ("make", 0x010F), ("model", 0x0110), ("software", 0x0131), ("datetime", 0x0132),
    ("orientation", 0x0112), ("artist", 0x013B), ("image_width", 0x0100),
    ("image_height", 0x0101), ("host_computer", 0x013C), ("processing_software", 0x000B),
)
#: (fact key, tag) in the Exif sub-IFD.
_EXIF_TAGS = (
    ("datetime_original", 0x9003), ("offset_time_original", 0x9011),
    ("subsec_time_original", 0x9291), ("datetime_digitized", 0x9004),
    ("offset_time_digitized", 0x9012), ("subsec_time_digitized", 0x9292),
    ("offset_time", 0x9010), ("subsec_time", 0x9290), ("user_comment", 0x9286),
    ("exif_image_width", 0xA002), ("exif_image_height", 0xA003), ("lens_make", 0xA433),
    ("lens_model", 0xA434), ("body_serial_number", 0xA431), ("image_unique_id", 0xA420),
)
#: TIFF field types whose values are raw bytes (BYTE, UNDEFINED).
_BYTE_TYPES = (1, 7)
_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")
#: GPS tags read: references, latitude, longitude, altitude, time, map datum,
#: processing method, date.
_GPS_TAGS = (1, 2, 3, 4, 5, 6, 7, 18, 27, 29)
_KEPT = frozenset({(_IFD0, t) for _, t in _MAIN_TAGS} | {(_EXIF_IFD, t) for _, t in _EXIF_TAGS}
                  | {(_GPS_IFD, t) for t in _GPS_TAGS})
#: Warnings exifread logs about content, not damage: text that is not UTF-8.
_NOT_DAMAGE = ("Possibly corrupted field %s in %s IFD",)


@dataclass(frozen=True, slots=True)
class ExifFound:
    """What exifread read, and what was wrong with the EXIF when something was."""

    exif: dict[str, JSONValue] = field(default_factory=dict)
    gps: dict[str, JSONValue] = field(default_factory=dict)
    problem: str | None = None


class _WorkLimit(Exception):
    """Raised from inside exifread when it has read more than any real EXIF needs."""


class _BoundedStream(io.BytesIO):
    """Bytes in memory that refuse to be read more than MAX_EXIF_READS times or bytes."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._reads = 0
        self._bytes = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self._reads += 1
        allowed = MAX_EXIF_BYTES - self._bytes
        if self._reads > MAX_EXIF_READS:
            raise _WorkLimit(f"{MAX_EXIF_READS} reads")
        if size is None or size < 0 or size > allowed:
            size = allowed + 1  # never copy more than the allowance out of a large file
        chunk = super().read(size)
        self._bytes += len(chunk)
        if self._bytes > MAX_EXIF_BYTES:
            raise _WorkLimit(f"{MAX_EXIF_BYTES} bytes read")
        return chunk


class _Warnings(logging.Handler):
    """Collects, per thread, what exifread warns about while it reads one file."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        collected: list[str] | None = getattr(self.local, "collected", None)
        # exifread logs "no EXIF in this file" with the exception as the message.
        if collected is None or isinstance(record.msg, Exception) or record.msg in _NOT_DAMAGE:
            return
        try:
            collected.append(record.getMessage())
        except (TypeError, ValueError):
            collected.append(str(record.msg))


_WARNINGS = _Warnings()
_LOG = logging.getLogger("exifread")
_LOG.addHandler(_WARNINGS)
_LOG.setLevel(logging.WARNING)
_LOG.propagate = False


@dataclass
class _Attempt:
    """Tags by (IFD, number) from one read, and what went wrong in it."""

    tags: dict[tuple[str, int], Any]
    problem: str | None

    @property
    def useful(self) -> bool:
        return bool(_KEPT & self.tags.keys())


def read_exif(data: bytes, block: bytes | None = None) -> ExifFound:
    """The EXIF fields and GPS of an image file, read by exifread.

    ``block`` is the file's raw EXIF as Pillow (or raw_exif's segment walk)
    found it in the container, "Exif\\0\\0" prefix or not; None when neither found any.
    """
    if block is None:
        # exifread's own search of the container finds EXIF where Pillow does not
        # look; with nothing found there either, a failure of that search is not
        # damage to metadata the file has.
        found = _attempt(data)
        if not found.useful:
            return ExifFound()
        return ExifFound(_fields(found.tags), _gps(found.tags), found.problem)
    # When the block is known exifread reads it alone, a plain TIFF stream, and
    # not the whole file: searching the container it asserts on the Exif item
    # pillow-heif writes into HEIC, reads a WebP EXIF chunk as if it had the
    # "Exif\0\0" prefix, looks for a JPEG's APP1 only in the first 4000 bytes
    # (a large ICC profile pushes it out), and reads a truncated APP1's values
    # from the picture data after it, with no warning.
    tiff = block[6:] if block.startswith(b"Exif\x00\x00") else block
    if not tiff:
        return ExifFound()
    if len(tiff) < 8 or not tiff.startswith(_TIFF_HEADERS):
        return ExifFound(problem="the EXIF block is not a TIFF structure (no TIFF header)")
    found = _attempt(tiff)
    problems, dropped = _damage(tiff, found.tags)
    if found.problem:
        problems.insert(0, found.problem)
    tags = {k: v for k, v in found.tags.items() if k not in dropped}
    return ExifFound(_fields(tags), _gps(tags), "; ".join(problems[:3]) or None)


def _attempt(data: bytes) -> _Attempt:
    """exifread over ``data``: with details (UserComment is skipped without them),
    then, when that fails, without (maker notes, its least robust part, left out)."""
    tags, problem = _process(data, details=True)
    if tags is None:
        tags, _ = _process(data, details=False)
    return _Attempt(_by_ifd(tags or {}), problem)


def _process(data: bytes, details: bool) -> tuple[dict[str, Any] | None, str | None]:
    warned: list[str] = []
    _WARNINGS.local.collected = warned
    try:
        tags = exifread.process_file(_BoundedStream(data), details=details,
                                     extract_thumbnail=False)
    # exifread is pure Python reading crafted bytes: besides its own ExifError it
    # raises AssertionError and NotImplementedError (HEIF boxes), IndexError,
    # struct.error, TypeError... Only the library call is inside this try.
    except Exception as exc:  # noqa: BLE001
        return None, _describe(exc)
    finally:
        _WARNINGS.local.collected = None
    if warned:
        more = f" and {len(warned) - 1} more" if len(warned) > 1 else ""
        return tags, f"exifread warned: {clean_text(warned[0], 200)}{more}"
    return tags, None


def _damage(tiff: bytes, tags: dict[tuple[str, int], Any]) -> tuple[list[str], set[Any]]:
    """Where the block is cut short or points past its end, and the tags read there.

    exifread reads what lies beyond the end of its stream as zeros or nothing
    and only sometimes warns: an entry cut in two yields a value read from the
    wrong place, a value cut short a truncated one. Such tags are dropped, as
    Pillow drops them.
    """
    order = "<" if tiff[:2] == b"II" else ">"
    problems: list[str] = []
    dropped: set[Any] = set()
    pending = [(_IFD0, "IFD0", struct.unpack(order + "I", tiff[4:8])[0])]
    while pending:
        ifd, name, offset = pending.pop(0)
        cut = _cut_entries(tiff, order, offset)
        if cut is None:
            problems.append(f"the {name} at byte {offset} lies outside the EXIF block")
        elif cut[0]:
            problems.append(f"the {name} is cut short by the end of the EXIF block")
            dropped.update((ifd, number) for number in cut[1])
        if ifd != _IFD0:
            continue
        for sub, sub_name, number in ((_EXIF_IFD, "Exif IFD", 0x8769),
                                      (_GPS_IFD, "GPS IFD", 0x8825)):
            tag = tags.get((_IFD0, number))
            pointer = None if tag is None else _value(tag)
            if (_IFD0, number) in dropped:
                # The pointer itself was cut: whatever exifread read there is noise.
                dropped.update(key for key in tags if key[0] == sub)
            elif isinstance(pointer, int):
                pending.append((sub, sub_name, pointer))
    for key, tag in tags.items():
        start, length = getattr(tag, "field_offset", 0), getattr(tag, "field_length", 0)
        if (key in _KEPT and key not in dropped and isinstance(start, int)
                and isinstance(length, int) and start + length > len(tiff)):
            problems.append(f"{key[0]} tag 0x{key[1]:04X} points outside the EXIF block")
            dropped.add(key)
    return problems, dropped


def _cut_entries(tiff: bytes, order: str, offset: int) -> tuple[bool, list[int]] | None:
    """Whether the block's end cuts off entries of the IFD at ``offset``, and the
    tag numbers of those still named; None when the IFD lies outside the block."""
    if offset + 2 > len(tiff):
        return None
    (entries,) = struct.unpack(order + "H", tiff[offset:offset + 2])
    whole = (len(tiff) - offset - 2) // 12
    if entries <= whole:
        return False, []
    return True, [struct.unpack(order + "H", tiff[position:position + 2])[0]
                  for position in range(offset + 2 + 12 * whole, len(tiff) - 1, 12)]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _WorkLimit):
        return f"exifread stopped: {exc}, more than any real EXIF needs"
    text = str(exc).splitlines()[0] if str(exc) else ""
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"exifread failed: {clean_text(what, 200)}"


_UNKNOWN_TAG = re.compile(r"(.*) Tag 0x[0-9A-Fa-f]{4}")


def _by_ifd(tags: dict[str, Any]) -> dict[tuple[str, int], Any]:
    """exifread's "IFD TagName" keys as (IFD, tag number); thumbnails left out.

    Tags are found by number, as the EXIF specification names them: exifread
    names tags it does not know "Tag 0x000B", and IFD names can hold a space
    ("EXIF SubIFD0"), so the IFD is what comes before the tag's own name.
    """
    found: dict[tuple[str, int], Any] = {}
    for key, tag in tags.items():
        number = getattr(tag, "tag", None)
        if not isinstance(key, str) or not isinstance(number, int):
            continue
        unknown = _UNKNOWN_TAG.fullmatch(key)
        ifd = unknown.group(1) if unknown else key.rpartition(" ")[0]
        found.setdefault((ifd, number), tag)
    return found


def _value(tag: Any) -> Any:
    """A tag's values shaped as Pillow gave them, so one cleaning serves both:
    text as str, BYTE and UNDEFINED as bytes, one number alone, several as a tuple."""
    values = tag.values
    if isinstance(values, str | bytes):
        return values
    if not isinstance(values, list) or not values:
        return None
    if int(tag.field_type) in _BYTE_TYPES:
        try:
            return bytes(values)
        except (TypeError, ValueError):
            return None
    # Floats come as the 1-tuples struct.unpack returns.
    flat = [v[0] if isinstance(v, tuple) and len(v) == 1 else v for v in values]
    return flat[0] if len(flat) == 1 else tuple(flat)


def _plain(value: Any) -> JSONValue:
    """An EXIF value as JSON: rationals to floats (None when the denominator is 0)."""
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, str | bytes):
        return clean_text(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value[:16]]
    denominator = getattr(value, "denominator", None)
    if denominator is not None:
        if not denominator:
            return None
        number = float(value)
        return round(number, 6) if number == number else None
    if isinstance(value, float):
        return round(value, 6) if value == value and abs(value) != float("inf") else None
    return clean_text(value)


def _fields(tags: dict[tuple[str, int], Any]) -> dict[str, JSONValue]:
    """The EXIF fields worth keeping, by readable names."""
    fields: dict[str, JSONValue] = {}
    for ifd, table in ((_IFD0, _MAIN_TAGS), (_EXIF_IFD, _EXIF_TAGS)):
        for key, number in table:
            tag = tags.get((ifd, number))
            value = None if tag is None else _value(tag)
            if value is not None:
                fields[key] = _plain(value)
    return {k: v for k, v in fields.items() if v not in (None, "", [])}


def _gps(tags: dict[tuple[str, int], Any]) -> dict[str, JSONValue]:
    """Latitude and longitude in decimal degrees, altitude in metres, the UTC fix time."""
    gps = {number: _value(tag) for (ifd, number), tag in tags.items()
           if ifd == _GPS_IFD and number in _GPS_TAGS}
    if not gps:
        return {}
    found: dict[str, JSONValue] = {}
    latitude = _degrees(gps.get(2), gps.get(1), "S")
    longitude = _degrees(gps.get(4), gps.get(3), "W")
    if latitude is not None and longitude is not None and abs(latitude) <= 90 and abs(
            longitude) <= 180:
        found["latitude"] = latitude
        found["longitude"] = longitude
    altitude = _number(gps.get(6))
    if altitude is not None:
        below = gps.get(5) in (1, b"\x01", "\x01")
        found["altitude_m"] = round(-altitude if below else altitude, 2)
    stamp = _gps_time(gps.get(29), gps.get(7))
    if stamp is not None:
        found["timestamp_utc"] = stamp
    for key, number in (("map_datum", 18), ("processing_method", 27)):
        if gps.get(number) is not None:
            found[key] = clean_text(gps[number], 100)
    return found


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _degrees(parts: Any, ref: Any, negative: str) -> float | None:
    if not isinstance(parts, tuple) or len(parts) != 3:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    degrees, minutes, seconds = (n for n in numbers if n is not None)
    value = degrees + minutes / 60 + seconds / 3600
    if clean_text(ref or "").upper().startswith(negative):
        value = -value
    return round(value, 7)


def _gps_time(date: Any, clock: Any) -> str | None:
    if not isinstance(clock, tuple) or len(clock) != 3:
        return None
    parts = [_number(p) for p in clock]
    match = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2})", clean_text(date or ""))
    if match is None or any(p is None for p in parts):
        return None
    hour, minute, second = (p for p in parts if p is not None)
    try:
        moment = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC) + timedelta(
            hours=hour, minutes=minute, seconds=second)
    except (ValueError, OverflowError):
        return None
    return moment.isoformat().replace("+00:00", "Z")
