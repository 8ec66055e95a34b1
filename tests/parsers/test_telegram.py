"""Telegram Desktop JSON exports: detection, both export shapes, times, people, media, damage.

Fixtures are written by tests/fixtures/telegram/make_fixtures.py (the layout of
Telegram Desktop's JSON writer); each test names the behaviour it checks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, ParsedItem
from parsers.telegram import PARSER
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

TG = FIXTURES / "telegram"
ALL_FIXTURES = sorted(p.name for p in TG.glob("*.json"))
SAM = "telegram:user4200000042"
DANA = "telegram:user5000000001"
ALEX = "telegram:user4300000043"
PHOTO = "photos/photo_1@12-03-2024_21-18-00.jpg"
VOICE = "voice_messages/audio_1@12-03-2024_21-19-30.ogg"
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
SHA_PHOTO = "a" * 64


def data_of(name: str) -> bytes:
    return (TG / name).read_bytes()


def parse(name: str, siblings: dict[str, str] | None = None) -> list[ParsedItem]:
    return parse_all(PARSER, data_of(name), "result.json", siblings=siblings)


def parse_bytes(data: bytes) -> list[ParsedItem]:
    return parse_all(PARSER, data, "result.json")


def note_codes(items: list[ParsedItem]) -> list[str]:
    return [n.code for n in notes(items)]


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def until_damaged(data: bytes) -> tuple[list[ParsedItem], DamagedInput]:
    """Everything parse yields before it raises, and the error."""
    items: list[ParsedItem] = []
    source = SourceFile("result.json", "0" * 64, len(data), "application/json",
                        lambda: io.BytesIO(data))
    with pytest.raises(DamagedInput) as raised:
        for item in PARSER.parse(source, ParseOptions()):
            items.append(item)
    return items, raised.value


def single_chat(*messages: object, header: str = '"name": "Sam", "type": "personal_chat", '
                '"id": 4200000042') -> bytes:
    return ("{" + header + ', "messages": ' + json.dumps(list(messages)) + "}").encode()


# -- identity and detection ------------------------------------------------------------


def test_parser_identifies_itself_as_telegram() -> None:
    assert (PARSER.name, PARSER.format, PARSER.version) == ("telegram", "telegram", "1.0.0")


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_detects_every_export_variant(name: str) -> None:
    assert PARSER.detect(probe_of(data_of(name), name))


def test_detection_works_on_the_probe_head_of_a_large_export() -> None:
    data = data_of("single_personal.json")
    big = data[:-3] + b",\n" + b'  {"id": 1, "type": "message"},\n' * 5000 + b"{}]}"
    probe = probe_of(big)
    assert len(probe.head) == 64 * 1024 and PARSER.detect(probe)


def test_detects_a_chat_export_without_a_name_and_one_with_a_bom() -> None:
    assert PARSER.detect(probe_of(b'{\n "type": "saved_messages",\n "id": 1,\n "messages": [\n'))
    assert PARSER.detect(probe_of(b"\xef\xbb\xbf" + data_of("single_personal.json")))
    assert PARSER.detect(probe_of(b'{"name": null, "type": null, "id": -100, "messages": []}'))


META = json.dumps({"participants": [{"name": "Sam"}], "messages": [
    {"sender_name": "Sam", "timestamp_ms": 1710278103000, "content": "hi"}]}).encode()
GENERIC_MESSAGES = json.dumps({"messages": [{"date": "2024-03-12", "text": "hi"}]}).encode()
NEAR_MISS = b'{"name": "Sam", "type": "Personal Chat", "id": "abc", "messages": []}'
ABOUT_ONLY = b'{"about": "me", "name": "Sam", "messages": []}'
X_ARCHIVE = b'window.YTD.direct_messages.part0 = [ {"dmConversation": {}} ]'
SMS_XML = b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"0\"></smses>"


@pytest.mark.parametrize("data", [
    META, GENERIC_MESSAGES, NEAR_MISS, ABOUT_ONLY, X_ARCHIVE, SMS_XML, b"", b"{}", b"[]",
    (FIXTURES / "whatsapp" / "android_en_gb_24h.txt").read_bytes(),
    (FIXTURES / "whatsapp" / "ios_group.txt").read_bytes(),
    (FIXTURES / "email" / "sample.mbox").read_bytes(),
    (FIXTURES / "email" / "html_only.eml").read_bytes(),
    (FIXTURES / "ios_sms" / "ios_sms.db").read_bytes(),
], ids=["meta", "generic-json", "near-miss", "about-only", "x-archive", "sms-xml", "empty",
        "empty-object", "empty-array", "whatsapp-android", "whatsapp-ios", "mbox", "eml",
        "sms-db"])
def test_does_not_claim_other_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- a single-chat export ---------------------------------------------------------------


def test_single_chat_gives_one_record_per_message_in_file_order() -> None:
    items = parse("single_personal.json")
    records = events(items)
    assert len(records) == 16
    assert [r.locator.json_path for r in records] == [f"messages[{i}]" for i in range(16)]
    assert [r.locator.message_id for r in records] == [str(i) for i in range(101, 117)]
    assert [r.kind for r in records] == (
        ["message"] * 9 + ["call"] * 3 + ["message"] * 2 + ["system", "message"])
    assert note_codes(items) == ["telegram_export_limits", "telegram_single_chat",
                                 "media_not_exported", "media_not_delivered",
                                 "exporter_utc_offsets"]


def test_date_unixtime_is_the_instant_and_date_is_kept_as_the_exporters_wall_clock() -> None:
    first = events(parse("single_personal.json"))[0]
    assert first.time.instant == utc(2024, 3, 12, 21, 15, 3)
    assert (first.time.text, first.time.local, first.time.precision, first.time.flags) == (
        "1710278103", None, "second", ())
    assert first.extra["date_local"] == "2024-03-12T21:15:03"
    assert first.time_basis == "sent" and first.channel == "telegram"


def test_senders_are_names_with_their_telegram_ids_and_no_direction_in_a_chat_export() -> None:
    records = events(parse("single_personal.json"))
    assert [(r.sender, r.sender_id) for r in records[:2]] == [("Sam", SAM), ("Dana", DANA)]
    assert {r.direction for r in records} == {"unknown"}
    assert {r.recipients for r in records} == {()}


def test_every_record_carries_the_chat_as_conversation_and_the_peer_as_participant() -> None:
    records = events(parse("single_personal.json"))
    assert {r.conversation for r in records} == {"4200000042"}
    assert {r.participants for r in records} == {(SAM,)}
    assert records[0].extra["chat_name"] == "Sam"
    assert records[0].extra["chat_type"] == "personal_chat"


def test_text_made_of_parts_is_joined_exactly_and_links_and_mentions_are_kept() -> None:
    record = events(parse("single_personal.json"))[2]
    assert record.text == "Look at this Dana \u2014 I know where you are"
    assert record.extra["links"] == "https://example.com/you"
    assert record.extra["mentioned_ids"] == DANA


def test_multi_line_text_keeps_its_line_break() -> None:
    assert events(parse("single_personal.json"))[15].text == "Line one\nline two"


def test_media_is_linked_to_the_delivered_file_by_its_export_path() -> None:
    records = events(parse("single_personal.json", siblings={PHOTO: SHA_PHOTO}))
    photo, voice = records[3], records[4]
    assert photo.attachments == (AttachmentRef(PHOTO, SHA_PHOTO),)
    assert (photo.text, photo.extra["width"], photo.extra["height"]) == (
        "Outside now", "1280", "960")
    assert voice.attachments == (AttachmentRef(VOICE, None, "audio/ogg"),)
    assert voice.text is None
    assert (voice.extra["media_type"], voice.extra["duration_seconds"]) == (
        "voice_message", "7")


def test_media_left_out_of_the_export_is_flagged_with_no_hash() -> None:
    record = events(parse("single_personal.json"))[5]
    assert record.flags == ("media_not_exported",)
    assert record.attachments == (AttachmentRef(NOT_INCLUDED, None, "video/mp4"),
                                  AttachmentRef(NOT_INCLUDED, None, None))
    assert record.text == "see attached"


def test_a_sticker_keeps_its_emoji_and_both_files() -> None:
    record = events(parse("single_personal.json"))[12]
    assert [a.name for a in record.attachments] == [
        "stickers/sticker.webp", "stickers/sticker.webp_thumb.jpg"]
    assert record.extra["sticker_emoji"] == "\U0001f608"


def test_edits_forwards_and_replies_are_flagged_and_kept() -> None:
    records = events(parse("single_personal.json"))
    edited, forwarded, reply = records[6], records[7], records[8]
    assert edited.flags == ("edited",)
    assert (edited.extra["edited"], edited.extra["edited_unixtime"]) == (
        "2024-03-12T21:25:00", "1710278700")
    assert edited.time.instant == utc(2024, 3, 12, 21, 21)  # the send time, not the edit
    assert forwarded.flags == ("forwarded",)
    assert forwarded.extra["forwarded_from"] == "Alex Morgan"
    assert forwarded.sender_id == SAM  # who forwarded it, not the original author
    assert reply.extra["reply_to_message_id"] == "102"


def test_phone_calls_are_calls_at_their_start_with_missed_and_declined_flags() -> None:
    missed, busy, hangup = events(parse("single_personal.json"))[9:12]
    assert {c.kind for c in (missed, busy, hangup)} == {"call"}
    assert {c.time_basis for c in (missed, busy, hangup)} == {"call_started"}
    assert (missed.flags, busy.flags, hangup.flags) == (("missed",), ("declined",), ())
    assert (missed.sender, missed.sender_id) == ("Sam", SAM)
    assert (hangup.sender_id, hangup.extra["duration_seconds"]) == (DANA, "64")
    assert missed.extra["discard_reason"] == "missed" and missed.text is None
    assert missed.time.instant == utc(2024, 3, 12, 21, 30)


def test_other_service_messages_are_system_records_of_their_actor() -> None:
    pin = events(parse("single_personal.json"))[14]
    assert (pin.kind, pin.sender, pin.sender_id, pin.text) == ("system", "Sam", SAM, None)
    assert (pin.extra["action"], pin.extra["message_id"]) == ("pin_message", "103")


def test_service_messages_without_an_actor_use_from_and_group_calls_are_calls() -> None:
    near = {"id": 1, "type": "service", "date_unixtime": "1710278103",
            "action": "proximity_reached", "from": "Sam", "from_id": "user4200000042",
            "to": "Dana", "to_id": "user5000000001", "distance": 50, "text": ""}
    call = {"id": 2, "type": "service", "date_unixtime": "1710278200", "actor": "Sam",
            "actor_id": "user4200000042", "action": "group_call", "duration": 30, "text": ""}
    proximity, group_call = events(parse_bytes(single_chat(near, call)))
    assert (proximity.kind, proximity.sender_id) == ("system", SAM)
    assert (proximity.extra["to_id"], proximity.extra["distance"]) == ("user5000000001", "50")
    assert (group_call.kind, group_call.time_basis, group_call.flags) == (
        "call", "call_started", ("group_call",))


def test_a_location_is_kept_in_extra_as_json() -> None:
    record = events(parse("single_personal.json"))[13]
    assert json.loads(record.extra["location_information"]) == {
        "latitude": "51.501364", "longitude": "-0.14189"}


def test_the_exporters_utc_offset_is_reported_from_date_and_date_unixtime() -> None:
    note = notes(parse("single_personal.json"))[-1]
    assert note.code == "exporter_utc_offsets"
    assert "UTC+00:00 (16 message(s))" in note.message


def test_an_empty_chat_gives_notes_and_no_records() -> None:
    items = parse("empty_chat.json")
    assert events(items) == []
    assert note_codes(items) == ["telegram_export_limits", "telegram_single_chat"]


def test_saved_messages_belong_to_the_account_whose_id_is_the_chats() -> None:
    items = parse("saved_messages.json")
    (record,) = events(items)
    assert (record.conversation, record.participants, record.direction) == (
        "5000000001", (DANA,), "unknown")
    assert "an unnamed chat" in notes(items)[1].message


# -- a full account export -----------------------------------------------------------------


def test_full_export_reads_every_chat_and_left_chat_with_their_paths() -> None:
    items = parse("full_export.json")
    records = events(items)
    assert [r.locator.json_path for r in records] == [
        "chats.list[0].messages[0]", "chats.list[0].messages[1]", "chats.list[0].messages[2]",
        "chats.list[1].messages[0]", "chats.list[1].messages[1]", "chats.list[1].messages[2]",
        "chats.list[1].messages[3]", "chats.list[2].messages[0]",
        "left_chats.list[0].messages[0]",
    ]
    assert [r.conversation for r in records] == (
        ["4200000042"] * 3 + ["880000001"] * 4 + ["5000000001", "1777000001"])
    assert note_codes(items) == ["telegram_export_limits", "telegram_full_export",
                                 "telegram_chats", "exporter_utc_offsets"]
    assert notes(items)[2].message == "Chats read: 3 in chats.list, 1 in left_chats.list."


def test_a_full_export_without_chats_says_so() -> None:
    items = parse_bytes(b'{"about": "x", "personal_information": {"user_id": 5000000001}, '
                        b'"contacts": {"about": "y", "list": []}}')
    assert events(items) == []
    assert note_codes(items) == ["telegram_export_limits", "telegram_full_export", "no_chats"]


def test_full_export_knows_the_owner_so_direction_and_recipients_are_given() -> None:
    incoming, outgoing = events(parse("full_export.json"))[:2]
    assert (incoming.direction, incoming.recipients) == ("incoming", (DANA,))
    assert (outgoing.direction, outgoing.recipients) == ("outgoing", (SAM,))
    assert incoming.participants == (SAM, DANA)


def test_group_records_have_no_participants_but_their_senders_ids() -> None:
    group = events(parse("full_export.json"))[3:7]
    assert {r.participants for r in group} == {()}
    assert [(r.kind, r.sender_id, r.direction) for r in group] == [
        ("system", DANA, "outgoing"), ("system", ALEX, "incoming"),
        ("message", SAM, "incoming"), ("message", DANA, "outgoing")]
    assert group[0].extra["action"] == "create_group"
    assert json.loads(group[0].extra["members"]) == ["Dana", "Alex Morgan"]
    assert group[0].locator.message_id == "-5"  # migrated groups have negative ids
    assert {r.recipients for r in group} == {()}


def test_channel_posts_carry_the_channel_id_and_the_signature() -> None:
    post = events(parse("full_export.json"))[-1]
    assert (post.sender, post.sender_id, post.direction) == (
        "Local News", "telegram:channel1777000001", "incoming")
    assert post.extra["author"] == "Editor"
    assert post.extra["chat_type"] == "public_channel"


def test_full_export_offsets_show_the_exporters_summer_time() -> None:
    note = notes(parse("full_export.json"))[-1]
    assert "UTC+00:00 (8 message(s)), UTC+01:00 (1 message(s))" in note.message


# -- older exports ---------------------------------------------------------------------------


def test_an_old_export_without_unixtime_gives_local_wall_clock_times_flagged() -> None:
    items = parse("old_export.json")
    first = events(items)[0]
    assert first.time.local == datetime(2020, 1, 5, 14, 3, 11)
    assert (first.time.instant, first.time.text, first.time.flags) == (
        None, "2020-01-05T14:03:11", ("exporter_local_time",))
    assert note_codes(items) == ["telegram_export_limits", "telegram_single_chat",
                                 "exporter_local_time", "bare_from_ids",
                                 "not_edited_placeholder"]


def test_an_old_export_bare_from_id_is_read_as_a_user_id() -> None:
    first, second = events(parse("old_export.json"))
    assert first.sender_id == SAM
    assert (second.sender, second.sender_id) == (None, "telegram:user4100000041")


def test_the_1970_edited_placeholder_is_not_an_edit_but_a_real_edit_is() -> None:
    items = parse("old_export.json")
    first, second = events(items)
    assert (first.flags, second.flags) == ((), ("edited",))
    assert first.extra["edited"] == "1970-01-01T05:00:00"
    assert "'1970-01-01T05:00:00'" in notes(items)[-1].message


# -- writer faults and damage -----------------------------------------------------------------


def test_control_characters_written_as_backslash_x_are_read_as_meant_and_noted() -> None:
    items = parse("control_escape.json")
    first, second = events(items)
    assert first.text == "tab\u000bbed \\x41 kept"  # an escaped backslash before x is text
    assert second.text == "after"
    assert "control_escapes_repaired" in note_codes(items)
    assert notes(items)[2].message.startswith("2 control character(s)")


class Trickle(io.RawIOBase):
    """A stream that returns at most `step` bytes per read, as a slow pipe might."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        piece = self.data[self.at:self.at + min(self.step, len(buffer))]
        buffer[:len(piece)] = piece
        self.at += len(piece)
        return len(piece)


@pytest.mark.parametrize("step", [1, 2, 3, 4, 5, 7, 64])
def test_escape_repair_is_the_same_whatever_the_read_sizes(step: int) -> None:
    data = data_of("control_escape.json")
    source = SourceFile("result.json", "0" * 64, len(data), "application/json",
                        lambda: Trickle(data, step))  # type: ignore[arg-type, return-value]
    texts = [r.text for r in events(list(PARSER.parse(source, ParseOptions())))]
    assert texts == ["tab\u000bbed \\x41 kept", "after"]


def test_a_leading_byte_order_mark_is_skipped_and_noted() -> None:
    items = parse_bytes(b"\xef\xbb\xbf" + data_of("single_personal.json"))
    assert len(events(items)) == 16
    assert "bom" in note_codes(items)


def test_a_truncated_export_keeps_the_messages_before_the_cut_then_fails() -> None:
    items, error = until_damaged(data_of("truncated.json"))
    assert [r.locator.json_path for r in events(items)] == [f"messages[{i}]" for i in range(4)]
    assert "after 4 message(s)" in str(error) and "messages[3]" in str(error)
    assert note_codes(items)[-1] == "exporter_utc_offsets"  # notes come before the error


def test_records_with_wrong_types_are_kept_with_defects_or_skipped_and_counted() -> None:
    items = parse("wrong_types.json")
    records = events(items)
    assert [r.locator.json_path for r in records] == [
        "messages[0]", "messages[1]", "messages[5]", "messages[6]", "messages[7]",
        "messages[8]"]
    bad_unix, bad_from, bad_part, bad_photo, bad_reason = records[1:]
    assert bad_unix.defects == ("bad_date_unixtime",)
    assert bad_unix.time.local == datetime(2024, 4, 1, 9, 0)
    assert (bad_from.sender_id, bad_from.text, bad_from.defects) == (
        None, None, ("bad_from_id", "bad_text"))
    assert bad_from.extra["text_raw"] == "17"
    assert (bad_part.sender, bad_part.text, bad_part.defects) == (None, "ab", ("bad_text_part",))
    assert (bad_photo.attachments, bad_photo.defects) == ((), ("bad_media_path",))
    assert bad_photo.extra["photo_raw"] == '["x"]'
    assert (bad_reason.kind, bad_reason.flags) == ("call", ())
    codes = note_codes(items)
    assert {"skipped_no_readable_date", "skipped_not_an_object", "skipped_unsupported"} <= set(
        codes)
    assert "messages[2]" in notes(items)[codes.index("skipped_no_readable_date")].message


@pytest.mark.parametrize("data", [
    b"", b"[]", b'"text"', b'{"name": "Sam", "type": "personal_chat", "id": 1}',
    b'{"name": "Sam", "messages": {"a": 1}}', b"{not json", b'{"name": "\xff"}',
    b'{"name": "Sam", "type": "personal_chat", "id": 1, "messages": [' + b"[" * 100_000,
], ids=["empty", "array", "string", "no-messages", "messages-not-list", "broken", "bad-utf8",
        "absurdly-deep"])
def test_files_that_are_not_readable_exports_raise_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_bytes(data)


@pytest.mark.parametrize("step", [2500, 4099, 65536])
def test_brackets_inside_message_text_are_not_mistaken_for_deep_nesting(step: int) -> None:
    text = '"quoted" \\ ' + "[" * 5000 + '\\"' + "{" * 3000
    message = {"id": 1, "type": "message", "date_unixtime": "1710278103", "text": text}
    data = single_chat(message, message)
    source = SourceFile("result.json", "0" * 64, len(data), "application/json",
                        lambda: Trickle(data, step))  # type: ignore[arg-type, return-value]
    records = events(list(PARSER.parse(source, ParseOptions())))
    assert [r.text for r in records] == [text, text]


def test_a_message_without_unixtime_or_date_is_skipped_not_invented() -> None:
    items = parse_bytes(single_chat({"id": 1, "type": "message", "text": "when?"}))
    assert events(items) == []
    assert "skipped_no_readable_date" in note_codes(items)


class NoWholeReads(io.BytesIO):
    """Refuses to be read whole: parsing must stream."""

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 <= size <= 1024 * 1024, "read the whole file"
        return super().read(size)


def test_parsing_streams_the_file_instead_of_reading_it_whole() -> None:
    data = data_of("full_export.json")
    source = SourceFile("result.json", "0" * 64, len(data), "application/json",
                        lambda: NoWholeReads(data))
    assert len(events(list(PARSER.parse(source, ParseOptions())))) == 9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1500))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_fixtures_raise_nothing_but_parser_errors(data: st.DataObject) -> None:
    original = bytearray(data.draw(st.sampled_from(
        [data_of("single_personal.json"), data_of("full_export.json")])))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParserError):
        parse_bytes(bytes(original))


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "type", "date", "date_unixtime", "from", "from_id", "text",
                         "text_entities", "photo", "file", "edited", "action", "actor_id",
                         "discard_reason", "forwarded_from", "href", "user_id"]),
        inner, max_size=6),
    max_leaves=12))
def test_messages_of_any_shape_never_raise(message: object) -> None:
    items = parse_bytes(single_chat(message, {"id": 2, "type": "service",
                                              "date_unixtime": "1710278103",
                                              "action": "phone_call", "text": message}))
    assert events(items)  # the second, well-dated message is always kept


def test_fixtures_are_what_their_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_fixtures", TG / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    built = generator.build()
    assert sorted(built) == ALL_FIXTURES
    for name, data in built.items():
        assert data_of(name) == data, name
