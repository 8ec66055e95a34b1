"""Outlook PST stores: folders, messages, attachments, attribution, streaming, damage.

The fixture is written by tests/fixtures/email_pst/make_fixtures.py with
tests/support/pst_writer.py (a PST writer from MS-PST); variations are built here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from parsers import pst
from parsers.base import ParseOptions
from parsers.errors import DamagedInput
from parsers.records import DerivedFact, EventRecord
from tests.parsers.chat_export_support import generator
from tests.parsers.support import FIXTURES, embedded, events, notes, parse_all, probe_of, source_of
from tests.support import pst_writer
from tests.support.pst_writer import Attachment, Folder, Message, Recipient, build

STORE = (FIXTURES / "email_pst" / "mailbox.pst").read_bytes()
MAKE = generator("email_pst")
PARSER = pst.PARSER
TOP = "Top of Personal Folders"


def parse(data: bytes):
    return parse_all(PARSER, data, "mailbox.pst")


def by_subject(items, subject: str) -> EventRecord:
    [record] = [e for e in events(items) if e.subject == subject]
    return record


def facts_after(items, record: EventRecord) -> list[DerivedFact]:
    found = []
    for item in items[items.index(record) + 1:]:
        if not isinstance(item, DerivedFact):
            break
        found.append(item)
    return found


def test_the_fixture_is_what_its_generator_writes() -> None:
    assert build(MAKE.store()) == STORE


# -- detection ------------------------------------------------------------------------


def test_detects_pst_and_ost_stores() -> None:
    assert PARSER.detect(probe_of(STORE, "anything.bin"))
    ost = STORE[:8] + b"SO" + STORE[10:]
    assert PARSER.detect(probe_of(ost, "mailbox.ost"))


@pytest.mark.parametrize("data", [
    STORE[:8] + b"AB" + STORE[10:],  # a personal address book: no mail in it
    b"!BDN", b"", (FIXTURES / "email_msg" / "received.msg").read_bytes(),
    (FIXTURES / "email" / "sample.mbox").read_bytes(),
])
def test_does_not_claim_address_books_or_other_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data, "x.pst"))


# -- folders and messages --------------------------------------------------------------


def test_every_mail_message_is_read_with_its_folder_path() -> None:
    found = [(e.extra["folder"], e.subject) for e in events(parse(STORE))]
    assert found == [
        (f"{TOP}/Inbox", "Saw you today"),
        (f"{TOP}/Inbox/Harassment", "it's me, Jo"),
        (f"{TOP}/Inbox/Harassment", "Tonight"),
        (f"{TOP}/Sent Items", "RE: Saw you today"),
    ]


def test_calendar_items_are_counted_not_put_on_the_timeline() -> None:
    [note] = [n for n in notes(parse(STORE)) if n.code == "pst_items_not_mail"]
    assert "Appointment: 1" in note.message


def test_a_message_gives_sender_recipients_time_text_and_where_it_sits() -> None:
    record = by_subject(parse(STORE), "Saw you today")
    assert (record.sender, record.sender_id, record.recipients) == (
        "Sam", "sam.t.1990@freemail.example", ("alex.morgan@example.org",))
    assert record.time.instant == datetime(2024, 3, 20, 21, 2, 5, tzinfo=UTC)
    assert record.time.text == str(pst_writer.filetime(record.time.instant))
    assert record.time_basis == "sent"
    # The plain body is preferred to the HTML one.
    assert (record.text, record.flags) == ("You looked tired at the station.", ())
    node = record.extra["pst_node_id"]
    assert record.locator.as_dict() == {
        "member": f"{TOP}/Inbox #{node}", "message_id": "a81f@webmail.freemail.example"}
    assert record.extra["delivery_time"] == "2024-03-20T21:02:11Z"


def test_attachments_are_child_files_including_one_stored_as_a_data_tree() -> None:
    items = parse(STORE)
    record = by_subject(items, "Saw you today")
    files = {f.name: f for f in embedded(items)}
    assert files["station-notes.txt"].data == MAKE.NOTES  # over one block: an XBLOCK
    assert files["eye.png"].data == MAKE.PNG
    assert {(a.name, a.sha256) for a in record.attachments} == {
        (name, hashlib.sha256(f.data).hexdigest()) for name, f in files.items()}
    assert items.index(files["station-notes.txt"]) < items.index(record)
    inline = {f.value["name"]: (f.value["content_id"], f.value["inline"])
              for f in facts_after(items, record) if f.kind == "attachment"}
    assert inline == {"eye.png": ("eye@freemail", True), "station-notes.txt": (None, False)}


def test_a_reply_in_sent_items_shares_the_outlook_thread() -> None:
    items = parse(STORE)
    received, reply = by_subject(items, "Saw you today"), by_subject(items, "RE: Saw you today")
    assert received.conversation == reply.conversation == "thread:" + MAKE.THREAD.hex()
    assert reply.sender_id == "alex.morgan@example.org"


def test_transport_headers_give_attribution_facts_and_a_summary() -> None:
    items = parse(STORE)
    record = by_subject(items, "Saw you today")
    kinds = [f.kind for f in facts_after(items, record)]
    assert kinds[:4] == ["received_hop", "originating_ip", "message_id_domain",
                         "authentication_results"]
    origin = facts_after(items, record)[1].value
    assert (origin["ip"], origin["source"], origin["received_ip"]) == (
        "203.0.113.200", "X-Originating-IP", "192.0.2.25")
    assert (record.extra["originating_ip"], record.extra["auth"]) == (
        "203.0.113.200", "spf=pass dkim=pass dmarc=pass")


def test_a_spoofed_friend_shows_the_envelope_mismatch_and_spf_softfail() -> None:
    record = by_subject(parse(STORE), "it's me, Jo")
    assert (record.text, record.flags) == ("New number, it's Jo.\nCall me", ("html_body",))
    assert record.extra["sender_mismatch"] == "Return-Path:domain"
    assert record.extra["auth"] == "spf=softfail"
    assert record.extra["return_path"] == "bounces@sender-mail.example"


def test_an_attached_message_pypff_cannot_open_is_a_defect_on_the_message() -> None:
    record = by_subject(parse(STORE), "it's me, Jo")
    assert record.defects == ("attached_message_not_extracted:1",)
    assert record.attachments == ()


def test_an_rtf_only_body_is_deencapsulated() -> None:
    record = by_subject(parse(STORE), "Tonight")
    assert (record.text, record.flags) == ("I know where you live.\n", ("rtf_body",))


def test_folder_names_with_slashes_are_escaped_in_the_path() -> None:
    data = build(Folder(TOP, folders=[Folder("Work/Home", messages=[
        Message(subject="s", body="b", submit_time=datetime(2024, 3, 1, tzinfo=UTC),
                recipients=[Recipient("Cc", "cc@example.org", 2)])])]))
    [record] = events(parse(data))
    assert record.extra["folder"] == f"{TOP}/Work\\/Home"
    assert record.recipients == ("cc@example.org",)


# -- streaming --------------------------------------------------------------------------


class _CountingRaw(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[:len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()


def test_messages_are_yielded_as_read_not_after_reading_the_store() -> None:
    messages = [Message(subject=f"m{n}", body="b", submit_time=datetime(2024, 3, 1, n, tzinfo=UTC),
                        attachments=[Attachment(f"a{n}.bin", bytes([n]) * 60_000)])
                for n in range(12)]
    data = build(Folder(TOP, folders=[Folder("Inbox", messages=messages)]))
    raw = _CountingRaw(data)
    # Wrapped as the collector wraps a stored original: a large read buffer.
    source = replace(source_of(data), open=lambda: io.BufferedReader(raw, 1024 * 1024))
    items = PARSER.parse(source, ParseOptions())
    first = next(i for i in items if isinstance(i, EventRecord))
    assert first.subject == "m0"
    assert raw.bytes_read < len(data) // 3
    assert [e.subject for e in items if isinstance(e, EventRecord)] == [
        f"m{n}" for n in range(1, 12)]


# -- damage --------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    STORE[:len(STORE) // 2], STORE[:600], b"!BDN" + b"\0" * 4000,
    STORE[:216] + b"\xff" * 32 + STORE[248:],  # the B-tree roots point nowhere
])
def test_a_store_that_cannot_be_opened_is_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput, match="PST/OST store"):
        parse(data)


def _break_message_block(data: bytes, subject: str) -> bytes:
    """Clear the heap signature of the block holding ``subject``'s property context."""
    needle = subject.encode("utf-16-le")
    damaged = bytearray(data)
    at = data.index(needle)
    while True:
        block = data.rfind(b"\xec\xbc", 0, at) - 2
        if block % 64 == 0 and b"I\0P\0M\0.\0N\0o\0t\0e\0" in data[block:block + 8192]:
            damaged[block + 2] = 0
            return bytes(damaged)
        at = block + 1


def test_an_unreadable_message_is_named_after_the_rest_are_read() -> None:
    data = _break_message_block(STORE, "Tonight")
    items: list = []
    with pytest.raises(DamagedInput) as raised:
        for item in PARSER.parse(source_of(data, "mailbox.pst"), ParseOptions()):
            items.append(item)
    assert [e.subject for e in events(items)] == [
        "Saw you today", "it's me, Jo", "RE: Saw you today"]
    message = str(raised.value)
    assert "1 item(s) could not be read" in message
    assert f"in {TOP}/Inbox/Harassment" in message
    assert "3 message(s) were read" in message


def test_an_attachment_larger_than_the_store_could_hold_is_not_read() -> None:
    data = build(Folder(TOP, folders=[Folder("Inbox", messages=[Message(
        subject="big", body="b", submit_time=datetime(2024, 3, 1, tzinfo=UTC),
        attachments=[Attachment("big.bin", b"\x01" * 1_200_000)])])]))
    # The store says it is tiny, so an attachment of a megabyte cannot be genuine.
    source = replace(source_of(data, "mailbox.pst"), size=1000)
    items = list(PARSER.parse(source, ParseOptions()))
    [record] = events(items)
    assert record.defects == ("attachment_size_implausible:1",)
    assert embedded(items) == []
