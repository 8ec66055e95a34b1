"""Legacy Hangouts.json: both layouts, gaia ids, direction from self, calls, damage, streaming.

Fixtures are written by tests/fixtures/google_chat/make_fixtures.py; the account
holder is gaia 111..., the suspect 222..., a friend 333....
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
from parsers.hangouts import PARSER
from parsers.records import AttachmentRef, EventRecord
from tests.parsers.chat_export_support import (
    counting_opener,
    fixture,
    generator,
    json_values,
    negatives,
)
from tests.parsers.support import events, notes, parse_all, probe_of, source_of

ME, HIM, HER = ("hangouts:111111111111111111111", "hangouts:222222222222222222222",
                "hangouts:333333333333333333333")
ONE, GROUP = "UgwOneToOneConversation", "UgxGroupConversation"
OWN = ("Hangouts.json", "Hangouts_old_layout.json", "Hangouts_events_first.json",
       "Hangouts_truncated.json", "Hangouts_damaged_events.json")


def parse(name: str) -> list:
    return parse_all(PARSER, fixture("google_chat", name), name)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# -- identity and detection ---------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("hangouts", "1.0.0", "hangouts")


@pytest.mark.parametrize("name", OWN)
def test_detects_both_layouts_and_damaged_files(name: str) -> None:
    assert PARSER.detect(probe_of(fixture("google_chat", name), name))


@pytest.mark.parametrize(
    "path", negatives(lambda p: p.parent.name == "google_chat" and p.name in OWN),
    ids=lambda p: f"{p.parent.name}/{p.name}")
def test_does_not_claim_other_files_including_google_chat(path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"", b'{"conversations": []}',
    json.dumps({"conversations": [{"id": 1, "messages": []}]}).encode(),
], ids=["empty", "no-conversations", "other-conversations"])
def test_does_not_claim_other_json(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- records ---------------------------------------------------------------------------------


def test_chat_messages_join_their_segments_and_name_senders_by_gaia_id() -> None:
    records = events(parse("Hangouts.json"))
    assert [(r.kind, r.sender, r.sender_id, r.direction, r.text) for r in records[:3]] == [
        ("message", "Sam Stalker", HIM, "incoming",
         "First line\nsecond line, see https://example.org/x"),
        ("message", "Jo Victim", ME, "outgoing", "Stop. Café 😀"),
        ("message", "Sam Stalker", HIM, "incoming", None),
    ]
    assert records[2].attachments == (AttachmentRef("https://photos.example.com/p/1"),)
    assert [(r.time.text, r.time.instant, r.time.precision) for r in records[:2]] == [
        ("1710281703123456", utc(2024, 3, 12, 22, 15, 3, 123456), "subsecond"),
        ("1710281760000000", utc(2024, 3, 12, 22, 16), "subsecond"),
    ]


def test_conversations_participants_recipients_and_locators() -> None:
    records = events(parse("Hangouts.json"))
    assert [(r.conversation, r.participants, r.recipients, r.locator.json_path,
             r.locator.message_id) for r in records] == [
        (ONE, (ME, HIM), (ME,), "conversations[0].events[0]", "ev1"),
        (ONE, (ME, HIM), (HIM,), "conversations[0].events[1]", "ev2"),
        (ONE, (ME, HIM), (ME,), "conversations[0].events[2]", "ev3"),
        (ONE, (ME, HIM), (ME,), "conversations[0].events[3]", "ev4"),
        (ONE, (ME, HIM), (ME,), "conversations[0].events[4]", "ev5"),
        (GROUP, (ME, HIM, HER), (ME, HER), "conversations[1].events[0]", "gv1"),
        (GROUP, (ME, HIM, HER), (ME, HER), "conversations[1].events[1]", "gv2"),
        (GROUP, (ME, HIM, HER), (ME, HIM), "conversations[1].events[2]", "gv3"),
    ]


def test_calls_membership_changes_and_renames() -> None:
    records = events(parse("Hangouts.json"))
    start, end, joined, renamed = records[3], records[4], records[5], records[6]
    assert (start.kind, start.time_basis, start.extra["hangout_event"]) == (
        "call", "call_started", "START_HANGOUT")
    assert (end.kind, end.flags, end.extra["duration_seconds"]) == (
        "system", ("call_ended",), "90")
    assert (joined.kind, joined.extra["membership_change"], joined.extra["user_ids"]) == (
        "system", "JOIN", "333333333333333333333")
    assert (renamed.kind, renamed.text, renamed.extra["old_name"]) == (
        "system", "Watching you", "")
    assert renamed.extra["conversation_name"] == "Group"


def test_notes_name_the_exporting_account_and_linked_media() -> None:
    items = parse("Hangouts.json")
    assert [n.code for n in notes(items)] == ["hangouts_account_holder",
                                              "hangouts_media_not_included"]
    assert "gaia id 111111111111111111111" in notes(items)[0].message


def test_the_older_layout_reads_the_same_messages() -> None:
    old = events(parse("Hangouts_old_layout.json"))
    new = events(parse("Hangouts.json"))[:2]
    assert [(r.sender_id, r.text, r.time.instant, r.conversation, r.participants)
            for r in old] == [(r.sender_id, r.text, r.time.instant, r.conversation,
                               r.participants) for r in new]
    assert old[0].locator.json_path == "conversation_state[0].conversation_state.event[0]"


def test_events_before_their_header_wait_for_its_participants() -> None:
    [record] = events(parse("Hangouts_events_first.json"))
    assert (record.sender, record.participants, record.recipients) == (
        "Kim Lee", (ME, HER), (ME,))


# -- damage ----------------------------------------------------------------------------------


def test_damaged_events_are_kept_with_defects_or_reported() -> None:
    items = parse("Hangouts_damaged_events.json")
    records = events(items)
    assert [(r.locator.message_id, r.kind, r.sender_id, r.direction, r.text, r.defects)
            for r in records] == [
        ("bad2", "message", None, "unknown", "no sender",
         ("missing_sender", "unreadable_segment")),
        ("bad3", "system", HIM, "incoming", None, ("unknown_event",)),
        ("bad4", "message", HIM, "incoming", None, ("missing_message_content",)),
    ]
    by_code = {n.code: n.message for n in notes(items)}
    assert by_code["hangouts_events_without_time"].startswith(
        "Events with no usable timestamp: 1 (at conversations[0].events[1])")
    assert by_code["hangouts_unreadable_entries"].startswith(
        "Entries that are not Hangouts events: 1 (at conversations[0].events[0])")


def test_a_truncated_file_keeps_what_was_read() -> None:
    items: list = []
    with pytest.raises(DamagedInput) as caught:
        items.extend(PARSER.parse(source_of(fixture("google_chat", "Hangouts_truncated.json"),
                                            "Hangouts.json"), ParseOptions()))
    assert len(events(items)) == 7
    assert str(caught.value).startswith("Hangouts.json: JSON unreadable at "
                                        "conversations[1].events[2]")


@pytest.mark.parametrize("data", [b"", b"[]", b'{"conversations": [', b"1"])
def test_unreadable_files_are_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "Hangouts.json")


def test_the_file_is_streamed_not_read_whole() -> None:
    make = generator("google_chat")
    message = make.event(ONE, make.HIM, "1710281703123456", "e", "REGULAR_CHAT_MESSAGE",
                         **make.text({"type": "TEXT", "text": "x" * 40}))
    document = {"conversations": [{"conversation": {
        "conversation_id": {"id": ONE},
        "conversation": make.details(ONE, "STICKY_ONE_TO_ONE", [make.person(make.ME, "Jo")])},
        "events": [message] * 3000}]}
    data = json.dumps(document).encode()
    opener, reads, opened = counting_opener(data)
    source = SourceFile(name="Hangouts.json", sha256="0" * 64, size=len(data),
                        media_type="application/json", open=opener)
    stream = PARSER.parse(source, ParseOptions())
    assert next(r for r in stream if isinstance(r, EventRecord)).text == "x" * 40
    assert max(reads) < len(data) // 2
    assert len(events(list(stream))) == 2999
    assert all(handle.closed for handle in opened)


def test_fixtures_are_what_their_generator_writes() -> None:
    make = generator("google_chat")
    for name in OWN:
        assert fixture("google_chat", name) == make.FIXTURES[name](), name


_KEYS = ("conversation_id", "id", "sender_id", "gaia_id", "timestamp", "self_event_state",
         "user_id", "event_id", "event_type", "chat_message", "message_content", "segment",
         "type", "text", "attachment", "embed_item", "hangout_event", "membership_change",
         "conversation_rename", "participant_id", "participant_data", "fallback_name",
         "self_conversation_state", "self_read_state", "new_name", "old_name")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=json_values(_KEYS), events_=st.lists(json_values(_KEYS), max_size=5),
       old=st.booleans())
def test_any_json_in_conversations_raises_only_parser_errors(header, events_, old) -> None:
    if old:
        document = {"conversation_state": [{"conversation_id": header, "conversation_state": {
            "conversation": header, "event": events_}}]}
    else:
        document = {"conversations": [{"conversation": header, "events": events_}, header]}
    with contextlib.suppress(ParserError):
        parse_all(PARSER, json.dumps(document).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=800))
def test_random_bytes_raise_only_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, b'{"conversations": [' + data)
