"""The one explicit list of parsers. Order matters: the first that claims a file wins."""

from __future__ import annotations

from parsers import eml, mbox, whatsapp
from parsers.base import Parser, Probe

PARSERS: tuple[Parser, ...] = (
    whatsapp.PARSER,
    mbox.PARSER,
    eml.PARSER,
)


def find_parser(probe: Probe) -> Parser | None:
    for parser in PARSERS:
        if parser.detect(probe):
            return parser
    return None


def by_name(name: str) -> Parser:
    for parser in PARSERS:
        if parser.name == name:
            return parser
    raise KeyError(name)
