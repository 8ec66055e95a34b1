"""The iOS Messages database (sms.db): detection, times, people, chats, bodies, damage.

Fixtures are built by tests/fixtures/ios_sms/make_fixtures.py (tiny SQLite files
with the real table and column names); each test names the behaviour it checks.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.ios_sms_db import PARSER, attributed_body_text
from parsers.records import AttachmentRef, EventRecord, ParsedItem
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

SMS = FIXTURES / "ios_sms"
SAM = "+447700900461"
ALEX = "+447700900999"
DANA = "+447700900123"
IMG = "~/Library/SMS/Attachments/4a/10/AB12-CD34/IMG_0001.jpeg"
AUDIO = "~/Library/SMS/Attachments/7f/15/EF56-7890/Audio Message.caf"
SHA_IMG = "c" * 64
ONE_TO_ONE = "iMessage;-;+447700900461"
GROUP = "iMessage;+;chat493812"


def data_of(name: str) -> bytes:
    return (SMS / name).read_bytes()


def parse(name: str = "ios_sms.db", siblings: dict[str, str] | None = None,
          source_name: str = "sms.db") -> list[ParsedItem]:
    return parse_all(PARSER, data_of(name), source_name, siblings=siblings)


def parse_bytes(data: bytes) -> list[ParsedItem]:
    return parse_all(PARSER, data, "sms.db")


def by_guid(items: list[ParsedItem]) -> dict[str, EventRecord]:
    return {r.locator.message_id or "": r for r in events(items)}


def note_codes(items: list[ParsedItem]) -> list[str]:
    return [n.code for n in notes(items)]


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- identity and detection --------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.format, PARSER.version) == ("ios_sms_db", "ios_sms_db", "1.0.0")


@pytest.mark.parametrize("name", ["ios_sms.db", "old_ios.db", "corrupt.db"])
def test_detects_messages_databases_by_header_and_schema(name: str) -> None:
    assert PARSER.detect(probe_of(data_of(name), name))


@pytest.mark.parametrize("data", [
    data_of("other_app.db"),
    b"SQLite format 3\x00" + b"\x00" * 4000,
    b"CREATE TABLE message (ROWID INTEGER, handle_id INTEGER, is_from_me INTEGER); "
    b"CREATE TABLE handle (ROWID INTEGER, id TEXT)",
    b"",
    (FIXTURES / "telegram" / "single_personal.json").read_bytes(),
    (FIXTURES / "whatsapp" / "android_en_gb_24h.txt").read_bytes(),
    (FIXTURES / "email" / "sample.mbox").read_bytes(),
    (FIXTURES / "email" / "no_date.eml").read_bytes(),
], ids=["other-sqlite", "bare-sqlite-header", "schema-text-not-sqlite", "empty", "telegram",
        "whatsapp", "mbox", "eml"])
def test_does_not_claim_other_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- a modern database (iOS 16+, nanoseconds) ----------------------------------------------------


def test_every_dated_message_row_gives_a_record_in_rowid_order() -> None:
    items = parse()
    records = events(items)
    assert [r.extra["rowid"] for r in records] == [
        str(n) for n in (*range(1, 17), 18, 19, 20, 22)]
    assert note_codes(items) == [
        "ios_messages_limits", "apple_time_units", "undated_messages",
        "text_from_attributed_body", "text_in_attributed_body_unread", "recently_deleted",
        "invalid_utf8", "attachments_not_delivered"]


def test_nanosecond_apple_times_become_utc_instants_with_their_precision() -> None:
    records = by_guid(parse())
    first, second = records["GUID-0001"], records["GUID-0002"]
    assert first.time.instant == datetime(2024, 3, 12, 21, 15, 3, 250000, tzinfo=UTC)
    assert (first.time.text, first.time.precision, first.time.local) == (
        "731970903250000000", "subsecond", None)
    assert (second.time.instant, second.time.precision) == (utc(2024, 3, 12, 21, 16, 40),
                                                            "second")
    assert first.time_basis == "sent"
    assert first.extra["date_read"] == "2024-03-12T21:16:00+00:00"
    assert "date_delivered" not in first.extra  # 0 means never
    assert second.extra["date_delivered"] == "2024-03-12T21:16:41+00:00"


def test_incoming_and_outgoing_follow_is_from_me() -> None:
    records = by_guid(parse())
    incoming, outgoing = records["GUID-0001"], records["GUID-0002"]
    assert (incoming.direction, incoming.sender, incoming.sender_id) == ("incoming", SAM, SAM)
    assert incoming.recipients == (DANA,)  # destination_caller_id: the owner's number
    assert (outgoing.direction, outgoing.sender, outgoing.sender_id) == (
        "outgoing", None, None)
    assert outgoing.recipients == (SAM,)
    assert (incoming.channel, incoming.text) == ("imessage", "Are you home?")


def test_the_chat_guid_is_the_conversation_and_its_handles_the_participants() -> None:
    records = by_guid(parse())
    one = records["GUID-0001"]
    assert (one.conversation, one.participants) == (ONE_TO_ONE, (SAM,))
    assert one.extra["chat_style"] == "45"
    sms = records["GUID-0010"]
    assert (sms.channel, sms.conversation) == ("sms", "SMS;-;+447700900461")


def test_group_messages_name_their_sender_and_go_to_every_member() -> None:
    records = by_guid(parse())
    incoming, outgoing, rename = records["GUID-0011"], records["GUID-0012"], records["GUID-0013"]
    assert (incoming.sender_id, incoming.conversation, incoming.participants) == (
        ALEX, GROUP, (SAM, ALEX))
    assert (outgoing.direction, outgoing.recipients) == ("outgoing", (SAM, ALEX))
    assert incoming.extra["chat_name"] == "Neighbours"
    assert (rename.kind, rename.sender_id, rename.text) == ("system", SAM, None)
    assert (rename.extra["item_type"], rename.extra["group_title"]) == ("2", "Sam's house")


def test_text_only_in_attributed_body_is_read_from_the_nsstring_and_flagged() -> None:
    records = by_guid(parse())
    short, long_, unread = records["GUID-0003"], records["GUID-0004"], records["GUID-0005"]
    assert short.text == "I know where you live \U0001f3e0"
    assert short.flags == ("text_from_attributed_body",)
    assert long_.text == ("I am not going anywhere. " * 8).strip()
    assert (unread.text, unread.flags) == (None, ("text_in_attributed_body_unread",))


def test_attachments_link_to_delivered_files_by_their_path_below_home() -> None:
    siblings = {"Library/SMS/Attachments/4a/10/AB12-CD34/IMG_0001.jpeg": SHA_IMG}
    record = by_guid(parse(siblings=siblings))["GUID-0006"]
    assert record.attachments == (AttachmentRef(IMG, SHA_IMG, "image/jpeg"),
                                  AttachmentRef(AUDIO, None, "audio/x-caf"))
    assert record.text == "\ufffc\ufffc"  # the placeholders stay, as in the database


@pytest.mark.parametrize("delivered", [
    "Attachments/4a/10/AB12-CD34/IMG_0001.jpeg", "IMG_0001.jpeg"])
def test_attachments_also_link_by_attachments_path_or_bare_name(delivered: str) -> None:
    record = by_guid(parse(siblings={delivered: SHA_IMG}))["GUID-0006"]
    assert record.attachments[0].sha256 == SHA_IMG


def test_tapbacks_edits_and_unsends_are_flagged() -> None:
    records = by_guid(parse())
    tapback, edited, unsent = records["GUID-0007"], records["GUID-0008"], records["GUID-0009"]
    assert tapback.flags == ("reaction",)
    assert (tapback.extra["reaction"], tapback.extra["associated_message_guid"]) == (
        "laughed", "p:0/GUID-0002")
    assert edited.flags == ("edited",)
    assert edited.extra["date_edited"] == "2024-03-12T21:22:00+00:00"
    assert (unsent.flags, unsent.text) == (("unsent",), None)
    assert unsent.extra["date_retracted"] == "2024-03-12T21:24:00+00:00"


def test_short_codes_and_e_mail_handles_get_stable_identifiers() -> None:
    records = by_guid(parse())
    assert (records["GUID-0014"].sender, records["GUID-0014"].sender_id) == (
        "AMAZON", "sms:amazon")
    mail = records["GUID-0015"]
    assert (mail.sender_id, mail.subject) == ("sam.t@example.com", "Re: us")


def test_recently_deleted_messages_are_kept_in_their_chat_and_flagged() -> None:
    record = by_guid(parse())["GUID-0016"]
    assert (record.flags, record.conversation) == (("recently_deleted",), ONE_TO_ONE)
    assert record.extra["delete_date"] == "2024-03-20T10:00:00+00:00"


def test_a_message_in_no_chat_is_its_handles_conversation() -> None:
    record = by_guid(parse())["GUID-0018"]
    assert (record.conversation, record.participants) == (SAM, (SAM,))


def test_row_problems_stay_on_the_record_as_defects() -> None:
    records = by_guid(parse())
    assert (records["GUID-0019"].text, records["GUID-0019"].defects) == (
        "caf\udce9", ("invalid_utf8",))
    gone = records["GUID-0020"]
    assert (gone.sender, gone.sender_id, gone.defects) == (None, None, ("unknown_handle",))


def test_rows_without_a_usable_date_are_skipped_and_listed_never_given_a_time() -> None:
    items = parse()
    assert "GUID-0017" not in by_guid(items) and "GUID-0021" not in by_guid(items)
    undated = notes(items)[note_codes(items).index("undated_messages")]
    assert undated.message.endswith("GUID-0017, GUID-0021.")


def test_a_float_seconds_date_keeps_its_fraction() -> None:
    record = by_guid(parse())["GUID-0022"]
    assert record.time.instant == datetime(2024, 3, 18, 7, 4, 0, 500000, tzinfo=UTC)
    assert record.time.precision == "subsecond"


# -- an older database (seconds, fewer columns) -----------------------------------------------


def test_an_old_database_with_seconds_and_fewer_columns_still_reads() -> None:
    items = parse("old_ios.db")
    incoming, outgoing, mms = events(items)
    assert incoming.time.instant == utc(2016, 5, 1, 18, 30)
    assert (incoming.time.text, incoming.time.precision) == ("483820200", "second")
    assert (incoming.channel, incoming.sender_id, incoming.recipients) == ("sms", SAM, ())
    assert (outgoing.direction, outgoing.recipients) == ("outgoing", (SAM,))
    assert mms.attachments == (AttachmentRef(
        "/var/mobile/Library/SMS/Attachments/01/01/IMG_0002.JPG", None, "image/jpeg"),)
    assert note_codes(items) == ["ios_messages_limits", "apple_time_units", "older_schema",
                                 "attachments_not_delivered"]
    assert "3 in seconds" in notes(items)[1].message


# -- the file around the records ----------------------------------------------------------------


def test_a_write_ahead_log_database_and_a_delivered_wal_file_are_noted() -> None:
    data = bytearray(data_of("ios_sms.db"))
    data[18:20] = b"\x02\x02"  # how a phone's sms.db header reads (WAL mode)
    items = parse_all(PARSER, bytes(data), "sms.db", siblings={"sms.db-wal": "d" * 64})
    assert len(events(items)) == 20
    assert note_codes(items)[-2:] == ["wal_not_read", "wal_mode"]


def test_the_temporary_copy_is_removed_even_when_reading_stops_early(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    list(PARSER.parse(_source(data_of("ios_sms.db")), ParseOptions()))
    assert os.listdir(tmp_path) == []
    stopped = cast(Generator[ParsedItem, None, None],
                   PARSER.parse(_source(data_of("ios_sms.db")), ParseOptions()))
    next(stopped)
    assert len(os.listdir(tmp_path)) == 1
    stopped.close()
    assert os.listdir(tmp_path) == []
    with pytest.raises(DamagedInput):
        list(PARSER.parse(_source(data_of("corrupt.db")), ParseOptions()))
    assert os.listdir(tmp_path) == []


def _source(data: bytes) -> SourceFile:
    return SourceFile("sms.db", "0" * 64, len(data), "application/vnd.sqlite3",
                      lambda: io.BytesIO(data))


@pytest.mark.parametrize("name", ["corrupt.db", "truncated.db"])
def test_a_corrupt_or_cut_database_raises_damaged_input(name: str) -> None:
    with pytest.raises(DamagedInput, match="database unreadable"):
        parse(name)


@pytest.mark.parametrize("data", [
    b"", b"not a database at all", b"SQLite format 3\x00", data_of("other_app.db"),
], ids=["empty", "text", "header-only", "other-app"])
def test_files_that_are_not_messages_databases_raise_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_bytes(data)


# -- attributedBody decoding ---------------------------------------------------------------------


def _typedstream(length: bytes, text: bytes) -> bytes:
    return (b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString"
            b"\x00\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
            + length + text + b"\x86\x84")


def test_attributed_body_lengths_of_one_two_and_four_bytes() -> None:
    assert attributed_body_text(_typedstream(b"\x02", b"hi")) == "hi"
    long_text = "x" * 300
    assert attributed_body_text(
        _typedstream(b"\x81" + (300).to_bytes(2, "little"), long_text.encode())) == long_text
    assert attributed_body_text(
        _typedstream(b"\x82" + (5).to_bytes(4, "little"), b"hello")) == "hello"


@pytest.mark.parametrize("blob", [
    b"", b"streamtyped without the class", _typedstream(b"\x7f", b"too short"),
    _typedstream(b"\x85", b"odd tag"), _typedstream(b"\x02", b"\xff\xfe"),
    _typedstream(b"", b""),
], ids=["empty", "no-nsstring", "length-past-end", "unknown-tag", "not-utf8", "cut"])
def test_attributed_body_that_is_not_simply_readable_gives_none(blob: bytes) -> None:
    assert attributed_body_text(blob) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_attributed_body_decoding_never_raises(blob: bytes) -> None:
    attributed_body_text(blob)
    attributed_body_text(_typedstream(b"", blob))


# -- robustness ----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_bytes(b"SQLite format 3\x00" + data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_databases_raise_nothing_but_parser_errors(data: st.DataObject) -> None:
    damaged = bytearray(data_of("ios_sms.db"))
    for _ in range(data.draw(st.integers(1, 40))):
        at = data.draw(st.integers(16, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParserError):
        parse_bytes(bytes(damaged))
