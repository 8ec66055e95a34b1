"""A minimal writer of Microsoft compound files (MS-CFB, version 3, 512-byte sectors).

Enough to build Outlook .msg fixtures for the tests: storages and streams,
streams under 4096 bytes in the mini stream, one FAT reached through the
header's DIFAT (files up to about 7 MB). Written from the specification, not
from the reader under test, so a reader that accepts these files accepts what
the specification says.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREE = 0xFFFFFFFF
END_OF_CHAIN = 0xFFFFFFFE
FAT_SECTOR = 0xFFFFFFFD
NO_STREAM = 0xFFFFFFFF
SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_HEADER_DIFAT = 109


@dataclass
class Storage:
    """A storage (folder) of a compound file; ``entries`` maps names to streams or storages."""

    entries: dict[str, bytes | Storage] = field(default_factory=dict)
    clsid: bytes = b"\0" * 16

    def storage(self, name: str) -> Storage:
        found = self.entries.setdefault(name, Storage())
        assert isinstance(found, Storage)
        return found


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    clsid: bytes = b"\0" * 16
    left: int = NO_STREAM
    right: int = NO_STREAM
    child: int = NO_STREAM
    start: int = END_OF_CHAIN
    size: int = 0


def _order(name: str) -> tuple[int, str]:
    # MS-CFB 2.6.4: shorter names first, then by upper-cased UTF-16 code units.
    return len(name.encode("utf-16-le")), name.upper()


def _flatten(root: Storage) -> list[_Entry]:
    entries = [_Entry("Root Entry", 5, clsid=root.clsid)]

    def add_children(parent: int, storage: Storage) -> None:
        indices: list[int] = []
        for name in sorted(storage.entries, key=_order):
            if len(name) > 31:
                raise ValueError(f"name longer than 31 characters: {name!r}")
            item = storage.entries[name]
            index = len(entries)
            if isinstance(item, Storage):
                entries.append(_Entry(name, 1, clsid=item.clsid))
                add_children(index, item)
            else:
                entries.append(_Entry(name, 2, data=item, size=len(item)))
            indices.append(index)
        entries[parent].child = _balanced(entries, indices)

    add_children(0, root)
    return entries


def _balanced(entries: list[_Entry], indices: list[int]) -> int:
    """The root of a balanced binary search tree over ``indices`` (already in order)."""
    if not indices:
        return NO_STREAM
    middle = len(indices) // 2
    node = entries[indices[middle]]
    node.left = _balanced(entries, indices[:middle])
    node.right = _balanced(entries, indices[middle + 1:])
    return indices[middle]


def _chain(first: int, count: int) -> list[int]:
    return [first + i + 1 if i + 1 < count else END_OF_CHAIN for i in range(count)]


def _sectors(size: int, unit: int) -> int:
    return (size + unit - 1) // unit


def write(root: Storage) -> bytes:
    """The bytes of a compound file holding ``root``'s tree."""
    entries = _flatten(root)

    # Small streams go to the mini stream, in 64-byte mini sectors.
    mini_stream = bytearray()
    mini_fat: list[int] = []
    for entry in entries:
        if entry.kind == 2 and 0 < entry.size < MINI_CUTOFF:
            count = _sectors(entry.size, MINI_SECTOR)
            entry.start = len(mini_fat)
            mini_fat.extend(_chain(len(mini_fat), count))
            mini_stream += entry.data.ljust(count * MINI_SECTOR, b"\0")

    directory_sectors = _sectors(len(entries) * 128, SECTOR)
    mini_fat_sectors = _sectors(len(mini_fat) * 4, SECTOR)
    mini_stream_sectors = _sectors(len(mini_stream), SECTOR)
    big = [e for e in entries if e.kind == 2 and e.size >= MINI_CUTOFF]
    data_sectors = (directory_sectors + mini_fat_sectors + mini_stream_sectors
                    + sum(_sectors(e.size, SECTOR) for e in big))
    fat_sectors = 1
    while fat_sectors * (SECTOR // 4) < data_sectors + fat_sectors:
        fat_sectors += 1
    if fat_sectors > _HEADER_DIFAT:
        raise ValueError("file too large for a header-only DIFAT")

    fat: list[int] = []
    body = bytearray()

    def place(data: bytes, count: int) -> int:
        first = len(fat)
        fat.extend(_chain(first, count))
        body.extend(data.ljust(count * SECTOR, b"\0"))
        return first if count else END_OF_CHAIN

    directory_start = len(fat)
    fat.extend(_chain(directory_start, directory_sectors))
    body.extend(b"\0" * directory_sectors * SECTOR)  # filled in below, once starts are known
    mini_fat_start = place(b"".join(struct.pack("<I", v) for v in mini_fat), mini_fat_sectors)
    entries[0].start = place(bytes(mini_stream), mini_stream_sectors)
    entries[0].size = len(mini_stream)
    for entry in big:
        entry.start = place(entry.data, _sectors(entry.size, SECTOR))
    fat_start = len(fat)
    fat.extend([FAT_SECTOR] * fat_sectors)
    fat.extend([FREE] * (fat_sectors * (SECTOR // 4) - len(fat)))
    body.extend(b"".join(struct.pack("<I", v) for v in fat))

    unused = directory_sectors * (SECTOR // 128) - len(entries)
    directory = b"".join(_directory_entry(e) for e in entries) + _unused_entry() * unused
    body[directory_start * SECTOR:(directory_start + directory_sectors) * SECTOR] = directory

    difat = [fat_start + i for i in range(fat_sectors)]
    difat += [FREE] * (_HEADER_DIFAT - len(difat))
    header = (
        SIGNATURE + b"\0" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, fat_sectors, directory_start, 0, MINI_CUTOFF,
                      mini_fat_start if mini_fat_sectors else END_OF_CHAIN, mini_fat_sectors,
                      END_OF_CHAIN, 0)
        + b"".join(struct.pack("<I", v) for v in difat)
    )
    assert len(header) == SECTOR
    return header + bytes(body)


def _directory_entry(entry: _Entry) -> bytes:
    name = entry.name.encode("utf-16-le") + b"\0\0"
    return (
        name.ljust(64, b"\0")
        + struct.pack("<HBBIII", len(name), entry.kind, 1, entry.left, entry.right, entry.child)
        + entry.clsid + struct.pack("<I", 0) + b"\0" * 16
        + struct.pack("<IQ", entry.start if entry.size or entry.kind == 5 else END_OF_CHAIN,
                      entry.size)
    )


def _unused_entry() -> bytes:
    return b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, NO_STREAM, NO_STREAM, NO_STREAM) + (
        b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", 0, 0))
