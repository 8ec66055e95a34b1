"""Discord data package messages.csv: the older form, line spans, cut-off and bad rows.

Fixtures are written by tests/fixtures/discord/make_fixtures.py; the CSV holds
the same messages as messages.json.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import discord_messages
from parsers.discord_messages_csv import PARSER
from parsers.errors import DamagedInput, ParserError
from tests.parsers.chat_export_support import fixture, negatives
from tests.parsers.support import events, notes, parse_all, probe_of

CSV_FIXTURES = ("messages.csv", "truncated_messages.csv", "bad_rows_messages.csv")
HEADER = b"ID,Timestamp,Contents,Attachments\r\n"


def parse(name: str) -> list:
    return parse_all(PARSER, fixture("discord", name), name)


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("discord_messages_csv", "1.0.0",
                                                            "discord")


@pytest.mark.parametrize("name", CSV_FIXTURES)
def test_detects_every_messages_csv_including_damaged_ones(name: str) -> None:
    assert PARSER.detect(probe_of(fixture("discord", name), name))


@pytest.mark.parametrize(
    "path", negatives(lambda p: p.parent.name == "discord" and p.name in CSV_FIXTURES),
    ids=lambda p: f"{p.parent.name}/{p.name}")
def test_does_not_claim_other_files_including_the_json_form(path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"", b"ID,Timestamp,Contents,Attachments",  # no line end: not even a header line
    b"ID,Timestamp,Contents\n1,2,3\n",
    b"id,timestamp,contents,attachments\n",
    b"date,time,what happened\n2024-03-12,22:15,he called\n",
])
def test_does_not_claim_other_csv(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


def test_the_csv_gives_the_same_records_as_the_json_form_except_locators() -> None:
    from_csv = events(parse("messages.csv"))
    from_json = events(parse_all(discord_messages.PARSER, fixture("discord", "messages.json")))

    def without_json_path(record) -> dict:
        fields = asdict(record)
        fields["locator"] = {"message_id": record.locator.message_id}
        return fields

    assert [without_json_path(r) for r in from_csv] == [without_json_path(r) for r in from_json]
    assert [n.code for n in notes(parse("messages.csv"))] == [
        "discord_channel_from_attachments", "discord_own_messages_only"]


def test_locators_give_the_line_span_of_each_row() -> None:
    records = events(parse("messages.csv"))
    assert [(r.locator.line, r.locator.line_end) for r in records] == [
        (2, 2), (3, 4), (5, 5), (6, 6)]
    assert records[1].text == "I have screenshots of everything\nand I will report it"


def test_a_cut_off_last_row_is_kept_and_marked_truncated() -> None:
    records = events(parse("truncated_messages.csv"))
    assert [(r.locator.line, r.text, r.defects) for r in records] == [
        (2, "Please stop contacting me.", ()),
        (3, "I have screenshots of everything", ("truncated", "unexpected_field_count")),
    ]


def test_bad_rows_are_kept_with_defects_and_blank_lines_skipped() -> None:
    records = events(parse("bad_rows_messages.csv"))
    assert [(r.locator.line, r.text, r.defects) for r in records] == [
        (2, "one field too many", ("unexpected_field_count",)),
        (3, None, ("unexpected_field_count",)),
        (5, "caf\udce9 in Latin-1", ("invalid_utf8",)),
        (6, "cut off in the mid", ("truncated", "unexpected_field_count")),
    ]


@pytest.mark.parametrize("data", [b"", b"ID,When,Contents,Attachments\n1,2,3,4\n"])
def test_a_file_without_the_header_is_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput) as caught:
        parse_all(PARSER, data, "messages.csv")
    assert str(caught.value) == (
        "messages.csv: first line is not 'ID,Timestamp,Contents,Attachments'")


def test_a_row_without_a_usable_time_or_id_is_reported() -> None:
    items = parse_all(PARSER, HEADER + b"abc,yesterday,hello,\r\n", "messages.csv")
    assert events(items) == []
    assert notes(items)[0].message.startswith(
        "Messages with neither a usable Timestamp nor a message id: 1 (at line 2)")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_anything_after_the_header_raises_only_parser_errors(body: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, HEADER + body)
