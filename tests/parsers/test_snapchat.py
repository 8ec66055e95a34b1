"""Snapchat chat and snap history: both layouts, direction, media, what is absent, damage.

Fixtures are written by tests/fixtures/snapchat/make_fixtures.py; the account
holder is "victim.jo", the suspect "sam_x99", a friend "kim.lee".
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
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef
from parsers.snapchat import PARSER
from tests.parsers.chat_export_support import fixture, generator, json_values, negatives
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of, source_of

OWNER, SUSPECT, FRIEND = "snapchat:victim.jo", "snapchat:sam_x99", "snapchat:kim.lee"
GROUP = "5f1c2d3e-aaaa-bbbb-cccc-0123456789ab"
SHA_PHOTO = "a" * 64
ALL = sorted(p.name for p in (FIXTURES / "snapchat").glob("*.json"))


def parse(name: str, siblings: dict[str, str] | None = None) -> list:
    return parse_all(PARSER, fixture("snapchat", name), name, siblings=siblings)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


# -- identity and detection ---------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("snapchat", "1.0.0", "snapchat")


@pytest.mark.parametrize("name", ALL)
def test_detects_every_layout_including_damaged_files(name: str) -> None:
    assert PARSER.detect(probe_of(fixture("snapchat", name), name))


@pytest.mark.parametrize("path", negatives(lambda p: p.parent.name == "snapchat"),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_does_not_claim_other_formats_fixtures(path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"",
    b"{}",
    json.dumps({"Saved Media": [{"Date": "2024-03-12 22:15:03 UTC", "Media Type": "Image",
                                 "Download Link": "https://example.com"}]}).encode(),
    json.dumps({"Friends": [{"Username": "sam_x99", "Display Name": "Sam",
                             "Creation Timestamp": "2024-03-12 22:15:03 UTC"}]}).encode(),
    json.dumps([{"From": "a", "Media Type": "TEXT",
                 "Created": "2024-03-12 22:15:03 UTC"}]).encode(),
    json.dumps({"sam": [{"from": "a", "date": "2024-03-12T22:15:03"}]}).encode(),
], ids=["empty", "empty-object", "memories", "friends", "list", "other-chat-json"])
def test_does_not_claim_other_snapchat_or_json_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- the current layout --------------------------------------------------------------------


def test_current_layout_gives_sender_ids_direction_and_utc_instants() -> None:
    records = events(parse("chat_history.json"))
    assert [(r.sender, r.sender_id, r.direction, r.kind, r.text) for r in records] == [
        ("sam_x99", SUSPECT, "incoming", "message", "I know where you live"),
        ("victim.jo", OWNER, "outgoing", "message", "Stop messaging me"),
        ("sam_x99", SUSPECT, "incoming", "message", None),
        ("sam_x99", SUSPECT, "incoming", "message", "Don&#39;t ignore me 😠"),
        ("sam_x99", SUSPECT, "incoming", "system", None),
        ("kim.lee", FRIEND, "incoming", "message", "Is he bothering you?"),
        ("victim.jo", OWNER, "outgoing", "message", "Yes"),
    ]
    assert [r.time.instant for r in records[:2]] == [utc(2024, 3, 12, 22, 15, 3),
                                                     utc(2024, 3, 12, 22, 16)]
    assert (records[0].time.text, records[0].time.precision) == ("2024-03-12 22:15:03 UTC",
                                                                 "second")
    assert {(r.channel, r.time_basis) for r in records} == {("snapchat", "sent")}


def test_conversations_participants_and_recipients_come_from_the_whole_conversation() -> None:
    records = events(parse("chat_history.json"))
    assert [(r.conversation, r.participants, r.recipients) for r in records] == [
        ("sam_x99", (SUSPECT, OWNER), (OWNER,))] + [
        ("sam_x99", (SUSPECT, OWNER), (SUSPECT,))] + [
        ("sam_x99", (SUSPECT, OWNER), (OWNER,))] * 3 + [
        (GROUP, (FRIEND, OWNER), (OWNER,)), (GROUP, (FRIEND, OWNER), (FRIEND,))]
    assert records[5].extra["conversation_title"] == "Friends"
    assert [r.locator.json_path for r in records] == [
        "sam_x99[0]", "sam_x99[1]", "sam_x99[2]", "sam_x99[3]", "sam_x99[4]",
        f'["{GROUP}"][0]', f'["{GROUP}"][1]']


def test_html_entities_stay_in_the_text_and_a_readable_copy_is_kept() -> None:
    entity = events(parse("chat_history.json"))[3]
    assert entity.flags == ("html_entities",)  # IsSaved false: no "saved" flag
    assert entity.extra["text_unescaped"] == "Don't ignore me 😠"


def test_saved_flags_media_types_and_the_millisecond_number_are_kept() -> None:
    first = events(parse("chat_history.json"))[0]
    assert first.flags == ("saved",)
    assert first.extra == {"media_type": "TEXT", "created_number": "1710281703123"}


def test_media_ids_link_to_chat_media_files_named_by_date_and_id() -> None:
    make = generator("snapchat")
    delivered = {f"messages/chat_media/2024-03-12_{make.PHOTO_ID}.jpg": SHA_PHOTO,
                 "messages/chat_media/2024-03-12_overlay~zip-ABC.png": "b" * 64}
    items = parse("chat_history.json", siblings=delivered)
    media = events(items)[2]
    assert media.attachments == (AttachmentRef(make.PHOTO_ID, SHA_PHOTO),
                                 AttachmentRef(make.VIDEO_ID, None))
    assert "Media ids: 2; files delivered in chat_media and linked: 1." in [
        n.message for n in notes(items)]


def test_a_media_id_found_twice_is_not_guessed() -> None:
    make = generator("snapchat")
    delivered = {f"a/2024-03-12_{make.PHOTO_ID}.jpg": SHA_PHOTO,
                 f"b/2024-03-13_{make.PHOTO_ID}.mp4": "b" * 64}
    assert events(parse("chat_history.json", delivered))[2].attachments[0].sha256 is None


def test_notes_name_the_account_holder_and_what_snapchat_never_keeps() -> None:
    items = parse("chat_history.json")
    assert codes(items) == ["snapchat_account_holder", "snapchat_media_linked",
                            "snapchat_saved_only"]
    assert notes(items)[0].message == (
        "Entries marked IsSender come from 'victim.jo', the account holder.")
    assert "unsaved messages and viewed snaps are absent" in notes(items)[-1].message


# -- the older layout and snaps ------------------------------------------------------------


def test_older_layout_takes_direction_from_the_section_and_the_other_person_from_to() -> None:
    items = parse("chat_history_old.json")
    records = events(items)
    assert [(r.sender_id, r.recipients, r.direction, r.conversation, r.participants, r.text,
             r.flags) for r in records] == [
        (SUSPECT, (), "incoming", "sam_x99", (SUSPECT,), "answer me", ("saved",)),
        (None, (SUSPECT,), "outgoing", "sam_x99", (SUSPECT,), "no", ("saved",)),
        (FRIEND, (), "incoming", "kim.lee", (FRIEND,), None, ()),
    ]
    assert records[0].time.instant == utc(2019, 2, 13, 17, 3, 56)
    assert records[1].locator.json_path == '["Sent Saved Chat History"][0]'
    assert codes(items) == ["snapchat_old_layout", "snapchat_saved_only"]


def test_snap_history_records_when_snaps_went_never_their_content() -> None:
    items = parse("snap_history.json")
    records = events(items)
    assert [(r.sender_id, r.direction, r.text, r.flags, r.time.instant) for r in records] == [
        (SUSPECT, "incoming", None, ("snap",), utc(2024, 6, 13, 16, 42, 26)),
        (OWNER, "outgoing", None, ("snap",), utc(2024, 6, 13, 16, 50)),
    ]
    assert "snapchat_snaps_without_content" in codes(items)


def test_older_snap_history() -> None:
    records = events(parse("snap_history_old.json"))
    assert [(r.sender_id, r.recipients, r.direction, r.flags, r.extra["media_type"])
            for r in records] == [
        (SUSPECT, (), "incoming", ("snap",), "VIDEO"),
        (None, (FRIEND,), "outgoing", ("snap",), "IMAGE"),
    ]


# -- damage -------------------------------------------------------------------------------


def test_a_truncated_file_is_damaged_input_after_the_first_pass() -> None:
    with pytest.raises(DamagedInput) as caught:
        parse("truncated_chat_history.json")
    assert str(caught.value).startswith(
        f'truncated_chat_history.json: JSON unreadable at ["{GROUP}"][0]')


def test_records_read_before_damage_are_kept_when_the_damage_is_found_late() -> None:
    items: list = []
    data = fixture("snapchat", "chat_history.json")
    source = source_of(data, "chat_history.json")
    reads = 0

    def opener() -> io.BytesIO:  # the first pass sees a good file, the second a cut one
        nonlocal reads
        reads += 1
        return io.BytesIO(data if reads == 1 else data[:data.index(b"Is he bothering")])

    source = replace(source, open=opener)
    with pytest.raises(DamagedInput):
        items.extend(PARSER.parse(source, ParseOptions()))
    assert len(events(items)) == 5


def test_wrong_types_are_kept_with_defects_or_reported() -> None:
    items = parse("wrong_types_chat_history.json")
    records = events(items)
    assert [(r.locator.json_path, r.sender_id, r.direction, r.text, r.defects)
            for r in records] == [
        ("sam_x99[0]", SUSPECT, "incoming", None, ("text_not_a_string",)),
        ("sam_x99[1]", SUSPECT, "incoming", "time from the number", ("unparseable_time",)),
        ("sam_x99[4]", None, "unknown", "odd",
         ("missing_from", "unreadable_is_sender", "unreadable_media_ids")),
    ]
    fallback = records[1].time
    assert (fallback.text, fallback.instant, fallback.precision, fallback.flags) == (
        "1710410460123", utc(2024, 3, 14, 10, 1, 0, 123000), "subsecond",
        ("time_from_created_number",))
    by_code = {n.code: n.message for n in notes(items)}
    assert by_code["snapchat_entries_without_time"].startswith(
        "Entries with no usable Created time: 1 (at sam_x99[2])")
    assert "2 (at sam_x99[3], broken.not)" in by_code["snapchat_unreadable_entries"]


@pytest.mark.parametrize("data", [b"", b"[1, 2]", b'{"Received Chat History": [', b'"x"'])
def test_unreadable_files_are_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "chat_history.json")


def test_fixtures_are_what_their_generator_writes() -> None:
    for name, build in generator("snapchat").FIXTURES.items():
        assert fixture("snapchat", name) == build(), name


_KEYS = ("From", "To", "Media Type", "Created", "Content", "Text", "Conversation Title",
         "IsSender", "Created(microseconds)", "IsSaved", "Media IDs")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(json_values(_KEYS), max_size=6), key=st.sampled_from(
    ["sam", "Received Saved Chat History", "Sent Chat History", "Sent Snap History"]))
def test_any_json_in_the_entries_raises_only_parser_errors(entries, key: str) -> None:
    data = json.dumps({key: entries, "other": entries[:1]}).encode()
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data, siblings={"chat_media/2024-01-01_b~x.jpg": "c" * 64})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=800))
def test_random_bytes_raise_only_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, b'{"sam": [' + data)
