"""Content-addressed, write-once storage of originals.

Blobs are streamed in (never whole in memory), hashed as they are written,
fsynced and renamed into place, then made read-only. The name is the SHA-256,
so the same bytes are stored once however often they are received.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

CHUNK = 1024 * 1024
HEAD_SIZE = 64 * 1024


class BlobSizeExceeded(Exception):
    """The stream was longer than the caller allowed; nothing was stored."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    size: int
    head: bytes
    already_present: bool


class BlobStore:
    """With ``defer_sync``, new blobs are made durable by one ``sync()`` call (one
    file-system sync for a whole transaction) instead of two fsyncs each; the
    store calls it before committing any row that refers to them."""

    def __init__(self, root: Path, defer_sync: bool = False) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self.defer_sync = defer_sync
        self._unsynced = False
        # Directories known to exist: a mkdir per blob costs more than writing a
        # small one (an SMS backup holds thousands of MMS images).
        self._made: set[Path] = set()

    def sync(self) -> None:
        if self._unsynced:
            os.sync()
            self._unsynced = False

    def ensure(self) -> None:
        self._directory(self._tmp)

    def _directory(self, path: Path) -> None:
        if path not in self._made:
            path.mkdir(parents=True, exist_ok=True)
            self._made.add(path)

    def written_elsewhere(self, blob: StoredBlob) -> None:
        """A blob another process wrote into this store with the same ``defer_sync``
        (collector.offload): made durable by this store's next ``sync()``."""
        if self.defer_sync and not blob.already_present:
            self._unsynced = True

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def put_stream(
        self,
        stream: IO[bytes],
        limit: int | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> StoredBlob:
        """Store a stream; with ``limit``, refuse (and keep nothing) past that many bytes."""
        self.ensure()
        digest = hashlib.sha256()
        size = 0
        head = bytearray()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BlobSizeExceeded(f"more than {limit} bytes")
                    digest.update(chunk)
                    if len(head) < HEAD_SIZE:
                        head += chunk[: HEAD_SIZE - len(head)]
                    out.write(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                out.flush()
                if not self.defer_sync:
                    os.fsync(out.fileno())
            return self._commit(tmp_name, digest.hexdigest(), size, bytes(head))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)

    def writer(self, limit: int | None = None) -> BlobWriter:
        """For bytes pushed in pieces (an HTTP upload) rather than pulled from a stream."""
        self.ensure()
        return BlobWriter(self, limit)

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Bytes already in memory (an attachment): hashed here, once, written in one call."""
        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha):
            return StoredBlob(sha, len(data), data[:HEAD_SIZE], already_present=True)
        self.ensure()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                if not self.defer_sync:
                    os.fsync(out.fileno())
            return self._commit(tmp_name, sha, len(data), data[:HEAD_SIZE])
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)

    def _commit(self, tmp_name: str, sha: str, size: int, head: bytes) -> StoredBlob:
        target = self.path(sha)
        if target.is_file():
            return StoredBlob(sha, size, head, already_present=True)
        self._directory(target.parent)
        os.chmod(tmp_name, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        try:
            # link() fails if another writer won the race, so a blob is never replaced.
            os.link(tmp_name, target)
        except FileExistsError:
            return StoredBlob(sha, size, head, already_present=True)
        if self.defer_sync:
            self._unsynced = True
        else:
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return StoredBlob(sha, size, head, already_present=False)

    def rehash(self, sha256: str) -> str | None:
        """The SHA-256 of the stored file now, or None when it is missing."""
        path = self.path(sha256)
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


class BlobWriter:
    """A blob written piece by piece: hashed as it goes, committed like put_stream.

    ``abort()`` (or a failed ``write``) keeps nothing; call it whenever the upload
    does not finish.
    """

    def __init__(self, store: BlobStore, limit: int | None) -> None:
        self._store = store
        self._limit = limit
        self._digest = hashlib.sha256()
        self._head = bytearray()
        self.size = 0
        fd, self._tmp_name = tempfile.mkstemp(dir=store._tmp, prefix="incoming-")
        self._out: IO[bytes] | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        if self._out is None:
            raise ValueError("blob writer already finished")
        self.size += len(data)
        if self._limit is not None and self.size > self._limit:
            self.abort()
            raise BlobSizeExceeded(f"more than {self._limit} bytes")
        self._digest.update(data)
        if len(self._head) < HEAD_SIZE:
            self._head += data[: HEAD_SIZE - len(self._head)]
        self._out.write(data)

    def commit(self) -> StoredBlob:
        if self._out is None:
            raise ValueError("blob writer already finished")
        out, self._out = self._out, None
        try:
            with out:
                out.flush()
                if not self._store.defer_sync:
                    os.fsync(out.fileno())
            return self._store._commit(self._tmp_name, self._digest.hexdigest(), self.size,
                                       bytes(self._head))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp_name)

    def abort(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp_name)
