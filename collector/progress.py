"""How long work reports progress; the collector knows no terminal."""

from __future__ import annotations

import io
from typing import Any, BinaryIO, Protocol


class Progress(Protocol):
    def begin(self, label: str, total: int | None) -> None: ...
    def advance(self, amount: int) -> None: ...
    def end(self) -> None: ...


class NoProgress:
    def begin(self, label: str, total: int | None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def end(self) -> None:
        pass


class _CountingRaw(io.RawIOBase):
    def __init__(self, raw: BinaryIO, progress: Progress) -> None:
        self._raw = raw
        self._progress = progress

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._progress.advance(len(data))
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()
        super().close()


def counting_reader(raw: BinaryIO, progress: Progress) -> BinaryIO:
    """Wrap a file so that reading it reports bytes read: parsing then shows progress."""
    return io.BufferedReader(_CountingRaw(raw, progress), buffer_size=1024 * 1024)
