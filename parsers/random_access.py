"""A stored original opened for scattered reads (compound files, PST stores).

The collector hands parsers a buffered stream with a large buffer, which suits
reading front to back; a reader that seeks between small reads would make it
refill the whole buffer every time. OLE and PST readers seek constantly and
cache what they need themselves, so they get the unbuffered stream beneath.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO


class RandomAccess(io.RawIOBase):
    """The raw stream under ``stream`` when there is one; closing it leaves ``stream`` open."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        raw = getattr(stream, "raw", None)
        self._stream: Any = raw if isinstance(raw, io.RawIOBase) else stream
        self._stream.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        if not data:
            return 0
        buffer[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        # Raw reads may come back short; the readers expect all they asked for.
        if size is None or size < 0:
            return bytes(self._stream.read())
        chunks: list[bytes] = []
        while size > 0:
            data = self._stream.read(size)
            if not data:
                break
            chunks.append(bytes(data))
            size -= len(data)
        return b"".join(chunks)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._stream.seek(offset, whence))

    def tell(self) -> int:
        return int(self._stream.tell())

    def get_size(self) -> int:
        """For pypff, which asks for the size rather than seeking to the end."""
        here = self._stream.tell()
        size = int(self._stream.seek(0, io.SEEK_END))
        self._stream.seek(here)
        return size
