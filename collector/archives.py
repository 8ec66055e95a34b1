"""Reading ZIP archives without trusting them.

Members are never written to the file system by their names: each is streamed
into the content-addressed blob store, so `../` or absolute names cannot reach
outside the store. Sizes are counted as the bytes actually come out (headers can
lie), against a total budget and a compression-ratio ceiling; symbolic links are
recorded, never followed.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, BinaryIO


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_members: int = 20_000
    max_total_bytes: int = 16 * 1024**3
    max_member_bytes: int = 4 * 1024**3
    # Real media barely compresses and chat text ~10:1; a bomb is in the thousands.
    max_ratio: int = 200
    ratio_floor_bytes: int = 8 * 1024**2
    max_depth: int = 3


class ArchiveRefused(Exception):
    """The archive is readable but will not be expanded (limits); it stays stored whole."""


class ArchiveDamaged(Exception):
    """The archive cannot be read as a ZIP."""


@dataclass(frozen=True, slots=True)
class Member:
    info: zipfile.ZipInfo
    name: str
    unsafe_reasons: tuple[str, ...]

    @property
    def base_name(self) -> str:
        return PurePosixPath(self.name.replace("\\", "/")).name or self.name

    def byte_budget(self, limits: ArchiveLimits, remaining_total: int) -> int:
        by_ratio = max(self.info.compress_size * limits.max_ratio, limits.ratio_floor_bytes)
        return min(limits.max_member_bytes, remaining_total, by_ratio)


def is_zip(head: bytes) -> bool:
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def unsafe_reasons(name: str) -> tuple[str, ...]:
    reasons = []
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":"):
        reasons.append("absolute path")
    if ".." in normal.split("/"):
        reasons.append("parent-directory component")
    if "\x00" in name:
        reasons.append("NUL in name")
    return tuple(reasons)


def is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


@dataclass
class ZipReader:
    """Opened archive: members to extract, and what was skipped with the reason."""

    archive: zipfile.ZipFile
    stream: BinaryIO
    limits: ArchiveLimits
    skipped: list[str]

    @classmethod
    def open(cls, stream: BinaryIO, limits: ArchiveLimits) -> ZipReader:
        """Takes ownership of ``stream``: it is closed with the reader or on refusal."""
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            stream.close()
            raise ArchiveDamaged(f"not a readable ZIP archive ({exc})") from exc
        count = len(archive.infolist())
        if count > limits.max_members:
            archive.close()
            stream.close()
            raise ArchiveRefused(
                f"archive has {count} entries, more than the limit of {limits.max_members}; "
                "stored unexpanded"
            )
        return cls(archive=archive, stream=stream, limits=limits, skipped=[])

    def members(self) -> Iterator[Member]:
        for info in self.archive.infolist():
            if info.is_dir():
                continue
            if is_symlink(info):
                self.skipped.append(f"{info.filename}: symbolic link, not followed")
                continue
            if info.flag_bits & 0x1:
                self.skipped.append(f"{info.filename}: encrypted entry, cannot be read")
                continue
            yield Member(info=info, name=info.filename,
                         unsafe_reasons=unsafe_reasons(info.filename))

    def open_member(self, member: Member) -> IO[bytes]:
        return self.archive.open(member.info)

    def close(self) -> None:
        # ZipFile does not close a file object it was given.
        self.archive.close()
        self.stream.close()
