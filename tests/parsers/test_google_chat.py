"""Google Chat Takeout messages.json: creators, zone words, attachments, damage.

Fixtures are written by tests/fixtures/google_chat/make_fixtures.py.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.base import ParseOptions
from parsers.errors import DamagedInput, ParserError
from parsers.google_chat import PARSER, parse_created
from parsers.records import AttachmentRef
from tests.parsers.chat_export_support import fixture, generator, json_values, negatives
from tests.parsers.support import events, notes, parse_all, probe_of, source_of

VICTIM, SUSPECT, BOT = "jo.victim@example.com", "sam.stalker@example.org", "bot@example.net"
NNBSP = "\u202f"
OWN = ("messages.json", "space_messages.json", "truncated_messages.json",
       "wrong_types_messages.json")


def parse(name: str, siblings: dict[str, str] | None = None) -> list:
    return parse_all(PARSER, fixture("google_chat", name), name, siblings=siblings)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# -- identity and detection ---------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("google_chat", "1.0.0",
                                                            "google_chat")


@pytest.mark.parametrize("name", OWN)
def test_detects_every_messages_file_including_damaged_ones(name: str) -> None:
    assert PARSER.detect(probe_of(fixture("google_chat", name), name))


@pytest.mark.parametrize(
    "path", negatives(lambda p: p.parent.name == "google_chat" and p.name in OWN),
    ids=lambda p: f"{p.parent.name}/{p.name}")
def test_does_not_claim_other_files_including_group_info_and_hangouts(path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"", b'{"messages": []}',
    json.dumps({"name": "Sam", "type": "personal_chat", "id": 1, "messages": [
        {"id": 1, "type": "message", "date": "2024-03-12T22:15:03", "from": "Sam"}]}).encode(),
    json.dumps({"participants": [{"name": "Sam"}], "messages": [
        {"sender_name": "Sam", "timestamp_ms": 1710281703000}]}).encode(),
], ids=["empty", "no-messages", "telegram", "meta"])
def test_does_not_claim_other_messages_json(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- records -------------------------------------------------------------------------------


def test_messages_carry_creator_names_and_normalised_addresses() -> None:
    records = events(parse("messages.json"))
    assert [(r.sender, r.sender_id, r.recipients, r.text) for r in records] == [
        ("Sam Stalker", SUSPECT, (VICTIM,), "Why aren't you answering?"),
        ("Jo Victim", VICTIM, (SUSPECT,), "Please stop."),
        ("Sam Stalker", SUSPECT, (VICTIM,), "Look at this https://example.org/p"),
        ("Sam Stalker", SUSPECT, (VICTIM,), "I didn't mean it 🙂"),
    ]
    assert {(r.kind, r.channel, r.direction, r.time_basis, r.conversation, r.participants)
            for r in records} == {
        ("message", "google_chat", "unknown", "sent", None, (VICTIM, SUSPECT))}
    assert records[0].extra == {"creator_email": "Sam.Stalker@Example.org", "topic_id": "T1"}


def test_created_dates_with_utc_become_instants_and_keep_their_text() -> None:
    records = events(parse("messages.json"))
    assert [(r.time.text, r.time.instant, r.time.precision) for r in records[:3]] == [
        ("Tuesday, March 12, 2024 at 10:15:03 PM UTC", utc(2024, 3, 12, 22, 15, 3), "second"),
        (f"Tuesday, March 12, 2024 at 10:16:40{NNBSP}PM UTC", utc(2024, 3, 12, 22, 16, 40),
         "second"),
        ("Wednesday, March 13, 2024 at 8:00:02 AM UTC", utc(2024, 3, 13, 8, 0, 2), "second"),
    ]


def test_locators_give_the_path_and_message_id() -> None:
    records = events(parse("messages.json"))
    assert [(r.locator.json_path, r.locator.message_id) for r in records] == [
        ("messages[0]", "AAAAdm1/T1/T1"), ("messages[1]", "AAAAdm1/T2/T2"),
        ("messages[2]", "AAAAdm1/T3/T3"), ("messages[3]", "AAAAdm1/T4/T4")]


def test_attached_files_link_by_their_export_name_beside_the_file() -> None:
    record = events(parse("messages.json", {"File-IMG_0001.jpg": "a" * 64}))[2]
    assert record.attachments == (AttachmentRef("File-IMG_0001.jpg", "a" * 64),
                                  AttachmentRef("File-notes.pdf", None))
    assert json.loads(record.extra["attached_original_names"]) == ["IMG_0001.jpg", "notes.pdf"]
    assert json.loads(record.extra["annotations"])[0]["url_metadata"]["title"] == "Your street"


def test_an_updated_date_marks_the_message_edited() -> None:
    record = events(parse("messages.json"))[3]
    assert record.flags == ("edited",)
    assert record.extra["updated_date"] == "Wednesday, March 13, 2024 at 8:06:00 AM UTC"


def test_zone_words_offsets_and_missing_zones() -> None:
    items = parse("space_messages.json")
    records = events(items)
    assert [(r.time.instant, r.time.local, r.time.precision, r.time.flags, r.defects)
            for r in records] == [
        (utc(2024, 6, 14, 20), None, "second", ("zone_from_abbreviation",), ()),
        (utc(2024, 6, 14, 16), None, "minute", (), ()),
        (None, datetime(2024, 6, 14, 22), "second", ("zone_text_unknown",), ()),
        (None, datetime(2024, 6, 14, 22, 5), "second", ("zone_text_missing",), ()),
        (utc(2024, 6, 14, 22, 6), None, "second", (), ("weekday_does_not_match_date",)),
        (utc(2024, 6, 14, 22, 7), None, "second", (), ("missing_creator",)),
    ]
    assert records[2].extra["creator_user_type"] == "Bot"
    assert (records[5].sender, records[5].sender_id, records[5].text) == (None, None, None)
    assert [n.code for n in notes(items)] == ["google_chat_zone_unknown",
                                              "google_chat_direction_unknown"]
    assert "(CST)" in notes(items)[0].message


@pytest.mark.parametrize(("text", "expected"), [
    ("Monday, January 1, 2024 at 12:00:00 AM UTC", utc(2024, 1, 1, 0)),
    ("Monday, January 1, 2024 at 12:30:00 PM GMT", utc(2024, 1, 1, 12, 30)),
    ("Monday, January 1, 2024 at 9:00:00 AM PST", utc(2024, 1, 1, 17)),
    ("January 1, 2024, 09:00:00 UTC-8", utc(2024, 1, 1, 17)),
    ("Monday, January 1, 2024 at 9:00:00 a.m. +0100", utc(2024, 1, 1, 8)),
])
def test_created_date_forms(text: str, expected: datetime) -> None:
    parsed = parse_created(text)
    assert parsed is not None
    assert parsed[0].instant == expected


@pytest.mark.parametrize("text", [
    "yesterday", "Monday, January 1, 2024 at 13:00:00 PM UTC",
    "Monday, February 30, 2024 at 1:00:00 PM UTC", "Monday, January 1, 2024 at 1:00:00 PM UTC x",
])
def test_impossible_created_dates_are_not_read(text: str) -> None:
    assert parse_created(text) is None


# -- damage --------------------------------------------------------------------------------


def test_wrong_types_are_kept_with_defects_or_reported() -> None:
    items = parse("wrong_types_messages.json")
    records = events(items)
    assert [(r.locator.json_path, r.sender, r.sender_id, r.text, r.attachments, r.defects)
            for r in records] == [
        ("messages[2]", None, None, None, (),
         ("missing_creator", "text_not_a_string", "attached_files_not_a_list")),
        ("messages[3]", "No Address", None, "who?", (AttachmentRef("y.png"),),
         ("missing_creator_email", "unreadable_attached_file")),
    ]
    by_code = {n.code: n.message for n in notes(items)}
    assert by_code["google_chat_messages_without_time"].startswith(
        "Messages with no readable created_date: 2 (at messages[1], messages[4])")
    assert by_code["google_chat_unreadable_entries"].startswith(
        "Entries that are not message objects: 1 (at messages[0])")


def test_a_truncated_file_is_damaged_input() -> None:
    with pytest.raises(DamagedInput) as caught:
        parse("truncated_messages.json")
    assert str(caught.value).startswith("truncated_messages.json: JSON unreadable at messages[2]")


@pytest.mark.parametrize("data", [b"", b"[]", b'{"messages": [', b"7"])
def test_unreadable_files_are_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "messages.json")


def test_fixtures_are_what_their_generator_writes() -> None:
    for name, build in generator("google_chat").FIXTURES.items():
        assert fixture("google_chat", name) == build(), name


_KEYS = ("creator", "name", "email", "user_type", "created_date", "updated_date", "text",
         "annotations", "attached_files", "original_name", "export_name", "topic_id",
         "message_id")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(json_values(_KEYS), max_size=6))
def test_any_json_in_the_messages_raises_only_parser_errors(entries) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, json.dumps({"messages": entries}).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=800))
def test_random_bytes_raise_only_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, b'{"messages": [' + data)


def _with_group_info(raw: bytes | None) -> list:
    source = replace(source_of(fixture("google_chat", "messages.json"), "messages.json"),
                     read_sibling=lambda name, limit: raw if name == "group_info.json" else None)
    return list(PARSER.parse(source, ParseOptions()))


def test_members_listed_in_group_info_are_participants_even_if_they_never_wrote():
    info = json.dumps({"name": "Neighbours", "members": [
        {"name": "Jo Victim", "email": "jo.victim@example.com"},
        {"name": "Quiet Witness", "email": "Quiet@Example.net"}]}).encode()
    items = _with_group_info(info)
    assert all("quiet@example.net" in r.participants for r in events(items))
    assert any(n.code == "google_chat_members_from_group_info" and "'Neighbours'" in n.message
               for n in notes(items))


def test_an_unreadable_group_info_is_noted_and_changes_nothing_else():
    plain, broken = _with_group_info(None), _with_group_info(b"\xff{")
    assert [r.participants for r in events(broken)] == [r.participants for r in events(plain)]
    assert "google_chat_group_info_unreadable" in {n.code for n in notes(broken)}
