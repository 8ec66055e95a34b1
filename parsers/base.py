"""The contract between the collector and a format parser."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Literal, Protocol

from parsers.records import ParsedItem

DateOrder = Literal["dmy", "mdy", "ymd"]

#: How many leading bytes detection may look at; detection must stay cheap.
PROBE_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Probe:
    """What detection gets: the start of the file, its name and libmagic's guess."""

    name: str
    head: bytes
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ParseOptions:
    date_order: DateOrder | None = None
    default_region: str = "GB"
    #: Generic CSV only: (our field, the file's column header) pairs given by the officer.
    column_map: tuple[tuple[str, str], ...] = ()


def _no_sibling(name: str, limit: int) -> bytes | None:
    return None


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A stored original handed to a parser.

    ``siblings`` maps the names of files delivered alongside this one (members
    of the same archive, files of the same folder) to their sha256, so a chat
    export can link ``IMG-...jpg (file attached)`` to the stored media.
    """

    name: str
    sha256: str
    size: int
    media_type: str
    open: Callable[[], BinaryIO]
    siblings: Mapping[str, str] = field(default_factory=dict)
    #: The file's modification time (aware, UTC) when it was ingested from disk;
    #: None for archive members, embedded files and uploads.
    modified: datetime | None = None
    #: The bytes of a file delivered alongside, found by name as ``siblings`` finds
    #: it, or None when it was not delivered or is larger than ``limit`` bytes. For
    #: small companion files that say who a conversation was with (Discord's
    #: channel.json); the parser still gets bytes, never the store.
    read_sibling: Callable[[str, int], bytes | None] = _no_sibling


class Parser(Protocol):
    name: str
    version: str
    #: Label reported as the exhibit's format, e.g. "whatsapp", "mbox".
    format: str

    def detect(self, probe: Probe) -> bool:
        """Cheap and pure: True only when this parser is sure the file is its format."""
        ...

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        """Stream records; raise only parsers.errors.ParserError subclasses on bad input."""
        ...
