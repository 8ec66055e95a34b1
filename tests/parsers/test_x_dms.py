"""X (Twitter) archive direct messages: detection, conversations, ids, media, damage.

Fixtures are written by tests/fixtures/x/make_fixtures.py; the account holder
is user 1000000001, the suspect 2000000002, a friend 3000000003.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, EventRecord
from parsers.x_dms import PARSER
from tests.parsers.chat_export_support import (
    counting_opener,
    fixture,
    generator,
    json_values,
    negatives,
)
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of, source_of

OWNER, SUSPECT, FRIEND, NEWCOMER = ("x:1000000001", "x:2000000002", "x:3000000003",
                                    "x:4000000004")
ONE_TO_ONE = "1000000001-2000000002"
SHA_PHOTO = "a" * 64
ALL = sorted(p.name for p in (FIXTURES / "x").glob("*.js"))


def data_of(name: str) -> bytes:
    return fixture("x", name)


def parse(name: str, siblings: dict[str, str] | None = None) -> list:
    return parse_all(PARSER, data_of(name), name, siblings=siblings)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


# -- identity and detection ---------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("x_dms", "1.0.0", "x_dms")


@pytest.mark.parametrize("name", ALL)
def test_detects_every_variant_including_damaged_ones(name: str) -> None:
    assert PARSER.detect(probe_of(data_of(name), name))


def test_detection_needs_only_the_head_of_a_large_file() -> None:
    data = data_of("direct-messages.js")
    probe = probe_of(data[:200] + b" " * 100_000)
    assert PARSER.detect(probe)


@pytest.mark.parametrize("path", negatives(lambda p: p.parent.name == "x"),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_does_not_claim_other_formats_fixtures(path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"",
    b"window.YTD.tweets.part0 = [ {\"tweet\": {}} ]",
    b"window.YTD.account.part0 = [ ]",
    b"window.YTD.direct_messages.part0 = {\"a\": 1}",
    b"var x = window.YTD.direct_messages.part0 = [",
    json.dumps([{"dmConversation": {"conversationId": "1-2", "messages": []}}]).encode(),
], ids=["empty", "tweets", "account", "object", "not-at-start", "bare-json"])
def test_does_not_claim_other_archive_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- one-to-one conversations ----------------------------------------------------------------


def test_one_to_one_messages_in_file_order_with_ids_times_and_text() -> None:
    records = events(parse("direct-messages.js"))
    assert [(r.sender, r.sender_id, r.recipients, r.text) for r in records] == [
        ("2000000002", SUSPECT, (OWNER,), "Where are you? https://t.co/abc123"),
        ("1000000001", OWNER, (SUSPECT,), "Leave me alone. Café 😀 e\u0301"),
        ("2000000002", SUSPECT, (OWNER,), "https://t.co/pic999"),
        ("2000000002", SUSPECT, (OWNER,), "I saw you\nat the station"),
        ("3000000003", "x:3000000003", (OWNER,), "Are you OK?"),
    ]
    assert [r.time.instant for r in records] == [
        utc(2024, 3, 12, 22, 15, 3, 68000), utc(2024, 3, 12, 22, 16, 10, 1000),
        utc(2024, 3, 13, 8, 0, 2, 500000), utc(2024, 3, 13, 8, 5), utc(2024, 3, 13, 9)]
    assert records[0].time.text == "2024-03-12T22:15:03.068Z"
    assert {(r.kind, r.time_basis, r.channel, r.direction, r.time.precision)
            for r in records} == {("message", "sent", "x", "unknown", "subsecond")}


def test_conversation_and_participants_come_from_the_conversation_id() -> None:
    records = events(parse("direct-messages.js"))
    assert [(r.conversation, r.participants) for r in records] == [
        (ONE_TO_ONE, (OWNER, SUSPECT))] * 4 + [
        ("1000000001-3000000003", (OWNER, FRIEND))]


def test_locators_give_the_json_path_and_message_id() -> None:
    records = events(parse("direct-messages.js"))
    make = generator("x")
    assert [r.locator.json_path for r in records] == [
        "[0].dmConversation.messages[0]", "[0].dmConversation.messages[1]",
        "[0].dmConversation.messages[2]", "[0].dmConversation.messages[3]",
        "[1].dmConversation.messages[0]"]
    assert records[0].locator.message_id == make.snowflake("2024-03-12T22:15:03.068Z")


def test_text_is_kept_exactly_and_expanded_links_reactions_and_edits_go_to_extra() -> None:
    first, second, _, fourth, _ = events(parse("direct-messages.js"))
    assert json.loads(first.extra["urls"]) == [{
        "url": "https://t.co/abc123", "expanded": "https://maps.example.com/place/1",
        "display": "maps.example.com/place/1"}]
    assert json.loads(second.extra["reactions"])[0]["reactionKey"] == "funny"
    assert second.text is not None and second.text.endswith("e\u0301")  # not normalised
    assert fourth.flags == ("edited",)
    assert json.loads(fourth.extra["edit_history"]) == [
        {"editedText": "I saw you", "createdAt": "2024-03-13T08:04:00.000Z"}]


def test_media_link_to_delivered_files_named_by_message_id() -> None:
    make = generator("x")
    photo_id = make.snowflake("2024-03-13T08:00:02.500Z")
    delivered = {f"direct_messages_media/{photo_id}-AbCdEfGh.jpg": SHA_PHOTO}
    items = parse("direct-messages.js", siblings=delivered)
    photo = events(items)[2]
    assert photo.attachments == (
        AttachmentRef(f"https://ton.twitter.com/dm/{photo_id}/{make.MEDIA_ID}/AbCdEfGh.jpg",
                      SHA_PHOTO),
        AttachmentRef(f"https://video.twimg.com/dm_video/{make.MEDIA_ID}/vid/640x360/"
                      "clip.mp4?tag=1", None),
    )
    [note] = [n for n in notes(items) if n.code == "x_media_linked"]
    assert "Media links: 2; files delivered with the archive and linked: 1" in note.message


def test_media_named_with_the_conversation_id_also_links() -> None:
    photo_id = generator("x").snowflake("2024-03-13T08:00:02.500Z")
    delivered = {f"direct_messages_media/{ONE_TO_ONE}-{photo_id}-AbCdEfGh.jpg": SHA_PHOTO}
    assert events(parse("direct-messages.js", delivered))[2].attachments[0].sha256 == SHA_PHOTO


def test_owner_seen_in_every_conversation_is_noted_but_direction_stays_unknown() -> None:
    items = parse("direct-messages.js")
    [note] = [n for n in notes(items) if n.code == "x_probable_account_holder"]
    assert note.message.startswith("User id 1000000001 takes part in every one of the 2 ")
    assert {r.direction for r in events(items)} == {"unknown"}
    assert codes(items) == ["x_dm_variant", "x_media_linked", "x_probable_account_holder",
                            "x_absent"]


def test_a_single_conversation_gives_no_owner_inference() -> None:
    items = parse("direct-message-headers.js")
    assert "x_direction_unknown" in codes(items)
    assert "x_probable_account_holder" not in codes(items)


def test_header_only_files_give_who_and_when_without_text() -> None:
    items = parse("direct-message-headers.js")
    records = events(items)
    assert [(r.sender_id, r.recipients, r.text, r.flags) for r in records] == [
        (SUSPECT, (OWNER,), None, ("header_only",)),
        (OWNER, (SUSPECT,), None, ("header_only",)),
    ]
    assert notes(items)[0].message == (
        "X archive direct messages, one-to-one conversations, message headers only (who "
        "wrote to whom and when, no text): window.YTD.direct_message_headers.part0.")


# -- group conversations ----------------------------------------------------------------------


def test_group_events_are_system_records_attributed_only_to_their_initiator() -> None:
    records = events(parse("direct-messages-group.js"))
    assert [(r.kind, r.sender_id, r.text, dict(r.extra)) for r in records] == [
        ("system", SUSPECT, None, {"event": "joinConversation",
                                   "user_ids": "1000000001,2000000002,3000000003"}),
        ("system", SUSPECT, "We see you", {"event": "conversationNameUpdate"}),
        ("message", SUSPECT, "Welcome to your group", {}),
        ("system", SUSPECT, None, {"event": "participantsJoin", "user_ids": "4000000004"}),
        ("message", NEWCOMER, "hi", {}),
        ("system", None, None, {"event": "participantsLeave", "user_ids": "1000000001"}),
    ]
    assert [r.time.instant for r in records] == [utc(2024, 3, 10, 10, m) for m in range(6)]


def test_group_participants_cover_the_whole_conversation_from_the_first_record() -> None:
    records = events(parse("direct-messages-group.js"))
    assert {(r.conversation, r.participants) for r in records} == {
        ("1767000000000000999", (OWNER, SUSPECT, FRIEND, NEWCOMER))}
    # Groups have no recipient field: everyone else in the conversation.
    assert records[2].recipients == (OWNER, FRIEND, NEWCOMER)
    assert records[4].recipients == (OWNER, SUSPECT, FRIEND)


# -- damage -----------------------------------------------------------------------------------


def test_a_truncated_file_keeps_what_was_read_and_then_is_damaged_input() -> None:
    items: list = []
    with pytest.raises(DamagedInput) as caught:
        items.extend(PARSER.parse(source_of(data_of("truncated.js"), "truncated.js"),
                                  ParseOptions()))
    assert len(events(items)) == 4
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("truncated.js: JSON unreadable at [1].dmConversation.messages[0]")


def test_wrong_types_are_kept_with_defects_or_reported() -> None:
    items = parse("wrong_types.js")
    records = events(items)
    assert [(r.locator.json_path, r.kind, r.text, r.defects) for r in records] == [
        ("[0].dmConversation.messages[0]", "message", None, ("text_not_a_string",)),
        ("[0].dmConversation.messages[1]", "message", "no sender", ("missing_sender",)),
        ("[0].dmConversation.messages[2]", "message", "time from the id",
         ("unparseable_time",)),
        ("[0].dmConversation.messages[5]", "system", None, ("unknown_event",)),
        ("[0].dmConversation.messages[6]", "message", "stranger in this chat",
         ("sender_not_in_conversation_id", "media_urls_not_a_list")),
    ]
    from_id = records[2].time
    assert (from_id.instant, from_id.flags) == (utc(2024, 3, 14, 12, 2, 0, 250000),
                                                ("time_from_message_id",))
    by_code = {n.code: n.message for n in notes(items)}
    assert by_code["x_events_without_time"].startswith(
        "Events with no usable createdAt or message id time: 1 "
        "(at [0].dmConversation.messages[3])")
    assert "2 (at [0].dmConversation.messages[4], [1].somethingElse)" in (
        by_code["x_unreadable_entries"])
    assert "x_trailing_bytes" in by_code


def test_a_byte_order_mark_a_later_part_and_a_late_conversation_id_are_handled() -> None:
    items = parse("late_id-part1.js")
    records = events(items)
    assert [(r.text, r.conversation, r.participants) for r in records] == [
        ("first", ONE_TO_ONE, (OWNER, SUSPECT)), ("second", ONE_TO_ONE, (OWNER, SUSPECT))]
    assert notes(items)[0].message.endswith("window.YTD.direct_messages.part1.")


@pytest.mark.parametrize("data", [
    b"window.YTD.direct_messages.part0 = ",
    b"window.YTD.direct_messages.part0 = [",
    b"window.YTD.direct_messages.part0 = [ {\"dmConversation\": {\"messages\": [ {\"messa",
    b"not an archive at all",
    b"",
])
def test_unreadable_files_are_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "direct-messages.js")


def test_an_empty_list_is_a_file_without_records() -> None:
    items = parse_all(PARSER, b"window.YTD.direct_messages.part0 = [ ]", "x.js")
    assert events(items) == []
    assert codes(items)[0] == "x_dm_variant"


def test_the_file_is_streamed_not_read_whole() -> None:
    conversations = [{"dmConversation": {"conversationId": "1-2", "messages": [
        {"messageCreate": {"id": str(i), "senderId": "1", "recipientId": "2", "text": "x" * 50,
                           "createdAt": "2024-03-12T22:15:03.068Z"}} for i in range(5000)]}}]
    data = b"window.YTD.direct_messages.part0 = " + json.dumps(conversations).encode()
    opener, reads, opened = counting_opener(data)
    source = SourceFile(name="direct-messages.js", sha256="0" * 64, size=len(data),
                        media_type="text/plain", open=opener)
    stream = PARSER.parse(source, ParseOptions())
    first = next(r for r in stream if isinstance(r, EventRecord))
    assert first.text == "x" * 50
    assert max(reads) < len(data) // 2
    assert len(events(list(stream))) == 4999
    assert all(handle.closed for handle in opened)


def test_fixtures_are_what_their_generator_writes() -> None:
    for name, build in generator("x").FIXTURES.items():
        assert data_of(name) == build(), name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 3000), flips=st.lists(
    st.tuples(st.integers(0, 2999), st.integers(0, 255)), max_size=6))
def test_damaged_archives_raise_only_parser_errors(cut: int, flips: list) -> None:
    data = bytearray(data_of("direct-messages-group.js")[:cut])
    for position, value in flips:
        if position < len(data):
            data[position] = value
    with contextlib.suppress(ParserError):
        parse_all(PARSER, bytes(data))



@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_anything_after_the_assignment_raises_only_parser_errors(body: bytes) -> None:
    for var in (b"direct_messages", b"direct_messages_group"):
        with contextlib.suppress(ParserError):
            parse_all(PARSER, b"window.YTD." + var + b".part0 = [" + body)


_X_KEYS = ("messageCreate", "joinConversation", "participantsJoin", "participantsLeave",
           "conversationNameUpdate", "reactionCreate", "id", "senderId", "recipientId", "text",
           "createdAt", "mediaUrls", "urls", "reactions", "editHistory", "initiatingUserId",
           "userIds", "participantsSnapshot", "name", "reactionKey", "messageId")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversation_id=json_values(), entries=st.lists(json_values(_X_KEYS), max_size=6),
       group=st.booleans())
def test_any_json_in_the_events_raises_only_parser_errors(conversation_id, entries,
                                                          group: bool) -> None:
    body = [{"dmConversation": {"conversationId": conversation_id, "messages": entries}},
            *entries]
    var = b"direct_messages_group" if group else b"direct_messages"
    data = b"window.YTD." + var + b".part0 = " + json.dumps(body).encode()
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data)
