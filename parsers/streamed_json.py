"""Streaming reads of JSON exports, shared by the X, Snapchat, Discord and Google parsers.

Exports run to hundreds of megabytes, so a document is read as ijson events and
only the values a parser picks (one message, one conversation header) are built
in memory, each with the path where it sits so records can say where they came
from. ijson's C backend raises its own errors on broken input: they become
DamagedInput here, so no parser lets a JSON error escape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import ijson

from parsers.base import SourceFile
from parsers.errors import DamagedInput
from parsers.records import FileNote, Precision, WallClock

#: Where a value sits: object keys and array indexes from the root.
Path = tuple[str | int | None, ...]
#: Decides, from the live path of a value about to start, whether to build it.
#: The list is the walker's own and changes after the call: copy, never keep it.
Pick = Callable[[list[Any]], bool]

UTF8_BOM = b"\xef\xbb\xbf"
_CONTAINER_START = ("start_map", "start_array")
_CONTAINER_END = ("end_map", "end_array")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_head(head: bytes) -> bytes:
    """The probe head without a byte order mark and leading white space, for sniffing."""
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM):]
    return head.lstrip()


def json_path(path: Path) -> str:
    """``messages[12]``, ``[3].dmConversation.messages[40]``, ``["Sent Chat History"][2]``."""
    parts: list[str] = []
    for step in path:
        if step is None:  # an object whose first key is not read yet
            continue
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _IDENTIFIER.match(step):
            parts.append(f".{step}" if parts else step)
        else:
            parts.append("[" + _quoted(step) + "]")
    return "".join(parts)


def _quoted(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Rest:
    """A binary stream that first returns bytes already read from it, then the rest."""

    def __init__(self, stream: BinaryIO, pending: bytes) -> None:
        self._stream = stream
        self._pending = pending

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            return self._stream.read(size)
        if size == 0:
            return b""
        if size < 0 or size > len(self._pending):
            data, self._pending = self._pending, b""
            return data + self._stream.read(size - len(data) if size > 0 else -1)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


@contextmanager
def opened(source: SourceFile, skip: int = 0) -> Iterator[Rest]:
    """The source's bytes after a byte order mark and then ``skip`` bytes, closed afterwards."""
    try:
        with source.open() as stream:
            first = stream.read(len(UTF8_BOM))
            rest = Rest(stream, b"" if first == UTF8_BOM else first)
            while skip > 0:
                dropped = len(rest.read(skip))
                if not dropped:
                    break
                skip -= dropped
            yield rest
    except OSError as exc:
        raise DamagedInput(f"{source.name}: unreadable ({exc})") from exc


class JsonStream:
    """One pass over a JSON document, yielding the picked values with their paths."""

    def __init__(self, stream: Rest, name: str) -> None:
        self._stream = stream
        self._name = name
        #: The root value's first event ("start_array", "start_map", "string", ...).
        self.root: str | None = None
        #: True when bytes other than white space follow the root value.
        self.trailing = False
        self.picked = 0

    def values(self, pick: Pick) -> Iterator[tuple[Path, Any]]:
        events = ijson.basic_parse(self._stream, use_float=True)
        path: list[Any] = []
        try:
            for event, value in events:
                if event == "map_key":
                    path[-1] = value
                    continue
                if event in _CONTAINER_END:
                    path.pop()
                    if not path:
                        break
                    continue
                if path and type(path[-1]) is int:
                    path[-1] += 1
                if self.root is None:
                    self.root = event
                if pick(path):
                    here = tuple(path)
                    built = _build(event, value, events) if event in _CONTAINER_START else value
                    self.picked += 1
                    yield here, built
                    if not path:
                        break
                elif event == "start_map":
                    path.append(None)
                elif event == "start_array":
                    path.append(-1)
                elif not path:
                    break
            else:
                return
            self._after_root(events)
        except (ijson.JSONError, ValueError, OSError) as exc:
            where = f" at {json_path(tuple(path))}" if path else ""
            raise DamagedInput(
                f"{self._name}: JSON unreadable{where} after {self.picked} items read: "
                f"{_first_line(exc)}") from exc

    def _after_root(self, events: Iterator[tuple[str, Any]]) -> None:
        try:
            next(events)
        except StopIteration:
            return
        except ijson.JSONError:
            pass
        self.trailing = True


def _build(event: str, value: Any, events: Iterator[tuple[str, Any]]) -> Any:
    """The container starting with ``event``, built from the events up to its end.

    A hand-written loop rather than ijson's ObjectBuilder: building messages is
    most of the parsing time and method calls per event double it.
    """
    root: Any = {} if event == "start_map" else []
    current: Any = root
    parents: list[Any] = []
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
            continue
        if event == "end_map" or event == "end_array":
            if not parents:
                return root
            current = parents.pop()
            continue
        if event == "start_map":
            value = {}
        elif event == "start_array":
            value = []
        if type(current) is list:
            current.append(value)
        else:
            current[key] = value
        if event == "start_map" or event == "start_array":
            parents.append(current)
            current = value
    return root


def _first_line(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


# -- values --------------------------------------------------------------------------


def text_of(value: Any) -> str | None:
    """An identifier as text: exports write ids as strings or as numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


_DIGITS = re.compile(r"[0-9]+\Z")


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() rejects."""
    return _DIGITS.match(text) is not None


def compact(value: Any) -> str:
    """A value kept in ``extra`` as compact JSON text, characters unescaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- times ---------------------------------------------------------------------------

_ISO_INSTANT = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?P<fraction>\.\d+)?(?:Z|[+-]\d\d:?\d\d)\Z")


def iso_instant(text: str) -> WallClock | None:
    """An ISO 8601 time that states its zone (``2020-01-20T21:42:09.068Z``, ``...+00:00``)."""
    match = _ISO_INSTANT.match(text)
    if match is None:
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    precision: Precision = "subsecond" if match.group("fraction") else "second"
    return WallClock(text=text, instant=stamp.astimezone(UTC), precision=precision)


#: Epochs before 2000 or after 2100 in a chat export are damage, not history.
_EPOCH_SECONDS = (946_684_800, 4_102_444_800)


def epoch_clock(value: Any, per_second: int, flags: tuple[str, ...] = ()) -> WallClock | None:
    """A time given as an integer count since 1970 (``per_second`` units a second)."""
    text = text_of(value)
    if text is None or not is_digits(text):
        return None
    count = int(text)
    seconds, fraction = divmod(count, per_second)
    if not _EPOCH_SECONDS[0] <= seconds < _EPOCH_SECONDS[1]:
        return None
    stamp = datetime.fromtimestamp(seconds, UTC).replace(
        microsecond=fraction * 1_000_000 // per_second)
    precision: Precision = "subsecond" if per_second > 1 else "second"
    return WallClock(text=text, instant=stamp, precision=precision, flags=flags)


def snowflake_clock(message_id: str | None, epoch_ms: int) -> WallClock | None:
    """The creation time inside a snowflake id (X, Discord): ms since ``epoch_ms``, << 22.

    Used when a record's own time is missing or unreadable; the clock's text is
    the id itself and a flag says where the time came from.
    """
    if message_id is None or not is_digits(message_id) or len(message_id) > 20:
        return None
    since_epoch = int(message_id) >> 22
    if since_epoch == 0:  # no time bits: not a real snowflake
        return None
    clock = epoch_clock(str(since_epoch + epoch_ms), 1000, flags=("time_from_message_id",))
    if clock is None:
        return None
    clock.text = message_id
    return clock


# -- reporting -----------------------------------------------------------------------


@dataclass
class Tally:
    """Items passed over for one reason, reported once per file rather than per item."""

    code: str
    what: str
    count: int = 0
    where: list[str] = field(default_factory=list)
    shown: int = 5

    def add(self, where: str) -> None:
        self.count += 1
        if len(self.where) < self.shown:
            self.where.append(where)

    def note(self) -> FileNote | None:
        if not self.count:
            return None
        places = ", ".join(self.where) + (", ..." if self.count > len(self.where) else "")
        return FileNote(self.code, f"{self.what}: {self.count} (at {places}); they are kept "
                                   "in the stored original only.")
