"""Outlook .msg files: detection, MAPI properties, bodies, attachments, attribution.

Fixtures are written by tests/fixtures/email_msg/make_fixtures.py with
tests/support/msg_builder.py; variations are built here with the same builder.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import olefile
import pytest

from parsers import outlook_msg
from parsers.errors import DamagedInput
from parsers.records import DerivedFact, EventRecord, FileNote
from tests.parsers.chat_export_support import generator
from tests.parsers.support import FIXTURES, embedded, events, notes, parse_all, probe_of
from tests.support import cfb_writer, msg_builder
from tests.support.msg_builder import Attachment, Message, Recipient, build

FOLDER = FIXTURES / "email_msg"
RECEIVED = (FOLDER / "received.msg").read_bytes()
MAKE = generator("email_msg")
PARSER = outlook_msg.PARSER


def parse(data: bytes, name: str = "message.msg"):
    return parse_all(PARSER, data, name)


def the_event(data: bytes) -> EventRecord:
    [record] = events(parse(data))
    return record


def facts(items, kind: str) -> list[dict]:
    return [i.value for i in items if isinstance(i, DerivedFact) and i.kind == kind]


# -- the test files themselves --------------------------------------------------------


def test_the_fixtures_are_what_their_generator_writes() -> None:
    for name, make in MAKE.FIXTURES.items():
        assert (FOLDER / name).read_bytes() == build(make()), name


def test_the_compound_file_writer_satisfies_olefile_in_strict_mode() -> None:
    root = cfb_writer.Storage()
    root.entries["small"] = b"x" * 100
    root.entries["large"] = bytes(range(256)) * 40  # over the mini-stream cutoff
    root.storage("sub").entries["inner"] = b"inner"
    ole = olefile.OleFileIO(io.BytesIO(cfb_writer.write(root)),
                            raise_defects=olefile.DEFECT_INCORRECT)
    assert sorted(ole.listdir()) == [["large"], ["small"], ["sub", "inner"]]
    assert ole.openstream("large").read() == bytes(range(256)) * 40
    assert ole.openstream("sub/inner").read() == b"inner"


# -- detection ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MAKE.FIXTURES))
def test_detects_outlook_messages_by_their_stream_names(name: str) -> None:
    assert PARSER.detect(probe_of((FOLDER / name).read_bytes(), "renamed.bin"))


def _word_document() -> bytes:
    root = cfb_writer.Storage()
    root.entries["WordDocument"] = b"\xec\xa5" + b"\0" * 600
    root.entries["\x05SummaryInformation"] = b"\xfe\xff" + b"\0" * 200
    return cfb_writer.write(root)


def test_does_not_claim_other_compound_files_even_when_named_msg() -> None:
    assert not PARSER.detect(probe_of(_word_document(), "letter.msg"))


def test_a_compound_file_whose_directory_lies_past_the_probe_is_claimed_by_its_name() -> None:
    data = bytearray(RECEIVED)
    # Point the header's first directory sector far beyond the probe.
    data[48:52] = (0x7FFF).to_bytes(4, "little")
    head = bytes(data[:512])
    assert PARSER.detect(probe_of(head, "Message.MSG"))
    assert not PARSER.detect(probe_of(head, "report.doc"))


@pytest.mark.parametrize("data", [b"", b"\xd0\xcf\x11\xe0", b"From: a@example.org\n\nhi\n",
                                  (FIXTURES / "email" / "sample.mbox").read_bytes()])
def test_does_not_claim_short_or_other_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data, "x.msg"))


# -- a received message ----------------------------------------------------------------


def test_a_received_message_gives_sender_recipients_subject_and_submit_time() -> None:
    record = the_event(RECEIVED)
    assert (record.kind, record.channel, record.time_basis) == ("email", "email", "sent")
    assert (record.sender, record.sender_id) == ("Bank Security", "security@bank.example")
    assert record.recipients == ("alex.morgan@example.org", "jo.witness@example.org")
    assert record.subject == "Your account"
    assert record.time.instant == datetime(2024, 3, 12, 22, 15, tzinfo=UTC)
    # The raw FILETIME as the file holds it.
    assert record.time.text == str(msg_builder.filetime(datetime(2024, 3, 12, 22, 15, tzinfo=UTC)))
    assert record.locator.message_id == "20240312221500.4F2A@smtp.sender-mail.example"
    assert record.extra["delivery_time"] == "2024-03-12T22:15:09Z"
    assert record.extra["time_property"] == "PR_CLIENT_SUBMIT_TIME"


def test_an_html_only_body_becomes_text() -> None:
    record = the_event(RECEIVED)
    assert record.text == "Dear customer,\nWe know everything about you.\nReply now."
    assert record.flags == ("html_body",)


def test_attachments_and_the_inline_image_come_first_with_their_hashes() -> None:
    items = parse(RECEIVED)
    files = embedded(items)
    record = the_event(RECEIVED)
    assert items.index(record) == len(files)
    assert [(f.name, f.media_type, f.locator.member) for f in files] == [
        ("logo.png", "image/png", "__attach_version1.0_#00000000"),
        ("statement.pdf", "application/pdf", "__attach_version1.0_#00000001"),
        ("Earlier.msg", "application/vnd.ms-outlook", "__attach_version1.0_#00000002"),
    ]
    assert files[0].data == MAKE.PNG and files[1].data == MAKE.PDF
    assert all(f.sha256 == hashlib.sha256(f.data).hexdigest() for f in files)
    assert [a.sha256 for a in record.attachments] == [f.sha256 for f in files]


def test_the_inline_image_keeps_its_content_id() -> None:
    found = facts(parse(RECEIVED), "attachment")
    assert [(f["name"], f["content_id"], f["inline"]) for f in found] == [
        ("logo.png", "logo@bank.example", True),
        ("statement.pdf", None, False),
        ("Earlier.msg", None, False),
    ]


def test_an_attached_message_becomes_a_msg_of_its_own_that_parses_again() -> None:
    items = parse(RECEIVED)
    attached = embedded(items)[2]
    inner = the_event(attached.data)
    assert (inner.subject, inner.sender_id, inner.text) == (
        "Earlier", "sam.t.1990@example.com", "You cannot hide.")
    assert inner.time.instant == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    [note] = [n for n in notes(items) if n.code == "attached_message_rebuilt"]
    assert "__attach_version1.0_#00000002" in note.message


def test_rebuilding_an_attached_message_gives_the_same_bytes_each_time() -> None:
    assert embedded(parse(RECEIVED))[2].sha256 == embedded(parse(RECEIVED))[2].sha256


def test_transport_headers_give_the_attribution_facts_after_the_event() -> None:
    items = parse(RECEIVED)
    record = the_event(RECEIVED)
    after = items[items.index(record) + 1:]
    assert [i.kind for i in after if isinstance(i, DerivedFact)] == [
        "received_hop", "received_hop", "originating_ip", "sender_mismatch", "sender_mismatch",
        "message_id_domain", "authentication_results",
        "attachment", "attachment", "attachment",
    ]
    hops = facts(items, "received_hop")
    assert [(h["from_ip"], h["by"], h["time"]) for h in hops] == [
        ("198.51.100.41", "mx.victim-mail.example", "2024-03-12T22:15:09Z"),
        ("203.0.113.77", "smtp.sender-mail.example", "2024-03-12T22:15:05Z"),
    ]
    assert {k: record.extra[k] for k in (
        "originating_ip", "sender_mismatch", "auth", "from", "reply_to", "return_path")} == {
        "originating_ip": "203.0.113.77",
        "sender_mismatch": "Return-Path:domain Reply-To:domain",
        "auth": "spf=pass dkim=pass dmarc=fail",
        "from": '"Bank Security" <security@bank.example>',
        "reply_to": "sam.t.1990@example.com",
        "return_path": "sam.t@sender-mail.example",
    }


# -- sent items, RTF and drafts ----------------------------------------------------------


def test_a_sent_message_has_no_transport_headers_and_so_no_attribution_facts() -> None:
    items = parse((FOLDER / "sent.msg").read_bytes())
    [record] = events(items)
    assert (record.sender_id, record.recipients, record.text) == (
        "alex.morgan@example.org", ("sam.t.1990@example.com",),
        "Please stop contacting me.\nAlex")
    assert not [i for i in items if isinstance(i, DerivedFact)]
    assert "originating_ip" not in record.extra


def test_an_rtf_only_body_is_deencapsulated() -> None:
    record = the_event((FOLDER / "rtf_only.msg").read_bytes())
    assert record.text == "I know where you live.\nSee you at 8.\n"
    assert record.flags == ("rtf_body",)


def test_rtf_that_encapsulates_nothing_is_noted_and_the_message_kept() -> None:
    data = build(Message(subject="rtf", rtf=rb"{\rtf1\ansi\deff0 Plain RTF only.\par}",
                         submit_time=datetime(2024, 3, 1, tzinfo=UTC)))
    record = the_event(data)
    assert (record.subject, record.text, record.defects) == (
        "rtf", None, ("rtf_body_not_converted",))


def test_an_unsent_draft_is_placed_at_its_last_save_and_says_so() -> None:
    record = the_event((FOLDER / "draft.msg").read_bytes())
    assert record.time.instant == datetime(2024, 3, 15, 7, 5, tzinfo=UTC)
    assert (record.time_basis, record.time.flags) == (
        "file_modified", ("date_from_last_modification",))
    assert record.extra["time_property"] == "PR_LAST_MODIFICATION_TIME"


def test_the_date_header_is_used_when_there_is_no_submit_time() -> None:
    data = build(Message(subject="s", body="b", transport_headers=(
        "From: a@example.org\r\nDate: Tue, 12 Mar 2024 10:00:00 +0100\r\n\r\n")))
    record = the_event(data)
    assert record.time.instant == datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    assert record.time.text == "Tue, 12 Mar 2024 10:00:00 +0100"
    assert (record.sender_id, record.extra["time_property"]) == ("a@example.org", "Date header")


def test_a_message_with_no_time_at_all_is_kept_as_a_note_with_its_attachments() -> None:
    items = parse(build(Message(subject="timeless", body="b", attachments=[
        Attachment("a.txt", b"kept")])))
    assert events(items) == []
    assert [f.data for f in embedded(items)] == [b"kept"]
    assert [n.code for n in notes(items)] == ["no_date"]


def test_recipient_kinds_and_exchange_senders_are_kept() -> None:
    data = build(Message(
        subject="x500", body="b", sender_name="Sam", submit_time=datetime(2024, 3, 1, tzinfo=UTC),
        recipients=[Recipient("Bcc", "hidden@example.org", msg_builder.BCC)],
        properties={(0x0C1F << 16) | msg_builder.STRING: "/O=EXAMPLE/OU=FIRST/CN=SAM"}))
    record = the_event(data)
    assert (record.sender, record.sender_id) == ("Sam", None)
    assert record.extra["sender_address"] == "/O=EXAMPLE/OU=FIRST/CN=SAM"
    assert record.recipients == ("hidden@example.org",)


def test_an_outlook_item_that_is_not_a_message_is_noted_without_an_event() -> None:
    items = parse(build(Message(subject="Sam", message_class="IPM.Contact")))
    assert [type(i) for i in items] == [FileNote]
    assert items[0].code == "not_a_message" and "IPM.Contact" in items[0].message


# -- damage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [512, 2048, len(RECEIVED) // 2])
def test_a_truncated_message_is_damaged_input(cut: int) -> None:
    with pytest.raises(DamagedInput, match="Outlook message"):
        parse(RECEIVED[:cut])


def test_a_compound_file_that_is_not_a_message_is_damaged_input() -> None:
    with pytest.raises(DamagedInput, match="not a message"):
        parse(_word_document())
