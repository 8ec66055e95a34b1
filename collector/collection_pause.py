"""Fewer garbage collections while a file is parsed and loaded.

CPython starts a collection after every 700 new container objects. A parse makes
millions of short-lived tuples and records, and each collection also walks the
ingest's long-lived ORM objects: profiled on a million-message SMS backup, about
a tenth of the CPU went there. Records do not form reference cycles, so
collecting less often frees the same memory, slightly later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: New container objects between youngest-generation collections while parsing.
PARSING_THRESHOLD = 100_000


def collect_less_often(threshold: int = PARSING_THRESHOLD) -> tuple[int, int, int]:
    """For the rest of this process (one that only parses); returns the thresholds before."""
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    return before


@contextmanager
def fewer_collections(threshold: int = PARSING_THRESHOLD) -> Iterator[None]:
    before = collect_less_often(threshold)
    try:
        yield
    finally:
        gc.set_threshold(*before)
