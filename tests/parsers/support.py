"""Helpers for parser tests: run a parser on bytes without any store."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path

from parsers.base import PROBE_SIZE, ParseOptions, Parser, Probe, SourceFile
from parsers.records import EmbeddedFile, EventRecord, FileNote, ParsedItem
from parsers.sniff import media_type

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def probe_of(data: bytes, name: str = "input") -> Probe:
    head = data[:PROBE_SIZE]
    return Probe(name=name, head=head, media_type=media_type(head), size=len(data))


def source_of(
    data: bytes, name: str = "input", siblings: Mapping[str, str] | None = None
) -> SourceFile:
    return SourceFile(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        media_type=media_type(data[:PROBE_SIZE]),
        open=lambda: io.BytesIO(data),
        siblings=siblings if siblings is not None else {},
    )


def parse_all(
    parser: Parser,
    data: bytes,
    name: str = "input",
    options: ParseOptions | None = None,
    siblings: Mapping[str, str] | None = None,
) -> list[ParsedItem]:
    return list(parser.parse(source_of(data, name, siblings), options or ParseOptions()))


def events(items: list[ParsedItem]) -> list[EventRecord]:
    return [i for i in items if isinstance(i, EventRecord)]


def embedded(items: list[ParsedItem]) -> list[EmbeddedFile]:
    return [i for i in items if isinstance(i, EmbeddedFile)]


def notes(items: list[ParsedItem]) -> list[FileNote]:
    return [i for i in items if isinstance(i, FileNote)]
