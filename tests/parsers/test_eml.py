"""The .eml parser and the message reading it shares with mbox: detection, decoding, times."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from datetime import UTC, datetime
from email.policy import default as default_policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import eml, mbox
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, EventRecord
from tests.parsers.support import FIXTURES, embedded, events, notes, parse_all, probe_of

EMAIL = FIXTURES / "email"
HTML_ONLY = (EMAIL / "html_only.eml").read_bytes()
RFC2231 = (EMAIL / "rfc2231_attachment.eml").read_bytes()
NO_DATE = (EMAIL / "no_date.eml").read_bytes()
NOTES_PDF = b"%PDF-1.4\n% notes\n%%EOF\n"

HEAD = (
    b"Message-ID: <t@example.com>\n"
    b"Date: Tue, 12 Mar 2024 10:00:00 +0000\n"
    b"From: Sam <sam@example.com>\n"
    b"To: victim@example.com\n"
)


def the_event(data: bytes) -> EventRecord:
    [record] = events(parse_all(eml.PARSER, data))
    return record


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- detection -----------------------------------------------------------------


@pytest.mark.parametrize("data", [
    HTML_ONLY,
    RFC2231,
    NO_DATE,
    b"From: a@example.com\nSubject: hi\n\nbody\n",
    b"Received: from x by y; Tue, 12 Mar 2024 10:00:00 +0000\r\n"
    b"X-Mailer: test\r\n\tcontinued\r\nDate: now\r\n\r\nbody\r\n",
    b"\xef\xbb\xbf" + HEAD + b"\nbody\n",
])
def test_detects_files_that_start_with_mail_headers(data: bytes) -> None:
    assert eml.PARSER.detect(probe_of(data))


@pytest.mark.parametrize("data", [
    b"12/03/2024, 22:15 - Sam: Subject: hi\n12/03/2024, 22:16 - Jo: From: me\n",
    b"[12/03/2024, 22:15:03] Sam: Date: tomorrow\n[12/03/2024, 22:15:09] Jo: ok\n",
    "\u200e[12/03/2024, 22:15:03] Sam: From: x\n".encode(),
    b"date,from,subject\n2024-03-12,sam@example.com,hello\n",
    b'{"from": "sam@example.com", "subject": "hi"}\n',
    b"From: the inspector\nWe met on Tuesday and Date: was agreed.\n",
    b"Dear officer, I am writing about the messages.\n",
    b"name: conduct\nversion: 1\n",
    b"Subject: only one known header\n\nbody\n",
    (EMAIL / "sample.mbox").read_bytes(),
    b"",
])
def test_does_not_detect_chats_tables_prose_or_mboxes(data: bytes) -> None:
    assert not eml.PARSER.detect(probe_of(data))


def test_mbox_does_not_claim_an_eml_and_eml_does_not_claim_an_mbox() -> None:
    for data in (HTML_ONLY, RFC2231, NO_DATE):
        assert not mbox.PARSER.detect(probe_of(data))


# -- bodies ---------------------------------------------------------------------------


def test_an_html_only_body_becomes_text_and_is_flagged() -> None:
    record = the_event(HTML_ONLY)
    assert record.text == "I am watching you.\nCafé at 8.\nAlone."
    assert record.flags == ("html_body",)
    assert (record.sender, record.sender_id, record.subject) == (
        "Anon", "anon@example.com", "Look")
    assert record.time.instant == utc(2024, 3, 15, 18, 0)
    assert record.locator.as_dict() == {
        "line": 1, "byte_offset": 0, "byte_length": len(HTML_ONLY),
        "message_id": "html1@example.com",
    }


def test_an_undeclared_utf8_body_is_decoded_and_flagged() -> None:
    record = the_event(HEAD + b"\nGr\xc3\xbc\xc3\x9fe\n")
    assert record.text == "Grüße\n"
    assert record.defects == ("body_charset_mismatch",)


@pytest.mark.parametrize("charset", [b"x-klingon", b"base64", b"\"utf\x00-8\""])
def test_an_unknown_charset_is_read_as_utf8_with_a_defect(charset: bytes) -> None:
    data = HEAD + b"Content-Type: text/plain; charset=" + charset + b"\n\nqapla\xc3\xa9\n"
    record = the_event(data)
    assert record.text == "qaplaé\n"
    assert record.defects == ("unknown_charset",)


def test_undecodable_bytes_are_replaced_and_recorded() -> None:
    data = HEAD + b"Content-Type: text/plain; charset=utf-8\n\nbad \xff byte\n"
    record = the_event(data)
    assert record.text == "bad \ufffd byte\n"
    assert record.defects == ("undecodable_body",)


def test_broken_base64_keeps_the_message_and_names_the_defect() -> None:
    data = HEAD + b"Content-Transfer-Encoding: base64\n\naGVsbG8\n"
    record = the_event(data)
    assert record.text == "hello"
    assert record.defects == ("invalid_base64_padding",)


def test_a_multipart_without_boundary_still_gives_a_record() -> None:
    # CPython's get_body raises AttributeError on this structure.
    data = (HEAD + b"Content-Type: multipart/mixed; boundary=a\n\n"
            b"--a\nContent-Type: multipart/related\n\nno parts here\n--a--\n")
    record = the_event(data)
    assert record.text is None
    assert "unreadable_body_structure" in record.defects
    assert "no_boundary_in_multipart" in record.defects


# -- headers --------------------------------------------------------------------------


def test_raw_utf8_headers_are_text_and_not_a_defect() -> None:
    data = ("From: Zoë <zoe@example.com>\nDate: Tue, 12 Mar 2024 10:00:00 +0000\n"
            "Subject: Grüße\n\nx\n").encode()
    record = the_event(data)
    assert (record.sender, record.subject, record.defects) == ("Zoë", "Grüße", ())


def test_header_bytes_that_are_not_utf8_are_replaced_and_recorded() -> None:
    record = the_event(HEAD + b"Subject: caf\xe9\n\nx\n")
    assert record.subject == "caf\ufffd"
    assert record.defects == ("undecodable_header:subject",)


def test_an_encoded_word_in_an_unknown_charset_does_not_stop_the_message() -> None:
    record = the_event(HEAD + b"Subject: =?x-unknown?q?abc?= and more\n\nx\n")
    assert record.subject is not None and record.subject.endswith("and more")


@pytest.mark.parametrize("value", [
    "Sam <sam@example.com>",
    '"Sam Smith" <Sam.Smith@Example.COM>',
    "sam@example.com",
    "<sam@example.com>",
    "O'Brien<ob@example.ie>",
    "=?utf-8?q?S=C3=A1m?= <sam@example.com>",
    '"Smith, Sam" <sam@example.com>',
    "Sam (work) <sam@example.com>",
    "sam@example.com (Sam)",
])
def test_senders_read_as_the_stdlib_reads_them(value: str) -> None:
    header = default_policy.header_fetch_parse("from", value)
    record = the_event(f"From: {value}\nDate: Tue, 12 Mar 2024 10:00:00 +0000\n\nx\n".encode())
    address = header.addresses[0]
    assert record.sender == (address.display_name or address.addr_spec.lower())
    assert record.sender_id == address.addr_spec.lower()
    assert record.extra["from"] == str(header)


def test_recipients_are_deduplicated_and_groups_flattened() -> None:
    data = (b"From: a@example.com\nDate: Tue, 12 Mar 2024 10:00:00 +0000\n"
            b"To: Friends: B@example.com, c@example.com;, b@example.com\n"
            b"Cc: undisclosed-recipients:;\n\nx\n")
    assert the_event(data).recipients == ("b@example.com", "c@example.com")


# -- times ------------------------------------------------------------------------------


@pytest.mark.parametrize(("date", "instant", "local", "precision", "flags"), [
    ("Tue, 12 Mar 2024 10:00:00 +0530", utc(2024, 3, 12, 4, 30), None, "second", ()),
    ("12 Mar 2024 10:00 GMT", utc(2024, 3, 12, 10, 0), None, "minute", ()),
    ("Tue, 12 Mar 2024 10:00:00 -0000", utc(2024, 3, 12, 10, 0), None, "second",
     ("zone_minus_0000",)),
    ("Tue, 12 Mar 2024 10:00:00", None, datetime(2024, 3, 12, 10, 0), "second",
     ("date_zone_unknown",)),
    ("Tue, 12 Mar 2024 10:00:00 CEST", None, datetime(2024, 3, 12, 10, 0), "second",
     ("date_zone_unknown",)),
])
def test_date_headers_keep_their_text_and_only_stated_zones(
    date: str, instant: datetime | None, local: datetime | None, precision: str,
    flags: tuple[str, ...],
) -> None:
    record = the_event(f"From: a@example.com\nSubject: s\nDate: {date}\n\nx\n".encode())
    assert record.time.text == date
    assert (record.time.instant, record.time.local) == (instant, local)
    assert (record.time.precision, record.time.flags) == (precision, flags)
    assert record.time_basis == "sent"


def test_without_a_date_the_earliest_received_stamp_is_used() -> None:
    record = the_event(NO_DATE)
    assert record.time.instant == utc(2024, 3, 17, 8, 0, 3)
    assert record.time.text == "Sun, 17 Mar 2024 09:00:03 +0100"
    assert record.time.flags == ("date_from_received",)
    assert record.time_basis == "received"
    assert record.defects == ("missing_date",)


def test_without_any_time_there_is_a_note_and_the_attachments_but_no_event() -> None:
    data = (b"Message-ID: <undated@example.com>\nFrom: a@example.com\n"
            b"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
            b"iVBORw0KGgo=\n")
    items = parse_all(eml.PARSER, data)
    assert events(items) == []
    [image] = embedded(items)
    assert image.data == b"\x89PNG\r\n\x1a\n"
    [note] = notes(items)
    assert note.code == "no_date"
    assert "undated@example.com" in note.message


# -- attachments ----------------------------------------------------------------------


def test_an_rfc2231_encoded_filename_is_decoded() -> None:
    items = parse_all(eml.PARSER, RFC2231)
    [attachment] = embedded(items)
    assert attachment.name == "Überwachung Notizen.pdf"
    assert attachment.data == NOTES_PDF
    assert attachment.sha256 == hashlib.sha256(NOTES_PDF).hexdigest()
    assert attachment.media_type == "application/pdf"
    assert attachment.locator.json_path == "2"
    assert attachment.locator.message_id == "att1@example.com"
    assert events(items) == [the_event(RFC2231)]
    assert items.index(attachment) < items.index(the_event(RFC2231))
    assert the_event(RFC2231).attachments == (
        AttachmentRef("Überwachung Notizen.pdf", hashlib.sha256(NOTES_PDF).hexdigest(),
                      "application/pdf"),
    )
    assert the_event(RFC2231).text == "See attached."


def test_attachment_names_cannot_carry_paths_and_unnamed_ones_are_numbered() -> None:
    data = (HEAD + b"Content-Type: multipart/mixed; boundary=z\n\n"
            b"--z\nContent-Type: text/plain\n\nhi\n"
            b"--z\nContent-Type: text/plain\nContent-Disposition: attachment; "
            b"filename=\"../../etc/passwd\"\n\nroot\n"
            b"--z\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            + base64.b64encode(b"\x00\x01") + b"\n--z--\n")
    files = embedded(parse_all(eml.PARSER, data))
    assert [(f.name, f.data, f.locator.json_path) for f in files] == [
        ("passwd", b"root", "2"), ("attachment-2", b"\x00\x01", "3"),
    ]


# -- damaged input ----------------------------------------------------------------------


def test_a_byte_order_mark_is_noted_and_skipped() -> None:
    items = parse_all(eml.PARSER, b"\xef\xbb\xbf" + HEAD + b"\nbody\n")
    assert [n.code for n in notes(items)] == ["bom"]
    [record] = events(items)
    assert record.locator.byte_offset == 3
    assert record.text == "body\n"


@pytest.mark.parametrize("data", [b"", b"hello world\n", b"\x00\x01\x02"])
def test_content_without_headers_is_damaged(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(eml.PARSER, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(eml.PARSER, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([
    b"\n", b"\r\n", b"Content-Type: multipart/mixed; boundary=q\n", b"--q\n", b"--q--\n",
    b"Content-Transfer-Encoding: base64\n", b"Content-Disposition: attachment; filename*=x''",
    b"=?utf-8?b?", b"?=", b"\xff", b"Date: ", b"Tue, 12 Mar 2024 10:00:00 +0000", b"<", b">",
    b"Content-Type: message/rfc822\n", b"charset=", b"\"", b";", b"From: ", b"a@b.c", b"\x00",
]), max_size=60))
def test_mime_shaped_garbage_never_escapes(pieces: list[bytes]) -> None:
    parse_all(eml.PARSER, b"Subject: s\n" + b"".join(pieces))
