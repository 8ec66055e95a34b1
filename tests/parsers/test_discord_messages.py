"""Discord data package messages.json: own messages only, channel from links, id times, damage.

Fixtures are written by tests/fixtures/discord/make_fixtures.py.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.base import ParseOptions
from parsers.discord_messages import PARSER, message_time
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef
from tests.parsers.chat_export_support import fixture, generator, json_values, negatives
from tests.parsers.support import events, notes, parse_all, probe_of, source_of

CHANNEL = "discord:c1100000000000000001"
CDN = "https://cdn.discordapp.com/attachments/1100000000000000001"
JSON_FIXTURES = ("messages.json", "no_attachments_messages.json", "truncated_messages.json",
                 "wrong_types_messages.json")


def parse(name: str) -> list:
    return parse_all(PARSER, fixture("discord", name), name)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


# -- identity and detection ---------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("discord_messages", "1.0.0",
                                                            "discord")


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_detects_every_messages_json_including_damaged_ones(name: str) -> None:
    assert PARSER.detect(probe_of(fixture("discord", name), name))


@pytest.mark.parametrize(
    "path", negatives(lambda p: p.parent.name == "discord" and p.name in JSON_FIXTURES),
    ids=lambda p: f"{p.parent.name}/{p.name}")
def test_does_not_claim_other_files_including_channel_json_and_the_csv_form(path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"", b"[]",
    json.dumps({"id": "1", "type": 1, "recipients": ["2"]}).encode(),
    json.dumps({"1100000000000000001": "Direct Message with sam#0001"}).encode(),
    json.dumps([{"id": "1", "timestamp": "2024-03-12T22:15:03.123+00:00",
                 "content": "DiscordChatExporter style"}]).encode(),
], ids=["empty", "empty-list", "channel", "index", "chat-exporter"])
def test_does_not_claim_other_discord_json(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- records ---------------------------------------------------------------------------------


def test_every_message_is_the_account_holders_outgoing_message() -> None:
    records = events(parse("messages.json"))
    assert [r.text for r in records] == [
        "Please stop contacting me.",
        "I have screenshots of everything\nand I will report it",
        None,
        'Ça suffit 😡 "quoted", with a comma',
    ]
    assert {(r.kind, r.channel, r.sender, r.sender_id, r.direction, r.time_basis, r.recipients)
            for r in records} == {
        ("message", "discord", "account holder", None, "outgoing", "sent", ())}


def test_timestamps_are_utc_instants_at_the_precision_written() -> None:
    records = events(parse("messages.json"))
    assert [(r.time.text, r.time.instant, r.time.precision) for r in records] == [
        ("2024-03-12 22:15:03.123000+00:00", utc(2024, 3, 12, 22, 15, 3, 123000), "subsecond"),
        ("2024-03-12 22:20:00.000000+00:00", utc(2024, 3, 12, 22, 20), "subsecond"),
        ("2024-03-13 08:00:02+00:00", utc(2024, 3, 13, 8, 0, 2), "second"),
        ("2024-03-13 09:30:45.500000+00:00", utc(2024, 3, 13, 9, 30, 45, 500000), "subsecond"),
    ]


def test_locators_give_the_index_and_the_message_id() -> None:
    make = generator("discord")
    records = events(parse("messages.json"))
    assert [(r.locator.json_path, r.locator.message_id) for r in records] == [
        (f"[{i}]", str(make.snowflake(stamp))) for i, (stamp, _, _) in enumerate(make.ROWS)]


def test_attachment_links_are_kept_and_name_the_channel_for_every_record() -> None:
    items = parse("messages.json")
    records = events(items)
    assert records[2].attachments == (
        AttachmentRef(f"{CDN}/1217000000000000001/screenshot.png"),
        AttachmentRef(f"{CDN}/1217000000000000002/threat%20copy.jpg"),
    )
    assert {(r.conversation, r.participants) for r in records} == {(CHANNEL, ())}
    assert codes(items) == ["discord_channel_from_attachments", "discord_own_messages_only"]
    assert "channel.json beside this file" in notes(items)[0].message


def test_without_attachment_links_the_channel_is_unknown() -> None:
    items = parse("no_attachments_messages.json")
    assert {r.conversation for r in events(items)} == {None}
    assert codes(items) == ["discord_channel_unknown", "discord_own_messages_only"]


def test_links_to_several_channels_assume_none() -> None:
    data = json.dumps([
        {"ID": "1217234429534011392", "Timestamp": "2024-03-12 22:15:03+00:00",
         "Contents": "", "Attachments": f"{CDN}/1217000000000000001/a.png"},
        {"ID": "1217234429534011393", "Timestamp": "2024-03-12 22:15:03+00:00", "Contents": "",
         "Attachments": "https://cdn.discordapp.com/attachments/1200000000000000002/"
                        "1217000000000000003/b.png"},
    ]).encode()
    items = parse_all(PARSER, data)
    assert {r.conversation for r in events(items)} == {None}
    assert "1100000000000000001, 1200000000000000002" in notes(items)[0].message


def test_the_message_id_gives_the_time_when_the_timestamp_is_unusable() -> None:
    clock = message_time(str(generator("discord").snowflake("2024-03-13 08:00:02+00:00")))
    assert clock is not None
    assert (clock.instant, clock.flags) == (utc(2024, 3, 13, 8, 0, 2), ("time_from_message_id",))
    assert message_time("4194303") is None  # no time bits
    assert message_time("12a") is None
    assert message_time("9" * 21) is None


# -- damage ----------------------------------------------------------------------------------


def test_wrong_types_are_kept_with_defects_or_reported() -> None:
    items = parse("wrong_types_messages.json")
    records = events(items)
    assert [(r.locator.json_path, r.text, r.defects) for r in records] == [
        ("[0]", None, ("contents_not_text", "attachments_not_text")),
        ("[1]", "time from the id", ("unparseable_time",)),
        ("[2]", "an hour off its id", ("time_differs_from_message_id",)),
        ("[5]", None, ()),
    ]
    assert (records[1].time.instant, records[1].time.flags) == (
        utc(2024, 3, 14, 12, 1), ("time_from_message_id",))
    by_code = {n.code: n.message for n in notes(items)}
    assert by_code["discord_messages_without_time"].startswith(
        "Messages with neither a usable Timestamp nor a message id: 1 (at [4])")
    assert by_code["discord_unreadable_entries"].startswith(
        "Entries that are not message objects: 1 (at [3])")


def test_a_truncated_file_is_damaged_input() -> None:
    with pytest.raises(DamagedInput) as caught:
        parse("truncated_messages.json")
    assert str(caught.value) == ("truncated_messages.json: JSON unreadable at [1].Contents after 1 "
                                 "items read: parse error: premature EOF")


@pytest.mark.parametrize("data", [b"", b"{}", b"[{\"ID\": 1,", b"5"])
def test_unreadable_files_are_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "messages.json")


def test_both_passes_close_the_file() -> None:
    data = fixture("discord", "messages.json")
    opened: list = []
    source = source_of(data, "messages.json")

    def opener() -> io.BytesIO:
        handle = io.BytesIO(data)
        opened.append(handle)
        return handle

    assert len(events(list(PARSER.parse(replace(source, open=opener), ParseOptions())))) == 4
    assert len(opened) == 2
    assert all(h.closed for h in opened)


def test_fixtures_are_what_their_generator_writes() -> None:
    for name, build in generator("discord").FIXTURES.items():
        assert fixture("discord", name) == build(), name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(json_values(("ID", "Timestamp", "Contents", "Attachments")),
                        max_size=6))
def test_any_json_in_the_entries_raises_only_parser_errors(entries) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, json.dumps(entries).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=800))
def test_random_bytes_raise_only_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, b'[{"ID": ' + data)


def _with_companions(companions: dict[str, bytes]) -> list:
    source = replace(source_of(fixture("discord", "no_attachments_messages.json"),
                               "messages.json"),
                     read_sibling=lambda name, limit: companions.get(name))
    return list(PARSER.parse(source, ParseOptions()))


CHANNEL_JSON = json.dumps({"id": "1300000000000000003", "type": 1, "name": None,
                           "recipients": ["80351110224678912", "90351110224678913"]}).encode()
USER_JSON = json.dumps({"id": "80351110224678912", "username": "victim"}).encode()


def test_channel_json_beside_the_file_names_the_conversation_and_its_members():
    records = events(_with_companions({"channel.json": CHANNEL_JSON,
                                       "account/user.json": USER_JSON}))
    assert {(r.conversation, r.sender_id, r.recipients, r.participants) for r in records} == {(
        "discord:c1300000000000000003", "discord:80351110224678912",
        ("discord:90351110224678913",),
        ("discord:80351110224678912", "discord:90351110224678913"))}


def test_without_user_json_the_members_are_known_but_no_recipient_is_named():
    items = _with_companions({"channel.json": CHANNEL_JSON})
    assert {(r.sender_id, r.recipients) for r in events(items)} == {(None, ())}
    assert "discord_holder_unknown" in codes(items)


def test_an_unreadable_channel_json_is_noted_and_the_messages_still_read():
    items = _with_companions({"channel.json": b"{not json"})
    assert len(events(items)) == len(events(parse("no_attachments_messages.json")))
    assert "discord_companion_unreadable" in codes(items)
