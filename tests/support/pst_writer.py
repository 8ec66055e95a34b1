"""A minimal writer of Unicode Outlook PST files (MS-PST), for tests.

No PST writer exists on PyPI, and no redistributable sample .pst ships in any
package we could use, so the tests build their own: a store with a root folder,
nested folders and messages (subject, sender, recipients, bodies, transport
headers, times, attachments). Written from the specification:

* NDB layer: the file header with its CRCs, one AMap and PMap page, data blocks
  (with trailers, signatures and CRCs), data trees (XBLOCK) for data over one
  block, subnode blocks (SLBLOCK), and the two B-trees of pages: node BTree
  (NBT) and block BTree (BBT), with intermediate levels when a leaf fills.
* LTP layer: heap-on-node (HN) in a single block, BTree-on-heap (BTH), property
  contexts (PC) and table contexts (TC); values over 3580 bytes go to subnodes.
* Messaging layer: folders with hierarchy, contents and associated contents
  tables; messages with recipient and attachment tables and attachment objects.

Blocks are not encoded (bCryptMethod NDB_CRYPT_NONE).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

# NDB sizes (Unicode).
PAGE = 512
BLOCK_ALIGN = 64
MAX_BLOCK_DATA = 8192 - 16
FIRST_AMAP = 0x4400
FIRST_PMAP = 0x4600
FIRST_DATA = 0x4800
AMAP_COVERAGE = 496 * 8 * 64
# Page types.
PTYPE_BBT, PTYPE_NBT, PTYPE_AMAP, PTYPE_PMAP = 0x80, 0x81, 0x84, 0x83
# NID types.
NID_TYPE_HID, NID_TYPE_INTERNAL, NID_TYPE_NORMAL_FOLDER = 0x00, 0x01, 0x02
NID_TYPE_NORMAL_MESSAGE, NID_TYPE_ATTACHMENT = 0x04, 0x05
NID_TYPE_HIERARCHY_TABLE, NID_TYPE_CONTENTS_TABLE, NID_TYPE_ASSOC_CONTENTS_TABLE = 0x0D, 0x0E, 0x0F
NID_TYPE_LTP = 0x1F
NID_MESSAGE_STORE = 0x21
NID_ROOT_FOLDER = 0x122
NID_ATTACHMENT_TABLE = 0x671
NID_RECIPIENT_TABLE = 0x692
# Property types.
PT_I2, PT_LONG, PT_BOOLEAN, PT_I8, PT_SYSTIME = 0x0002, 0x0003, 0x000B, 0x0014, 0x0040
PT_UNICODE, PT_BINARY, PT_OBJECT = 0x001F, 0x0102, 0x000D
#: Largest value kept in a heap; larger ones go to a subnode (MS-PST 2.3.3.2).
MAX_HEAP_VALUE = 3580
_FIXED_SIZES = {PT_I2: 2, PT_LONG: 4, PT_BOOLEAN: 1, PT_I8: 8, PT_SYSTIME: 8}
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def crc32(data: bytes) -> int:
    """MS-PST's CRC: the CRC-32 table, started at 0 and not inverted at the end."""
    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def signature(ib: int, bid: int) -> int:
    ib ^= bid
    return ((ib >> 16) ^ ib) & 0xFFFF


def filetime(moment: datetime) -> int:
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def tag(property_id: int, property_type: int) -> int:
    return (property_id << 16) | property_type


# -- what the tests describe ------------------------------------------------------------


@dataclass
class Recipient:
    name: str
    address: str
    kind: int = 1  # MAPI_TO; 2 MAPI_CC, 3 MAPI_BCC


@dataclass
class Attachment:
    name: str
    data: bytes = b""
    mime: str | None = None
    content_id: str | None = None
    hidden: bool = False
    #: An attached message (ATTACH_EMBEDDED_MSG) instead of data.
    embedded: Message | None = None


@dataclass
class Message:
    subject: str | None = None
    sender_name: str | None = None
    sender_address: str | None = None
    body: str | None = None
    html: bytes | None = None
    transport_headers: str | None = None
    internet_message_id: str | None = None
    submit_time: datetime | None = None
    delivery_time: datetime | None = None
    modified_time: datetime | None = None
    message_class: str = "IPM.Note"
    flags: int = 1
    conversation_index: bytes | None = None
    conversation_topic: str | None = None
    recipients: list[Recipient] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    #: Further properties: tag -> value (str, bytes, int, bool or datetime).
    properties: dict[int, object] = field(default_factory=dict)


@dataclass
class Folder:
    name: str
    messages: list[Message] = field(default_factory=list)
    folders: list[Folder] = field(default_factory=list)


# -- LTP: heaps, BTHs, property and table contexts ----------------------------------------


@dataclass
class _Node:
    """A node's data and its subnodes (nid -> node)."""

    data: bytes
    subnodes: dict[int, _Node] = field(default_factory=dict)


class _Heap:
    """A heap-on-node in one block: allocations addressed by HID."""

    def __init__(self, client_signature: int) -> None:
        self.client_signature = client_signature
        self.allocations: list[bytes] = []
        self.user_root = 0

    def allocate(self, data: bytes) -> int:
        self.allocations.append(data)
        return len(self.allocations) << 5  # hidIndex n, hidBlockIndex 0, type HID

    def replace(self, hid: int, data: bytes) -> None:
        self.allocations[(hid >> 5) - 1] = data

    def size(self) -> int:
        return 12 + sum(len(a) for a in self.allocations) + 4 + 2 * (len(self.allocations) + 1)

    def serialise(self) -> bytes:
        body = bytearray(b"\0" * 12)
        offsets = [len(body)]
        for allocation in self.allocations:
            body += allocation
            offsets.append(len(body))
        if len(body) % 2:
            body += b"\0"
        page_map_at = len(body)
        body += struct.pack("<HH", len(self.allocations), 0)
        body += b"".join(struct.pack("<H", o) for o in offsets)
        struct.pack_into("<HBBII", body, 0, page_map_at, 0xEC, self.client_signature,
                         self.user_root, 0)
        if len(body) > MAX_BLOCK_DATA:
            raise ValueError(f"heap of {len(body)} bytes needs more than one block")
        return bytes(body)


def _bth(heap: _Heap, key_size: int, entry_size: int, records: list[tuple[bytes, bytes]]) -> int:
    """A one-level BTH over ``records`` (key, entry); returns its header's HID."""
    root = 0
    if records:
        root = heap.allocate(b"".join(k + e for k, e in sorted(records, key=_numeric_key)))
    return heap.allocate(struct.pack("<BBBBI", 0xB5, key_size, entry_size, 0, root))


def _numeric_key(record: tuple[bytes, bytes]) -> int:
    # BTH keys are little-endian integers and are ordered as numbers, not as bytes.
    return int.from_bytes(record[0], "little")


def _value_bytes(property_type: int, value: object) -> bytes:
    if property_type == PT_UNICODE:
        assert isinstance(value, str)
        return value.encode("utf-16-le")
    if property_type == PT_BINARY:
        assert isinstance(value, bytes)
        return value
    if property_type == PT_SYSTIME:
        assert isinstance(value, datetime)
        return struct.pack("<Q", filetime(value))
    if property_type == PT_I8:
        assert isinstance(value, int)
        return struct.pack("<Q", value)
    if property_type == PT_LONG:
        assert isinstance(value, int)
        return struct.pack("<I", value & 0xFFFFFFFF)
    if property_type == PT_I2:
        assert isinstance(value, int)
        return struct.pack("<H", value)
    if property_type == PT_BOOLEAN:
        return b"\x01" if value else b"\x00"
    raise ValueError(f"property type {property_type:#06x} not supported")


class _Subnodes:
    def __init__(self) -> None:
        self.nodes: dict[int, _Node] = {}
        self._next = 0x100

    def add(self, node: _Node, nid_type: int = NID_TYPE_LTP, nid: int | None = None) -> int:
        if nid is None:
            nid = (self._next << 5) | nid_type
            self._next += 1
        self.nodes[nid] = node
        return nid


def _stored(heap: _Heap, subnodes: _Subnodes, data: bytes) -> int:
    """The HNID of a variable-size value: in the heap, or in a subnode when large."""
    if len(data) > MAX_HEAP_VALUE or heap.size() + len(data) + 2 > MAX_BLOCK_DATA - 64:
        return subnodes.add(_Node(data))
    return heap.allocate(data)


def property_context(properties: dict[int, object],
                     subnodes: _Subnodes | None = None) -> _Node:
    subnodes = subnodes or _Subnodes()
    heap = _Heap(0xBC)
    header = heap.allocate(b"")  # the BTH header comes first: the user root
    heap.user_root = header
    records: list[tuple[bytes, bytes]] = []
    for property_tag in sorted(properties):
        property_id, property_type = property_tag >> 16, property_tag & 0xFFFF
        if property_type == PT_OBJECT:
            # An attached message: its node is a subnode; the heap holds its NID and size.
            node = properties[property_tag]
            assert isinstance(node, _Node)
            nid = subnodes.add(node, NID_TYPE_NORMAL_MESSAGE)
            value = struct.pack("<I", heap.allocate(struct.pack("<II", nid, len(node.data))))
            records.append((struct.pack("<H", property_id),
                            struct.pack("<H", property_type) + value))
            continue
        data = _value_bytes(property_type, properties[property_tag])
        if property_type in (PT_LONG, PT_I2, PT_BOOLEAN):
            value = data.ljust(4, b"\0")
        else:
            value = struct.pack("<I", _stored(heap, subnodes, data))
        records.append((struct.pack("<H", property_id), struct.pack("<H", property_type) + value))
    root = heap.allocate(b"".join(k + e for k, e in sorted(records, key=_numeric_key))) \
        if records else 0
    heap.replace(header, struct.pack("<BBBBI", 0xB5, 2, 6, 0, root))
    return _Node(heap.serialise(), subnodes.nodes)


def table_context(columns: list[int], rows: list[dict[int, object]]) -> _Node:
    """A TC whose first columns are PidTagLtpRowId and PidTagLtpRowVer, as MS-PST requires."""
    row_id, row_version = tag(0x67F2, PT_LONG), tag(0x67F3, PT_LONG)
    others = [c for c in columns if c not in (row_id, row_version)]

    def cell_size(column: int) -> int:
        return _FIXED_SIZES.get(column & 0xFFFF, 4)  # variable-size: a 4-byte HNID

    layout: list[tuple[int, int, int]] = [(row_id, 0, 4), (row_version, 4, 4)]
    offset = 8
    ends = []
    for sizes in ((8, 4), (2,), (1,)):
        for column in others:
            if cell_size(column) in sizes:
                layout.append((column, offset, cell_size(column)))
                offset += cell_size(column)
        ends.append(offset)
    all_columns = [c for c, _, _ in layout]
    bitmap = (len(all_columns) + 7) // 8
    row_size = offset + bitmap
    bits = {column: index for index, column in enumerate(all_columns)}

    subnodes = _Subnodes()
    heap = _Heap(0x7C)
    info = heap.allocate(b"")
    heap.user_root = info
    matrix = bytearray()
    for row in rows:
        cells = bytearray(row_size)
        for column, at, size in layout:
            if column not in row:
                continue
            value = row[column]
            property_type = column & 0xFFFF
            if property_type in _FIXED_SIZES:
                cells[at:at + size] = _value_bytes(property_type, value)
            else:
                hnid = _stored(heap, subnodes, _value_bytes(property_type, value))
                cells[at:at + 4] = struct.pack("<I", hnid)
            index = bits[column]
            cells[offset + index // 8] |= 0x80 >> (index % 8)
        assert row_id in row, "every row needs its PidTagLtpRowId"
        matrix += cells
    row_index = _bth(heap, 4, 4, [(struct.pack("<I", cast(int, row[row_id])), struct.pack("<I", n))
                                  for n, row in enumerate(rows)])
    rows_hid = heap.allocate(bytes(matrix)) if rows else 0
    descriptors = b"".join(
        struct.pack("<IHBB", column, at, size, bits[column])
        for column, at, size in sorted(layout))
    heap.replace(info, struct.pack("<BB4HIII", 0x7C, len(layout), ends[0], ends[1], ends[2],
                                   row_size, row_index, rows_hid, 0) + descriptors)
    return _Node(heap.serialise(), subnodes.nodes)


# -- NDB: blocks, pages, B-trees, header -----------------------------------------------------


class PstFile:
    """Blocks and nodes, laid out into a file by ``serialise()``."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, bytes]] = []  # (bid, data)
        self.nodes: list[tuple[int, int, int, int]] = []  # (nid, bid data, bid sub, parent)
        self._next_bid = 4
        self._next_page_bid = 4

    def _bid(self, internal: bool) -> int:
        bid = self._next_bid | (2 if internal else 0)
        self._next_bid += 4
        return bid

    def block(self, data: bytes, *, internal: bool = False) -> int:
        bid = self._bid(internal)
        self.blocks.append((bid, data))
        return bid

    def data_tree(self, data: bytes) -> int:
        """One block, or an XBLOCK over as many as ``data`` needs."""
        if len(data) <= MAX_BLOCK_DATA:
            return self.block(data)
        bids = [self.block(data[i:i + MAX_BLOCK_DATA])
                for i in range(0, len(data), MAX_BLOCK_DATA)]
        if len(bids) > (MAX_BLOCK_DATA - 8) // 8:
            raise ValueError("data too large for a one-level data tree")
        return self.block(struct.pack("<BBHI", 0x01, 0x01, len(bids), len(data))
                          + b"".join(struct.pack("<Q", b) for b in bids), internal=True)

    def store(self, node: _Node) -> tuple[int, int]:
        """(bid of the data, bid of the subnode block or 0)."""
        data_bid = self.data_tree(node.data)
        if not node.subnodes:
            return data_bid, 0
        entries = []
        for nid in sorted(node.subnodes):
            child_data, child_sub = self.store(node.subnodes[nid])
            entries.append(struct.pack("<QQQ", nid, child_data, child_sub))
        if len(entries) > (MAX_BLOCK_DATA - 8) // 24:
            raise ValueError("too many subnodes for one SLBLOCK")
        sub = self.block(struct.pack("<BBHI", 0x02, 0x00, len(entries), 0) + b"".join(entries),
                         internal=True)
        return data_bid, sub

    def node(self, nid: int, node: _Node, parent: int) -> None:
        data_bid, sub_bid = self.store(node)
        self.nodes.append((nid, data_bid, sub_bid, parent))

    def serialise(self) -> bytes:
        out = bytearray(FIRST_DATA)
        allocated: list[tuple[int, int]] = [(FIRST_AMAP, PAGE), (FIRST_PMAP, PAGE)]
        bbt_entries: list[tuple[int, int, int]] = []  # (bid, ib, cb)
        for bid, data in self.blocks:
            ib = len(out)
            size = -(-(len(data) + 16) // BLOCK_ALIGN) * BLOCK_ALIGN
            block = bytearray(size)
            block[:len(data)] = data
            struct.pack_into("<HHIQ", block, size - 16, len(data), signature(ib, bid),
                             crc32(data), bid)
            out += block
            allocated.append((ib, size))
            bbt_entries.append((bid, ib, len(data)))
        out += b"\0" * (-len(out) % PAGE)
        nbt_root = self._btree(out, allocated, PTYPE_NBT, sorted(
            (nid, struct.pack("<QQQII", nid, data, sub, parent, 0))
            for nid, data, sub, parent in self.nodes))
        bbt_root = self._btree(out, allocated, PTYPE_BBT, sorted(
            (bid, struct.pack("<QQHHI", bid, ib, cb, 2, 0)) for bid, ib, cb in bbt_entries))
        out[FIRST_AMAP:FIRST_AMAP + PAGE] = self._amap(allocated)
        out[FIRST_PMAP:FIRST_PMAP + PAGE] = _page(b"\xff" * 496, PTYPE_PMAP, 0, 0, FIRST_PMAP)
        free = AMAP_COVERAGE - sum(size for _, size in allocated)
        out[:564] = self._header(len(out), nbt_root, bbt_root, free)
        return bytes(out)

    def _btree(self, out: bytearray, allocated: list[tuple[int, int]], page_type: int,
               entries: list[tuple[int, bytes]]) -> tuple[int, int]:
        """Pages for a B-tree over (key, leaf entry); returns the root's (bid, ib)."""
        entry_size = 32 if page_type == PTYPE_NBT else 24
        level = 0
        current = entries
        while True:
            per_page = 488 // entry_size
            groups = [current[i:i + per_page] for i in range(0, len(current), per_page)] or [[]]
            parents: list[tuple[int, bytes]] = []
            for group in groups:
                bid = self._next_page_bid
                self._next_page_bid += 4
                ib = len(out)
                body = b"".join(entry for _key, entry in group).ljust(488, b"\0")
                body += struct.pack("<BBBBI", len(group), 488 // entry_size, entry_size, level, 0)
                out += _page(body, page_type, signature(ib, bid), bid, ib)
                allocated.append((ib, PAGE))
                first_key = group[0][0] if group else 0
                parents.append((first_key, struct.pack("<QQQ", first_key, bid, ib)))
            if len(parents) == 1:
                return struct.unpack_from("<QQ", parents[0][1], 8)
            current, entry_size, level = parents, 24, level + 1

    def _amap(self, allocated: list[tuple[int, int]]) -> bytes:
        bitmap = bytearray(496)
        for ib, size in allocated:
            for unit in range((ib - FIRST_AMAP) // 64, (ib - FIRST_AMAP + size) // 64):
                if unit < 496 * 8:
                    bitmap[unit // 8] |= 0x80 >> (unit % 8)
        return _page(bytes(bitmap), PTYPE_AMAP, 0, 0, FIRST_AMAP)

    def _header(self, size: int, nbt: tuple[int, int], bbt: tuple[int, int], free: int) -> bytes:
        header = bytearray(564)
        header[0:4] = b"!BDN"
        struct.pack_into("<2sHHBB", header, 8, b"SM", 23, 19, 1, 1)
        struct.pack_into("<QQI", header, 24, 0, self._next_page_bid, 0)
        for nid_type in range(32):
            struct.pack_into("<I", header, 44 + 4 * nid_type, (0x4000 << 5) | nid_type)
        struct.pack_into("<IQQQQQQQQBBH", header, 180, 0, size, FIRST_AMAP, max(free, 0), 0,
                         nbt[0], nbt[1], bbt[0], bbt[1], 0x02, 0, 0)
        header[256:512] = b"\xff" * 256
        struct.pack_into("<BBHQ", header, 512, 0x80, 0, 0, self._next_bid)
        struct.pack_into("<I", header, 4, crc32(bytes(header[8:8 + 471])))
        struct.pack_into("<I", header, 524, crc32(bytes(header[8:8 + 516])))
        return bytes(header)


def _page(body: bytes, page_type: int, sig: int, bid: int, ib: int) -> bytes:
    assert len(body) == 496
    return body + struct.pack("<BBHIQ", page_type, page_type, sig, crc32(body), bid)


# -- messaging layer -----------------------------------------------------------------------


_HIERARCHY_COLUMNS = [tag(0x3001, PT_UNICODE), tag(0x3602, PT_LONG), tag(0x3603, PT_LONG),
                      tag(0x360A, PT_BOOLEAN)]
_CONTENTS_COLUMNS = [tag(0x001A, PT_UNICODE), tag(0x0037, PT_UNICODE), tag(0x0E06, PT_SYSTIME),
                     tag(0x0E07, PT_LONG)]
_RECIPIENT_COLUMNS = [tag(0x0C15, PT_LONG), tag(0x0FFE, PT_LONG), tag(0x3001, PT_UNICODE),
                      tag(0x3002, PT_UNICODE), tag(0x3003, PT_UNICODE), tag(0x39FE, PT_UNICODE)]
_ATTACHMENT_COLUMNS = [tag(0x0E20, PT_LONG), tag(0x3704, PT_UNICODE), tag(0x3705, PT_LONG),
                       tag(0x3707, PT_UNICODE), tag(0x370B, PT_LONG)]


class _Builder:
    def __init__(self) -> None:
        self.file = PstFile()
        self._next_index = 0x400

    def nid(self, nid_type: int) -> int:
        nid = (self._next_index << 5) | nid_type
        self._next_index += 1
        return nid

    def folder(self, folder: Folder, nid: int, parent: int,
               child_nids: list[int] | None = None) -> None:
        self.file.node(nid, property_context({
            tag(0x3001, PT_UNICODE): folder.name,
            tag(0x3602, PT_LONG): len(folder.messages),
            tag(0x3603, PT_LONG): 0,
            tag(0x360A, PT_BOOLEAN): bool(folder.folders),
        }), parent)
        sub_rows = []
        for number, child in enumerate(folder.folders):
            child_nid = (child_nids[number] if child_nids and number < len(child_nids)
                         else self.nid(NID_TYPE_NORMAL_FOLDER))
            self.folder(child, child_nid, nid)
            sub_rows.append({
                tag(0x67F2, PT_LONG): child_nid, tag(0x67F3, PT_LONG): 1,
                tag(0x3001, PT_UNICODE): child.name,
                tag(0x3602, PT_LONG): len(child.messages), tag(0x3603, PT_LONG): 0,
                tag(0x360A, PT_BOOLEAN): bool(child.folders),
            })
        message_rows = []
        for message in folder.messages:
            message_nid = self.nid(NID_TYPE_NORMAL_MESSAGE)
            self.file.node(message_nid, self.message(message), nid)
            row: dict[int, object] = {
                tag(0x67F2, PT_LONG): message_nid, tag(0x67F3, PT_LONG): 1,
                tag(0x001A, PT_UNICODE): message.message_class,
                tag(0x0E07, PT_LONG): message.flags,
            }
            if message.subject is not None:
                row[tag(0x0037, PT_UNICODE)] = message.subject
            if message.delivery_time is not None:
                row[tag(0x0E06, PT_SYSTIME)] = message.delivery_time
            message_rows.append(row)
        base = nid & ~0x1F
        self.file.node(base | NID_TYPE_HIERARCHY_TABLE,
                       table_context(_HIERARCHY_COLUMNS, sub_rows), 0)
        self.file.node(base | NID_TYPE_CONTENTS_TABLE,
                       table_context(_CONTENTS_COLUMNS, message_rows), 0)
        self.file.node(base | NID_TYPE_ASSOC_CONTENTS_TABLE,
                       table_context(_CONTENTS_COLUMNS, []), 0)

    def message(self, message: Message) -> _Node:
        properties: dict[int, object | None] = {
            tag(0x001A, PT_UNICODE): message.message_class,
            tag(0x0E07, PT_LONG): message.flags,
            tag(0x0037, PT_UNICODE): message.subject,
            tag(0x0C1A, PT_UNICODE): message.sender_name,
            tag(0x0042, PT_UNICODE): message.sender_name,
            tag(0x0C1F, PT_UNICODE): message.sender_address,
            tag(0x0065, PT_UNICODE): message.sender_address,
            tag(0x5D01, PT_UNICODE): message.sender_address,
            tag(0x0C1E, PT_UNICODE): "SMTP" if message.sender_address else None,
            tag(0x1000, PT_UNICODE): message.body,
            tag(0x1013, PT_BINARY): message.html,
            tag(0x007D, PT_UNICODE): message.transport_headers,
            tag(0x1035, PT_UNICODE): message.internet_message_id,
            tag(0x0039, PT_SYSTIME): message.submit_time,
            tag(0x0E06, PT_SYSTIME): message.delivery_time,
            tag(0x3008, PT_SYSTIME): message.modified_time,
            tag(0x0071, PT_BINARY): message.conversation_index,
            tag(0x0070, PT_UNICODE): message.conversation_topic,
            tag(0x0E1B, PT_BOOLEAN): bool(message.attachments),
        }
        properties.update(message.properties)
        subnodes = _Subnodes()
        subnodes.add(table_context(_RECIPIENT_COLUMNS, [
            {tag(0x67F2, PT_LONG): number, tag(0x67F3, PT_LONG): 1,
             tag(0x0C15, PT_LONG): recipient.kind, tag(0x0FFE, PT_LONG): 6,
             tag(0x3001, PT_UNICODE): recipient.name, tag(0x3002, PT_UNICODE): "SMTP",
             tag(0x3003, PT_UNICODE): recipient.address, tag(0x39FE, PT_UNICODE): recipient.address}
            for number, recipient in enumerate(message.recipients)
        ]), nid=NID_RECIPIENT_TABLE)
        if message.attachments:
            rows = []
            for number, attachment in enumerate(message.attachments):
                nid = subnodes.add(self.attachment(attachment, number), nid=self.nid(
                    NID_TYPE_ATTACHMENT))
                rows.append({
                    tag(0x67F2, PT_LONG): nid, tag(0x67F3, PT_LONG): 1,
                    tag(0x0E20, PT_LONG): len(attachment.data),
                    tag(0x3704, PT_UNICODE): attachment.name,
                    tag(0x3705, PT_LONG): 5 if attachment.embedded is not None else 1,
                    tag(0x3707, PT_UNICODE): attachment.name,
                    tag(0x370B, PT_LONG): -1,
                })
            subnodes.add(table_context(_ATTACHMENT_COLUMNS, rows), nid=NID_ATTACHMENT_TABLE)
        return property_context({k: v for k, v in properties.items() if v is not None},
                                subnodes)

    def attachment(self, attachment: Attachment, number: int) -> _Node:
        embedded = attachment.embedded
        properties: dict[int, object | None] = {
            # ATTACH_EMBEDDED_MSG or ATTACH_BY_VALUE
            tag(0x3705, PT_LONG): 5 if embedded is not None else 1,
            tag(0x0E20, PT_LONG): len(attachment.data),
            tag(0x0E21, PT_LONG): number,
            tag(0x3701, PT_BINARY): attachment.data if embedded is None else None,
            tag(0x3701, PT_OBJECT): self.message(embedded) if embedded is not None else None,
            tag(0x3704, PT_UNICODE): attachment.name,
            tag(0x3707, PT_UNICODE): attachment.name,
            tag(0x370E, PT_UNICODE): attachment.mime,
            tag(0x3712, PT_UNICODE): attachment.content_id,
            tag(0x7FFE, PT_BOOLEAN): True if attachment.hidden else None,
        }
        return property_context({k: v for k, v in properties.items() if v is not None})


def build(top: Folder, store_name: str = "Personal Folders") -> bytes:
    """A PST whose root folder holds ``top`` (conventionally "Top of Personal Folders")."""
    builder = _Builder()
    top_nid = builder.nid(NID_TYPE_NORMAL_FOLDER)
    store_key = bytes(range(16))
    # The store names its top folder by entry ID (MS-PST 2.4.3): flags, store UID, NID.
    builder.file.node(NID_MESSAGE_STORE, property_context({
        tag(0x3001, PT_UNICODE): store_name,
        tag(0x0FF9, PT_BINARY): store_key,
        tag(0x35E0, PT_BINARY): b"\0" * 4 + store_key + struct.pack("<I", top_nid),
        tag(0x35DF, PT_LONG): 0x89,  # FOLDER_IPM_SUBTREE_VALID | ..._FINDER_VALID | ..._ROOT
    }), 0)
    root = Folder(name="", folders=[top])
    builder.folder(root, NID_ROOT_FOLDER, NID_ROOT_FOLDER, child_nids=[top_nid])
    return builder.file.serialise()
