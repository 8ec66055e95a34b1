"""Fixture helpers shared by the X, Snapchat, Discord and Google Chat parser tests."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from tests.parsers.support import FIXTURES

#: Folders whose fixtures are other formats' files, for detection negatives.
_OTHER_FORMATS = ("whatsapp", "email", "x", "snapchat", "discord", "google_chat")


def fixture(folder: str, name: str) -> bytes:
    return (FIXTURES / folder / name).read_bytes()


def negatives(own: Callable[[Path], bool]) -> list[Path]:
    """Every fixture in the chat and e-mail folders that ``own`` does not call its own."""
    return sorted(p for folder in _OTHER_FORMATS if (FIXTURES / folder).is_dir()
                  for p in (FIXTURES / folder).iterdir()
                  if p.is_file() and p.suffix != ".py" and not own(p))


def generator(folder: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"make_fixtures_{folder}", FIXTURES / folder / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CountingReader(io.BytesIO):
    """A stream that records how far it has been read, to show parsing streams."""

    def __init__(self, data: bytes, reads: list[int]) -> None:
        super().__init__(data)
        self._reads = reads

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self._reads.append(self.tell())
        return chunk


def counting_opener(data: bytes) -> tuple[Callable[[], io.BytesIO], list[int], list[io.BytesIO]]:
    reads: list[int] = []
    opened: list[io.BytesIO] = []

    def opener() -> io.BytesIO:
        handle = CountingReader(data, reads)
        opened.append(handle)
        return handle

    return opener, reads, opened


def json_values(keys: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Any JSON value, objects drawing their keys from ``keys`` (a format's own field
    names) as well as from arbitrary text, so fuzzing reaches the parsers' field logic."""
    scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
    names = st.sampled_from(keys) | st.text(max_size=8) if keys else st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(names, inner, max_size=5), max_leaves=25)
