"""The mbox parser: strict splitting, >From unquoting, decoding, attachments, Gmail Takeout."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import eml, mbox
from parsers.base import ParseOptions
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, DerivedFact, EventRecord
from tests.parsers.support import (
    FIXTURES,
    embedded,
    events,
    notes,
    parse_all,
    probe_of,
    source_of,
)

SAMPLE = (FIXTURES / "email" / "sample.mbox").read_bytes()
TAKEOUT = (FIXTURES / "email" / "takeout.mbox").read_bytes()
EML_FIXTURES = ("html_only.eml", "rfc2231_attachment.eml", "no_date.eml")

# The attachment bytes that make_fixtures.py encoded into sample.mbox.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f00050001ff56c72f0d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n% fake report for tests\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
INNER = (
    b"Message-ID: <inner@example.org>\n"
    b"Date: Mon, 11 Mar 2024 09:00:00 +0000\n"
    b"From: Mallory <mallory@example.org>\n"
    b"To: carol@example.org\n"
    b"Subject: Original threat\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel;\n"
    b"  h=from:to:subject; bh=abc=; b=def=\n"
    b"\n"
    b"You will regret this.\n"
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def sample_events() -> list[EventRecord]:
    return events(parse_all(mbox.PARSER, SAMPLE))


def mbox_of(*messages: bytes) -> bytes:
    return b"\n".join(messages)


# -- detection -----------------------------------------------------------------


@pytest.mark.parametrize("data", [
    SAMPLE,
    TAKEOUT,
    b"From - Thu Jan  4 09:05:00 2024\nX-Mozilla-Status: 0001\nSubject: x\n\nbody\n",
    b"From MAILER-DAEMON Fri Mar 15 23:59:59 2024 +0000\r\nReceived: by x; now\r\n\r\n",
])
def test_detects_a_file_starting_with_a_strict_from_line_and_a_header(data: bytes) -> None:
    assert mbox.PARSER.detect(probe_of(data))


@pytest.mark.parametrize("data", [
    *((FIXTURES / "email" / name).read_bytes() for name in EML_FIXTURES),
    b"12/03/2024, 22:15 - Sam: From now on answer me\n12/03/2024, 22:16 - Jo: no\n",
    b"[12/03/2024, 22:15:03] Sam: From now on\n",
    b"From the desk of the inspector: we met on Tuesday.\nIt rained.\n",
    b"From alice@example.org Tue Mar 12 10:00:00 2024\n\nno header line follows\n",
    b"From alice@example.org yesterday\nSubject: x\n\n",
    b"date,sender,text\n2024-03-12,Sam,hello\n",
    b'{"messages": [{"from": "a"}]}',
    b"",
])
def test_does_not_detect_other_files(data: bytes) -> None:
    assert not mbox.PARSER.detect(probe_of(data))


# -- splitting and locators --------------------------------------------------------


def test_splits_the_sample_into_five_messages_in_file_order() -> None:
    assert [e.subject for e in sample_events()] == [
        "Grüße 😀", "Café à midi", "Photos", "No real date", "No date at all",
    ]


def test_locators_point_at_each_from_line_and_tile_the_file() -> None:
    found = sample_events()
    offsets = [e.locator.byte_offset for e in found]
    assert offsets == [SAMPLE.index(b"From " + who + b"@") for who in
                       (b"alice", b"bob", b"carol", b"dave", b"eve")]
    assert all(SAMPLE[o:o + 5] == b"From " for o in offsets if o is not None)
    assert [e.locator.line for e in found] == [1, 22, 35, 96, 105]
    assert [SAMPLE[:o].count(b"\n") + 1 for o in offsets if o is not None] == [1, 22, 35, 96, 105]
    lengths = [e.locator.byte_length for e in found]
    assert sum(n for n in lengths if n is not None) == len(SAMPLE)
    assert [e.locator.message_id for e in found] == [
        "m1@example.org", "m2@example.net", "m3@example.org", "m4@example.org", "m5@example.org",
    ]


def test_a_separator_shaped_line_not_after_a_blank_line_stays_in_the_body() -> None:
    items = parse_all(mbox.PARSER, SAMPLE)
    photos = events(items)[2]
    assert photos.text == (
        "See the picture.\nI know where you were.\n"
        "From carol@example.org Thu Mar 14 12:00:00 2024"
    )
    [note] = [n for n in notes(items) if n.code == "mbox_from_lines_kept"]
    assert ": 1, kept as message text" in note.message


def test_an_unquoted_from_line_of_another_shape_stays_in_the_body() -> None:
    first = sample_events()[0]
    assert first.text is not None
    assert first.text.endswith("\n\nFrom now on I watch you.\n")


def test_undoes_mboxrd_quoting_by_one_level() -> None:
    first = sample_events()[0]
    assert first.text == (
        "Bonjour, ça va? Softbreak.\n"
        "From the start I knew.\n"
        ">From here, quoted twice.\n"
        "\n"
        "From now on I watch you.\n"
    )
    [note] = [n for n in notes(parse_all(mbox.PARSER, SAMPLE)) if n.code == "mbox_from_unquoted"]
    assert "had one '>' removed (mboxrd rule): 2." in note.message


def test_long_lines_read_in_pieces_split_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    normal = parse_all(mbox.PARSER, SAMPLE)
    # Pieces longer than any From_ line, shorter than the base64 lines.
    monkeypatch.setattr(mbox, "LINE_PIECE", 60)
    assert max(len(line) for line in SAMPLE.splitlines()) > 60
    assert parse_all(mbox.PARSER, SAMPLE) == normal


def test_a_line_break_read_as_a_piece_of_its_own_is_not_a_blank_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mbox, "LINE_PIECE", 60)
    line = b"x" * 60
    data = b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: s\n\n" + line + b"\n"
    [record] = events(parse_all(mbox.PARSER, data))
    assert record.text == line.decode() + "\n"
    assert "truncated" not in record.defects


# -- times ------------------------------------------------------------------------


def test_times_come_from_the_date_header_with_its_offset() -> None:
    found = sample_events()[:3]
    assert [e.time.instant for e in found] == [
        utc(2024, 3, 12, 9, 0), utc(2024, 3, 13, 13, 5, 9), utc(2024, 3, 14, 12, 0),
    ]
    assert found[0].time.text == "Tue, 12 Mar 2024 10:00:00 +0100"
    assert all(e.time_basis == "sent" and e.time.precision == "second" for e in found)
    assert all(e.defects == () for e in found)


def test_an_unparseable_date_falls_back_to_the_from_line_as_a_wall_clock() -> None:
    dave = sample_events()[3]
    assert dave.time.local == datetime(2024, 3, 15, 23, 59, 59)
    assert dave.time.instant is None
    assert dave.time.text == "Fri Mar 15 23:59:59 2024"
    assert dave.time.flags == ("date_from_mbox_separator",)
    assert dave.time_basis == "received"
    assert dave.defects == ("unparseable_date",)


def test_a_missing_date_uses_the_from_line_and_the_zone_it_states() -> None:
    eve = sample_events()[4]
    assert eve.time.instant == utc(2024, 3, 16, 5, 0)
    assert eve.time.flags == ("date_from_mbox_separator",)
    assert eve.time_basis == "received"
    assert eve.defects == ("missing_date",)


def test_a_from_line_without_seconds_gives_minute_precision() -> None:
    data = b"From - Thu Jan  4 09:05 2024\nSubject: undated\n\nbody\n"
    [record] = events(parse_all(mbox.PARSER, data))
    assert record.time.local == datetime(2024, 1, 4, 9, 5)
    assert record.time.precision == "minute"


def test_a_message_with_no_time_at_all_gets_a_note_instead_of_an_event() -> None:
    # February 30th: the line has the From_ shape, but its date does not exist.
    data = b"From x@example.org Fri Feb 30 10:00:00 2024\nMessage-ID: <lost@x>\n\nbody\n"
    items = parse_all(mbox.PARSER, data)
    assert events(items) == []
    [note] = notes(items)
    assert note.code == "no_date"
    assert "byte_offset 0" in note.message and "lost@x" in note.message


# -- headers and bodies ----------------------------------------------------------


def test_decodes_encoded_words_in_senders_and_subjects() -> None:
    first, second = sample_events()[:2]
    assert (first.sender, first.sender_id) == ("Renée Dupré", "renee@example.org")
    assert first.subject == "Grüße 😀"
    assert (second.sender, second.sender_id) == ("Bob Østergaard", "bob@example.net")
    assert second.subject == "Café à midi"


def test_recipients_are_to_cc_and_bcc_addresses_lower_cased() -> None:
    first, second = sample_events()[:2]
    assert first.recipients == ("victim@example.com", "friend@example.net")
    assert second.recipients == ("victim@example.com", "second@example.com", "hidden@example.org")


def test_a_sender_without_display_name_is_shown_by_address() -> None:
    assert sample_events()[3].sender == "dave@example.org"


def test_decodes_a_base64_latin1_body() -> None:
    assert sample_events()[1].text == "Rendez-vous au café.\nÀ bientôt.\n"


def test_keeps_reply_and_envelope_headers_in_extra() -> None:
    assert sample_events()[0].extra == {
        "message_id": "m1@example.org",
        "from": "Renée Dupré <Renee@Example.org>",
        "in_reply_to": "m0@example.com",
        "return_path": "alice@example.org",
        "reply_to": "other@example.org",
        # Both differ from From (Renee@) in the local part only: same domain.
        "sender_mismatch": "Return-Path:local_part Reply-To:local_part",
    }


# -- attachments ---------------------------------------------------------------------


def test_attachments_come_just_before_their_message_with_their_hashes() -> None:
    items = parse_all(mbox.PARSER, SAMPLE)
    photos_at = items.index(sample_events()[2])
    files = embedded(items)
    assert items[photos_at - 3:photos_at] == files
    assert [(f.name, f.media_type, f.locator.json_path) for f in files] == [
        ("attachment-1", "image/png", "1.2"),
        ("report.pdf", "application/pdf", "2"),
        ("attachment-3.eml", "message/rfc822", "3"),
    ]
    assert [f.data for f in files] == [PNG, PDF, INNER]
    assert [f.sha256 for f in files] == [hashlib.sha256(d).hexdigest() for d in (PNG, PDF, INNER)]
    assert {f.locator.byte_offset for f in files} == {SAMPLE.index(b"From carol@")}
    assert {f.locator.message_id for f in files} == {"m3@example.org"}


def test_the_message_lists_its_attachments_by_hash() -> None:
    photos = sample_events()[2]
    assert photos.attachments == (
        AttachmentRef("attachment-1", hashlib.sha256(PNG).hexdigest(), "image/png"),
        AttachmentRef("report.pdf", hashlib.sha256(PDF).hexdigest(), "application/pdf"),
        AttachmentRef("attachment-3.eml", hashlib.sha256(INNER).hexdigest(), "message/rfc822"),
    )


def test_an_attached_message_is_an_eml_the_collector_can_parse_again() -> None:
    inner = embedded(parse_all(mbox.PARSER, SAMPLE))[2]
    assert eml.PARSER.detect(probe_of(inner.data))
    [record] = events(parse_all(eml.PARSER, inner.data))
    assert record.subject == "Original threat"
    assert record.time.instant == utc(2024, 3, 11, 9, 0)


# -- Gmail Takeout -------------------------------------------------------------------


def takeout_events() -> list[EventRecord]:
    return events(parse_all(mbox.PARSER, TAKEOUT))


def test_takeout_has_crlf_lines_that_do_not_reach_the_text() -> None:
    assert b"\r\n" in TAKEOUT
    assert [e.text for e in takeout_events()] == [
        "I saw you at the station.\nFrom now on, answer me.\n",
        "Leave me alone.\n",
        "Du schläfst nicht.\nIch auch nicht.\n",
    ]


def test_takeout_labels_thread_ids_and_direction() -> None:
    found = takeout_events()
    assert [e.extra["gmail_labels"] for e in found] == [
        "Inbox, Opened, Category Personal", "Sent", "Archived, Beweise Ärger",
    ]
    assert [e.extra["gmail_thread_id"] for e in found] == [
        "1793160934412345678", "1793160934412345678", "1793160934412345680",
    ]
    assert [e.direction for e in found] == ["incoming", "outgoing", "unknown"]


def test_takeout_messages_have_their_own_senders_times_and_locators() -> None:
    found = takeout_events()
    assert [(e.sender, e.sender_id) for e in found] == [
        ("Stalker", "stalker@example.com"),
        ("Victim", "victim@gmail.example"),
        ("stalker@example.com", "stalker@example.com"),
    ]
    assert [e.time.instant for e in found] == [
        utc(2024, 3, 12, 9, 29, 58), utc(2024, 3, 12, 9, 59, 59), utc(2024, 3, 13, 1, 0),
    ]
    assert [e.subject for e in found] == ["I see you", "Re: I see you", "Spät"]
    assert [e.locator.line for e in found] == [1, 17, 29]
    for record in found:
        offset = record.locator.byte_offset
        assert offset is not None and TAKEOUT[offset:offset + 5] == b"From "
    assert found[1].extra["in_reply_to"] == "CAA1@mail.gmail.example"


# -- damaged and hostile input ------------------------------------------------------


def test_a_last_message_cut_mid_line_is_kept_as_truncated() -> None:
    cut = SAMPLE[:SAMPLE.index(b"Last one.") + 4]
    last = events(parse_all(mbox.PARSER, cut))[-1]
    assert last.text == "Last"
    assert "truncated" in last.defects


def test_a_last_multipart_without_its_closing_boundary_is_truncated() -> None:
    cut = SAMPLE[:SAMPLE.index(b"--outer\nContent-Type: message/rfc822")]
    found = events(parse_all(mbox.PARSER, cut))
    assert len(found) == 3
    assert "truncated" in found[-1].defects
    assert found[-1].attachments[1].name == "report.pdf"


def test_text_before_the_first_from_line_is_noted_not_parsed() -> None:
    items = parse_all(mbox.PARSER, b"junk\n\n" + SAMPLE)
    assert len(events(items)) == 5
    assert [n.code for n in notes(items)] == [
        "mbox_preamble", "mbox_from_lines_kept", "mbox_from_unquoted",
    ]
    assert notes(items)[0].message.endswith("not parsed: 6.")


def test_a_file_without_any_from_line_is_damaged() -> None:
    with pytest.raises(DamagedInput, match="no mbox From_ separator"):
        parse_all(mbox.PARSER, b"Subject: hello\n\nnot an mbox\n")


def test_a_read_error_is_damaged_input() -> None:
    class Failing(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            if self.tell() > 100:
                raise OSError("disk gone")
            return super().readline(size)

    source = replace(source_of(SAMPLE), open=lambda: Failing(SAMPLE))
    with pytest.raises(DamagedInput, match="disk gone"):
        list(mbox.PARSER.parse(source, ParseOptions()))


def test_an_oversized_message_is_noted_and_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mbox, "MAX_MESSAGE_BYTES", 1000)
    items = parse_all(mbox.PARSER, SAMPLE)
    assert [e.subject for e in events(items)] == [
        "Grüße 😀", "Café à midi", "No real date", "No date at all",
    ]
    [note] = [n for n in notes(items) if n.code == "oversized_message"]
    assert f"byte {SAMPLE.index(b'From carol@')} (line 35)" in note.message


def test_parsing_reads_the_file_one_message_at_a_time() -> None:
    message = SAMPLE[:SAMPLE.index(b"From bob@")]
    data = message * 500
    stream = io.BytesIO(data)
    source = replace(source_of(data), open=lambda: stream)
    items = mbox.PARSER.parse(source, ParseOptions())
    first = next(items)
    assert isinstance(first, EventRecord) and first.locator.byte_offset == 0
    # Only the first message and the next From_ line have been read.
    assert stream.tell() <= 2 * len(message)
    rest = [item for item in items if not isinstance(item, DerivedFact)]
    assert len(rest) == 499 + 1  # the other events and the unquoting note


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(mbox.PARSER, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_anything_after_a_from_line_parses_without_error(body: bytes) -> None:
    items = parse_all(mbox.PARSER, b"From a@example.org Mon Jan  1 00:00:00 2024\n" + body)
    assert items


def test_fixtures_are_what_their_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", FIXTURES / "email" / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for name, build in generator.FIXTURES.items():
        assert (FIXTURES / "email" / name).read_bytes() == build(), name
    assert (generator.PNG, generator.PDF, generator.INNER) == (PNG, PDF, INNER)
