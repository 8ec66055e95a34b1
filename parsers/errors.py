"""The parser failure kinds.

"Not my format" is not an error: detection simply says no. A parser that has
claimed a file and then finds it broken raises DamagedInput; records already
yielded are kept. Per-record problems never raise: they go on the record.
"""


class ParserError(Exception):
    """Base for every error a parser may raise on bad input."""


class DamagedInput(ParserError):
    """The file is of this parser's format but cannot be read (further)."""
