"""SMS Backup & Restore messages files: sms, mms, emoji repair, damage and refusal."""

from __future__ import annotations

import hashlib
import io
import re
import tracemalloc
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import call_log_backup, sms_backup
from parsers.base import ParseOptions, Parser
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, EventRecord, Locator, ParsedItem
from parsers.synctech_xml import LONE, PAIR, SurrogateRepair, root_start_tag
from tests.parsers.support import (
    FIXTURES,
    embedded,
    events,
    notes,
    parse_all,
    probe_of,
    source_of,
)

HERE = FIXTURES / "sms_backup"
MESSAGES = (HERE / "messages.xml").read_bytes()
EMOJI = (HERE / "emoji.xml").read_bytes()
ODD = (HERE / "odd_values.xml").read_bytes()

# The media that make_fixtures.py encoded into messages.xml.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f00050001ff56c72f0d0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"

SAM = "+447700900123"
STRANGER = "+447700900456"
OWNER = "+447700900999"


def utc(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2024, 3, 14, hour, minute, second, micro, tzinfo=UTC)


def parse_until_error(data: bytes, parser: Parser = sms_backup.PARSER,
                      ) -> tuple[list[ParsedItem], ParserError | None]:
    """Everything yielded before the parser gave up, and why it gave up."""
    items: list[ParsedItem] = []
    try:
        for item in parser.parse(source_of(data), ParseOptions()):
            items.append(item)
    except ParserError as exc:
        return items, exc
    return items, None


def sms_xml(*records: str, count: str = "") -> bytes:
    counted = f' count="{count}"' if count else ""
    return (f"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses{counted}>\n"
            + "".join(f"  {r}\n" for r in records) + "</smses>\n").encode()


# -- detection -------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "messages.xml", "emoji.xml", "odd_values.xml", "truncated.xml", "malformed.xml",
    "trailing.xml", "bare.xml", "billion_laughs.xml",
])
def test_detects_every_messages_fixture(name: str) -> None:
    assert sms_backup.PARSER.detect(probe_of((HERE / name).read_bytes()))


@pytest.mark.parametrize("data", [
    b'<smses count="0" />',
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\r\n<smses count=\"3\">",
    b'<!-- a comment -->\n<?xml-stylesheet type="text/xsl" href="sms.xsl"?>\n'
    b'<smses>\n<sms address="1" date="1" type="1" body="x" />',
    b"\xef\xbb\xbf<smses>\n  <mms date=\"1\" msg_box=\"1\">",
])
def test_detects_the_root_after_declaration_bom_comments_and_stylesheet(data: bytes) -> None:
    assert sms_backup.PARSER.detect(probe_of(data))


def other_fixtures() -> list[bytes]:
    return [path.read_bytes() for folder in sorted(FIXTURES.iterdir())
            if folder.is_dir() and folder.name != "sms_backup"
            for path in sorted(folder.iterdir()) if path.is_file() and path.suffix != ".py"]


@pytest.mark.parametrize("data", [
    (HERE / "calls.xml").read_bytes(),
    (HERE / "truncated_calls.xml").read_bytes(),
    (HERE / "external_entity.xml").read_bytes(),
    *other_fixtures(),
    b"",
    b"<smses>",  # a root name alone is too little
    b'<?xml version="1.0"?>\n<smses-archive count="2"><sms/></smses-archive>',
    b'<?xml version="1.0"?>\n<messages count="2"><sms address="1"/></messages>',
    b'<?xml version="1.0"?>\n<!-- <smses count="1"> -->\n<html><body/></html>',
    b'<?xml version="1.0"?>\n<!-- a comment that never ends <smses count="1">',
    b'{"smses": {"count": 1}}',
    b"address,date,type,body\n+447700900123,1710406800000,1,hi\n",
    b"14/03/2024, 09:00 - Sam: <smses count=\"1\">\n",
])
def test_does_not_detect_other_files(data: bytes) -> None:
    assert not sms_backup.PARSER.detect(probe_of(data))


def test_root_start_tag_skips_the_prolog() -> None:
    assert root_start_tag(MESSAGES) == (
        "smses",
        b' count="11" backup_set="5c1d3b0e-8f7a-4c2e-9d61-2b7e0f4a9c13" '
        b'backup_date="1710408600000" type="full"',
    )


# -- sms -------------------------------------------------------------------------


def message_events() -> list[EventRecord]:
    return events(parse_all(sms_backup.PARSER, MESSAGES))


def test_reads_every_sms_and_mms_in_file_order() -> None:
    found = message_events()
    assert [e.locator.json_path for e in found] == [
        "smses/sms[1]", "smses/sms[2]", "smses/sms[3]", "smses/mms[1]", "smses/sms[4]",
        "smses/sms[5]", "smses/mms[2]", "smses/sms[6]", "smses/sms[7]", "smses/mms[3]",
        "smses/sms[8]",
    ]
    assert [e.channel for e in found] == ["sms"] * 3 + ["mms"] + ["sms"] * 2 + ["mms"] + \
        ["sms"] * 2 + ["mms", "sms"]
    assert {e.kind for e in found} == {"message"}


def test_a_received_sms_is_from_the_address_named_by_the_contact() -> None:
    first = message_events()[0]
    assert first.time.instant == utc(9, 0, 0, 123000)
    assert first.time.text == "1710406800123"
    assert first.time.precision == "subsecond"
    assert first.time_basis == "received"
    assert first.direction == "incoming"
    assert first.sender == "Sam Taylor"
    assert first.sender_id == SAM
    assert first.recipients == ()
    assert first.text == "Where are you? I can see your car."
    assert first.subject is None
    assert first.conversation == SAM
    assert first.participants == (SAM,)
    assert first.flags == () and first.defects == ()
    assert first.extra == {
        "type": "1", "address": "+44 7700 900123", "contact_name": "Sam Taylor",
        "readable_date": "14 Mar 2024 09:00:00", "date_sent": "1710406799000",
        "service_center": "+447785016005",
    }


def test_a_sent_sms_is_from_the_owner_to_the_normalised_address() -> None:
    sent = message_events()[1]
    assert sent.time.instant == utc(9, 1)
    assert sent.time_basis == "sent"
    assert sent.direction == "outgoing"
    assert (sent.sender, sent.sender_id) == (None, None)
    assert sent.recipients == (SAM,)
    # "07700 900123" and "+44 7700 900123" are one conversation.
    assert sent.conversation == SAM
    assert sent.extra["address"] == "07700 900123"


def test_an_unknown_contact_shows_the_raw_address_and_is_flagged() -> None:
    third = message_events()[2]
    assert third.sender == "07700900456"
    assert third.sender_id == STRANGER
    assert "not_in_contacts" in third.flags
    assert third.extra["contact_name"] == "(Unknown)"


def test_references_and_escapes_in_the_body_are_decoded_exactly() -> None:
    third = message_events()[2]
    assert third.text == "I'm watching you \U0001F440\n& I know where you live"
    assert "utf16_surrogates_repaired" in third.flags


def test_alphanumeric_senders_and_short_codes_are_handles_not_phone_numbers() -> None:
    bank, short_code = message_events()[4:6]
    assert (bank.sender, bank.sender_id, bank.conversation) == ("BANK", "sms:bank", "sms:bank")
    assert (short_code.sender_id, short_code.participants) == ("sms:80800", ("sms:80800",))


def test_drafts_and_failed_messages_are_the_owners_and_say_so() -> None:
    draft, failed = message_events()[7:9]
    assert (draft.direction, draft.flags, draft.extra["type"]) == ("outgoing", ("draft",), "3")
    assert (failed.direction, failed.flags, failed.extra["type"]) == ("outgoing", ("failed",), "5")
    assert draft.recipients == failed.recipients == (SAM,)


def test_numbers_are_normalised_with_the_country_code_they_carry() -> None:
    us = message_events()[10]
    assert (us.sender, us.sender_id) == ("Jo", "+15555550123")


def test_the_case_region_reads_national_numbers() -> None:
    data = sms_xml('<sms address="(202) 555-0142" date="1710406800000" type="1" body="hi" />')
    found = events(parse_all(sms_backup.PARSER, data, options=ParseOptions(default_region="US")))
    assert found[0].sender_id == "+12025550142"


def test_locators_point_at_each_element_start() -> None:
    for record in message_events():
        offset = record.locator.byte_offset
        assert offset is not None and record.locator.line is not None
        tag = "<" + (record.locator.json_path or "").split("/")[1].split("[")[0]
        assert MESSAGES[offset:offset + len(tag)] == tag.encode()
        assert MESSAGES[:offset].count(b"\n") + 1 == record.locator.line
    assert [e.locator.line for e in message_events()][:4] == [5, 6, 7, 8]


# -- mms -------------------------------------------------------------------------


def test_an_mms_image_is_embedded_before_the_record_that_lists_it() -> None:
    items = parse_all(sms_backup.PARSER, MESSAGES)
    files = embedded(items)
    assert [(f.name, f.media_type, f.data) for f in files] == [
        ("IMG_0001.png", "image/png", PNG), ("part-1", "image/jpeg", JPEG),
    ]
    assert [f.sha256 for f in files] == [hashlib.sha256(PNG).hexdigest(),
                                        hashlib.sha256(JPEG).hexdigest()]
    picture = files[0]
    record = next(e for e in events(items) if e.locator.json_path == "smses/mms[1]")
    assert items.index(picture) == items.index(record) - 1
    assert record.attachments == (AttachmentRef("IMG_0001.png", picture.sha256, "image/png"),)
    assert picture.locator.json_path == "smses/mms[1]/parts[1]/part[2]"
    offset = picture.locator.byte_offset
    assert offset is not None and MESSAGES[offset:offset + 5] == b"<part"


def test_a_one_to_one_mms_is_from_its_137_address() -> None:
    mms = message_events()[3]
    assert mms.time.instant == utc(9, 3, 20)
    assert mms.direction == "incoming"
    assert (mms.sender, mms.sender_id) == ("Sam Taylor", SAM)
    assert mms.recipients == (OWNER,)
    assert mms.text == "Look what I found"
    assert mms.conversation == SAM
    assert mms.participants == (SAM, OWNER)
    assert mms.locator.message_id == "mms-1@example"
    assert mms.extra["from_address"] == SAM


def test_a_group_mms_names_its_sender_by_address_not_by_the_thread_names() -> None:
    group = message_events()[6]
    assert group.sender == STRANGER  # contact_name lists the whole thread
    assert group.sender_id == STRANGER
    assert group.recipients == (SAM, OWNER)
    assert group.participants == (STRANGER, SAM, OWNER)
    assert group.conversation == f"{SAM}~{STRANGER}"
    assert group.text == "We both know where you are"
    assert group.attachments == ()


def test_a_sent_mms_goes_to_its_to_addresses_and_its_unnamed_part_gets_a_name() -> None:
    sent = message_events()[9]
    assert sent.direction == "outgoing"
    assert (sent.sender, sent.sender_id) == (None, None)
    assert sent.recipients == (SAM,)
    assert sent.participants == (SAM,)
    assert sent.text == "This is you outside my door"
    assert sent.attachments == (
        AttachmentRef("part-1", hashlib.sha256(JPEG).hexdigest(), "image/jpeg"),
    )


# -- notes -----------------------------------------------------------------------


def test_notes_give_the_backup_and_what_it_cannot_contain() -> None:
    found = {n.code: n.message for n in notes(parse_all(sms_backup.PARSER, MESSAGES))}
    assert set(found) == {"export_scope", "backup_info", "utf16_surrogates_repaired"}
    assert found["backup_info"] == (
        "SMS Backup & Restore backup set 5c1d3b0e-8f7a-4c2e-9d61-2b7e0f4a9c13, "
        "made 2024-03-14T09:30:00.000+00:00 UTC, type full."
    )
    assert "deleted" in found["export_scope"]


def test_a_count_that_does_not_match_the_records_is_noted() -> None:
    found = {n.code: n.message for n in notes(parse_all(sms_backup.PARSER, ODD))}
    assert found["count_mismatch"] == (
        "The file says it holds 1000 message records; 8 were found."
    )


# -- emoji -----------------------------------------------------------------------


def test_surrogate_pairs_become_the_characters_and_lone_halves_become_ufffd() -> None:
    found = events(parse_all(sms_backup.PARSER, EMOJI))
    assert [e.text for e in found] == [
        "pair \U0001F61B decimal",
        "pair \U0001F600 hex",
        "lone high \ufffd then text",
        "lone low \ufffd then text",
        "high high low \ufffd\U0001F61B",
        "plain \u2764 and café",
    ]
    assert [e.flags for e in found] == [
        ("utf16_surrogates_repaired",), ("utf16_surrogates_repaired",), (), (),
        ("utf16_surrogates_repaired",), (),
    ]
    assert [e.defects for e in found] == [
        (), (), ("lone_surrogate_replaced",), ("lone_surrogate_replaced",),
        ("lone_surrogate_replaced",), (),
    ]


def test_the_repairs_are_counted_in_notes_with_the_byte_offsets_of_lone_halves() -> None:
    found = {n.code: n.message for n in notes(parse_all(sms_backup.PARSER, EMOJI))}
    lone = [m.start() for m in re.finditer(rb"&#55357;(?!&#5[6-7])|(?<!;)&#56859;", EMOJI)]
    assert len(lone) == 3
    assert found["utf16_surrogates_repaired"].endswith(
        ": 3. The records carry the flag utf16_surrogates_repaired.")
    assert f"first at bytes {lone[0]}, {lone[1]}, {lone[2]}" in found["lone_surrogates_replaced"]


def repaired(data: bytes, chunk_size: int) -> tuple[bytes, list[tuple[int, str]]]:
    repair = SurrogateRepair(io.BytesIO(data), chunk_size)
    out = b"".join(repair.chunks())
    return out, list(repair.events)


def test_repair_keeps_the_length_so_offsets_stay_those_of_the_original() -> None:
    out, found = repaired(b"a&#55357;&#56859;b&#55357;c", 1024)
    assert out == b"a&#0000000128539;b&#65533;c"
    assert len(out) == len(b"a&#55357;&#56859;b&#55357;c")
    assert found == [(1, PAIR), (18, LONE)]


@pytest.mark.parametrize("chunk_size", range(1, 40))
def test_repair_handles_references_split_across_reads(chunk_size: int) -> None:
    assert repaired(EMOJI, chunk_size) == repaired(EMOJI, len(EMOJI) + 1)


_PIECES = st.sampled_from([
    b"&#55357;", b"&#56859;", b"&#xD83D;", b"&#xde00;", b"&#10;", b"&amp;", b"&", b"#",
    b";", b"5", b"x", b"&#", b"&#5", b"&#x", b"\xc3\xa9", b"&#0055357;",
])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=30), st.integers(min_value=1, max_value=25))
def test_repair_is_the_same_whatever_the_read_size(pieces: list[bytes], size: int) -> None:
    data = b"".join(pieces)
    out, found = repaired(data, size)
    assert (out, found) == repaired(data, len(data) + 1)
    assert len(out) == len(data)


# -- per-record problems -----------------------------------------------------------


def odd_items() -> list[ParsedItem]:
    return parse_all(sms_backup.PARSER, ODD)


def test_odd_values_are_kept_with_defects_and_none_stops_the_file() -> None:
    found = events(odd_items())
    assert [e.locator.json_path for e in found] == [
        "smses/sms[1]", "smses/sms[3]", "smses/sms[4]", "smses/sms[5]", "smses/sms[6]",
        "smses/mms[1]", "smses/mms[2]",
    ]
    by_path = {e.locator.json_path: e for e in found}
    unknown = by_path["smses/sms[1]"]
    assert (unknown.direction, unknown.sender_id, unknown.defects) == (
        "unknown", None, ("unknown_type",))
    assert unknown.conversation == SAM
    no_address = by_path["smses/sms[3]"]
    assert (no_address.sender, no_address.sender_id, no_address.conversation) == (
        None, None, None)
    assert no_address.defects == ("missing_address",)
    bare = by_path["smses/sms[4]"]
    assert (bare.text, bare.recipients, bare.defects) == (None, (), ("missing_address",))
    seconds = by_path["smses/sms[5]"]
    assert seconds.time.instant == utc(9, 4)
    assert (seconds.time.precision, seconds.time.flags) == ("second", ("epoch_seconds",))


def test_an_unusable_date_falls_back_to_date_sent_as_the_sending_time() -> None:
    record = next(e for e in events(odd_items()) if e.locator.json_path == "smses/sms[6]")
    assert record.time.instant == utc(9, 5)
    assert record.time.text == "1710407100000"
    assert record.time.flags == ("from_date_sent",)
    assert record.time_basis == "sent"
    assert record.defects == ("date_out_of_range",)


def test_a_record_without_any_date_becomes_a_note_not_an_invented_time() -> None:
    found = [n for n in notes(odd_items()) if n.code == "no_date"]
    assert [n.message for n in found] == [
        "The sms at smses/sms[2] (byte 436) has no usable date or date_sent, so it has no "
        "timeline event; it is kept in the stored original.",
    ]
    assert ODD[436:440] == b"<sms"


def test_broken_mms_parts_are_listed_with_defects() -> None:
    items = odd_items()
    record = next(e for e in events(items) if e.locator.json_path == "smses/mms[2]")
    files = embedded(items)
    assert [f.name for f in files] == ["broken.png"]
    assert files[0].data == b"\x89PNG\r\n\x1a\n"
    assert record.attachments == (
        AttachmentRef("broken.png", files[0].sha256, "image/png"),
        AttachmentRef("clip.mp4", None, "video/mp4"),
        AttachmentRef("bad.gif", None, "image/gif"),
    )
    assert record.defects == (
        "part_data_not_strict_base64", "part_without_data", "undecodable_part_data")
    empty = next(e for e in events(items) if e.locator.json_path == "smses/mms[1]")
    assert (empty.direction, empty.text, empty.participants) == ("unknown", None, ())
    assert empty.defects == ("unknown_msg_box", "missing_address")


def test_unknown_elements_are_noted_not_read() -> None:
    found = {n.code: n.message for n in notes(odd_items())}
    assert found["unknown_elements"] == (
        "Elements this parser does not read, kept in the original only: <note> x1."
    )


# -- damaged and hostile files -------------------------------------------------------


def test_a_truncated_file_yields_the_records_before_the_cut_then_fails() -> None:
    data = (HERE / "truncated.xml").read_bytes()
    items, error = parse_until_error(data)
    assert [e.locator.json_path for e in events(items)] == [
        "smses/sms[1]", "smses/sms[2]", "smses/sms[3]", "smses/mms[1]",
    ]
    assert len(embedded(items)) == 1
    assert isinstance(error, DamagedInput)
    assert str(error) == (
        f"file truncated at byte {len(data)}: it ends after smses/mms[1], which starts at "
        "byte 1235; 4 complete records were read"
    )
    counted = [n.message for n in notes(items) if n.code == "count_mismatch"]
    assert counted == ["The file says it holds 11 message records; 4 were found."]


def test_a_file_cut_inside_an_mms_does_not_yield_the_partial_mms() -> None:
    cut = MESSAGES[:MESSAGES.index(b"<addrs>")]
    items, error = parse_until_error(cut)
    assert [e.locator.json_path for e in events(items)] == [
        "smses/sms[1]", "smses/sms[2]", "smses/sms[3]"]
    assert embedded(items) == []
    assert str(error) == (
        f"file truncated at byte {len(cut)}: it ends inside smses/mms[1], which starts at "
        "byte 1235; 3 complete records were read"
    )


def test_a_file_cut_inside_a_surrogate_reference_is_truncated_not_misread() -> None:
    cut = EMOJI[:EMOJI.index(b"&#56859;") + 4]
    items, error = parse_until_error(cut)
    assert isinstance(error, DamagedInput) and "truncated" in str(error)
    assert events(items) == []


def test_malformed_xml_fails_at_its_byte_after_the_good_records() -> None:
    data = (HERE / "malformed.xml").read_bytes()
    items, error = parse_until_error(data)
    assert [e.locator.json_path for e in events(items)] == ["smses/sms[1]", "smses/sms[2]"]
    assert isinstance(error, DamagedInput)
    offset = data.index(b"<3")
    assert str(error) == (
        f"XML not well-formed at byte {offset} (line 7, column 95): not well-formed "
        "(invalid token)"
    )


def test_the_billion_laughs_file_is_refused_without_expanding_anything() -> None:
    items, error = parse_until_error((HERE / "billion_laughs.xml").read_bytes())
    assert events(items) == []
    assert isinstance(error, DamagedInput)
    assert str(error).startswith("refused: the file has a DOCTYPE or entity declaration")


def test_bytes_after_the_root_are_noted_and_the_records_kept() -> None:
    items, error = parse_until_error((HERE / "trailing.xml").read_bytes())
    assert error is None
    assert len(events(items)) == 6
    assert [n.message for n in notes(items) if n.code == "trailing_data"] == [
        "Bytes after the closing </smses> were not read (junk after document element)."
    ]


def test_a_bare_file_with_a_bom_and_no_prolog_is_read() -> None:
    data = (HERE / "bare.xml").read_bytes()
    found = events(parse_all(sms_backup.PARSER, data))
    assert [e.text for e in found] == ["bare"]
    assert found[0].locator.byte_offset == 10 and data[10:14] == b"<sms"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a readable <smses> XML file: no element found (line 1, column 0)"),
    ((HERE / "calls.xml").read_bytes(), "root element is <calls>, not <smses>"),
    (b"<?xml version='1.0'?>\n<!-- only a comment -->\n",
     "not a readable <smses> XML file: no element found (line 3, column 0)"),
])
def test_files_that_are_not_a_messages_backup_are_damaged_input(data: bytes,
                                                                 message: str) -> None:
    items, error = parse_until_error(data)
    assert events(items) == []
    assert str(error) == message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_exception_but_parser_errors_escape_for_any_damage(data: st.DataObject) -> None:
    original = bytearray(data.draw(st.sampled_from([MESSAGES, EMOJI, ODD])))
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
        original[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(original)))
    parse_until_error(bytes(original[:cut]))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_no_exception_but_parser_errors_escape_for_any_bytes(tail: bytes) -> None:
    parse_until_error(b'<smses count="1"><sms ' + tail)
    parse_until_error(b'<smses count="1"><mms date="1710406800000" msg_box="1"><parts>' + tail)


# -- streaming -------------------------------------------------------------------------


def test_a_file_can_be_parsed_twice_from_the_same_source() -> None:
    source = source_of(MESSAGES)
    first = list(sms_backup.PARSER.parse(source, ParseOptions()))
    assert list(sms_backup.PARSER.parse(source, ParseOptions())) == first


def test_memory_stays_flat_while_a_large_file_streams() -> None:
    record = ('<sms protocol="0" address="+447700900123" date="{}" type="1" subject="null" '
              'body="{}" service_center="null" read="1" status="-1" date_sent="0" '
              'readable_date="14 Mar 2024" contact_name="Sam Taylor" />')
    body = "I am outside your house again " * 30 + "&#55357;&#56859;"
    data = sms_xml(*(record.format(1710406800000 + n, body) for n in range(8_000)))
    assert len(data) > 8_000_000
    tracemalloc.start()
    try:
        count = sum(1 for item in sms_backup.PARSER.parse(source_of(data), ParseOptions())
                    if isinstance(item, EventRecord))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 8_000
    # The file is 8 MB; what is held at once is a read's worth of records.
    assert peak < 2_000_000


def test_the_call_parser_does_not_claim_a_messages_file() -> None:
    assert not call_log_backup.PARSER.detect(probe_of(MESSAGES))


def test_an_unknown_declared_encoding_is_damaged_input() -> None:
    data = MESSAGES.replace(b"encoding='UTF-8'", b"encoding='ATF-8'")
    items, error = parse_until_error(data)
    assert events(items) == []
    assert str(error) == "cannot decode the file (LookupError: unknown encoding: ATF-8)"


def test_any_doctype_is_refused_even_without_entities() -> None:
    _, error = parse_until_error(b'<!DOCTYPE smses SYSTEM "sms.dtd">\n<smses count="0"/>')
    assert str(error).startswith("refused: the file has a DOCTYPE")


def test_a_record_the_builder_cannot_read_becomes_a_note_and_the_file_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = sms_backup._Builder._sms

    def fragile(self: sms_backup._Builder, attributes: dict[str, str],
                locator: Locator) -> list[ParsedItem]:
        if attributes.get("address") == "BANK":
            raise RuntimeError("unforeseen")
        return original(self, attributes, locator)

    monkeypatch.setattr(sms_backup._Builder, "_sms", fragile)
    items = parse_all(sms_backup.PARSER, MESSAGES)
    assert len(events(items)) == 10
    offset = MESSAGES.index(b'<sms protocol="0" address="BANK"')
    assert [n.message for n in notes(items) if n.code == "unreadable_record"] == [
        f"The message at smses/sms[4] (byte {offset}) could not be read (RuntimeError: "
        "unforeseen); it is kept in the stored original only."
    ]
    assert not [n for n in notes(items) if n.code == "count_mismatch"]
