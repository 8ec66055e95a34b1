"""Facebook Messenger / Instagram thread JSON: detection, fields, mojibake, folders, damage.

Fixtures are fake downloads written by tests/fixtures/meta/make_fixtures.py, one
folder per layout era; each file is parsed with the siblings view the collector
would give it (collector.siblings over its whole download).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.siblings import SiblingIndex
from parsers import meta_common, meta_json
from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.meta_json import PARSER
from parsers.records import EventRecord, FileNote, ParsedItem
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

META = FIXTURES / "meta"
FB_2021 = "facebook_2021/messages/inbox/samtaylor_4f7cQx2b1A/message_1.json"
REQUESTS = "facebook_2021/messages/message_requests/unknownsender_9876543210/message_1.json"
GROUP = "facebook_2024/your_facebook_activity/messages/inbox/thegroup_7411223344/message_1.json"
FILTERED = ("facebook_2024/your_facebook_activity/messages/filtered_threads/"
            "strangerdanger_5550001/message_1.json")
CUTOVER = ("facebook_2024/your_facebook_activity/messages/e2ee_cutover/samtaylor_100001/"
           "message_1.json")
ARCHIVED = ("facebook_2023/your_activity_across_facebook/messages/archived_threads/oldfriend_1212/"
            "message_1.json")
INSTAGRAM = ("instagram_2024/your_instagram_activity/messages/inbox/"
             "sam.t.1990_17841400000000001/message_1.json")
THREAD_FILES = (FB_2021, REQUESTS, GROUP, FILTERED, CUTOVER, ARCHIVED, INSTAGRAM)
DAMAGED = ("damaged/truncated/message_1.json", "damaged/cut_after_messages/message_1.json",
           "damaged/wrong_types/message_1.json", "damaged/invalid_utf8/message_1.json",
           "damaged/bom/message_1.json")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def sha_of(relative: str) -> str:
    return hashlib.sha256((META / relative).read_bytes()).hexdigest()


def delivered(relative: str, data: bytes | None = None) -> SourceFile:
    """The file as the collector hands it over: siblings resolve within its download folder."""
    download, _, inside = relative.partition("/")
    root = META / download
    files = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in root.rglob("*") if p.is_file()}
    body = (META / relative).read_bytes() if data is None else data
    return SourceFile(name=Path(relative).name, sha256=hashlib.sha256(body).hexdigest(),
                      size=len(body), media_type="application/json",
                      open=lambda: io.BytesIO(body), siblings=SiblingIndex(files).beside(inside))


def parse(relative: str) -> list[ParsedItem]:
    return list(PARSER.parse(delivered(relative), ParseOptions()))


def parse_until_damage(relative: str) -> tuple[list[ParsedItem], DamagedInput]:
    items: list[ParsedItem] = []
    with pytest.raises(DamagedInput) as raised:
        items.extend(PARSER.parse(delivered(relative), ParseOptions()))
    return items, raised.value


def note(items: list[ParsedItem], code: str) -> FileNote:
    [found] = [n for n in notes(items) if n.code == code]
    return found


def by_path(records: list[EventRecord]) -> dict[str, EventRecord]:
    return {r.locator.json_path or "": r for r in records}


# -- identity and detection ------------------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("meta_json", "1.0.0", "meta_json")


@pytest.mark.parametrize("relative", THREAD_FILES + DAMAGED)
def test_detects_every_thread_file_variant(relative: str) -> None:
    data = (META / relative).read_bytes()
    assert PARSER.detect(probe_of(data, Path(relative).name))


def test_detects_on_the_truncated_head_of_a_large_file() -> None:
    data = (META / FB_2021).read_bytes()
    big = data.replace(b'"messages": [', b'"messages": [' + b'{"sender_name": "x", '
                       b'"timestamp_ms": 1615507200000, "content": "padding"},\n' * 2000, 1)
    probe = probe_of(big, "message_1.json")
    assert len(probe.head) == 64 * 1024 and PARSER.detect(probe)


def _other_fixtures() -> list[Path]:
    found = sorted((FIXTURES / "whatsapp").glob("*.txt")) + sorted(
        p for p in (FIXTURES / "email").iterdir() if p.suffix in (".eml", ".mbox"))
    found += sorted(META.rglob("*.html")) + sorted((META / "e2ee").rglob("*.json"))
    return [*found, META / "damaged/e2ee_truncated/Sam Taylor_15.json"]


@pytest.mark.parametrize("path", _other_fixtures(), ids=lambda p: p.name)
def test_does_not_detect_other_formats_fixtures(path: Path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"",
    b"{}",
    b"[]",
    # Telegram Desktop's result.json.
    b'{"name": "Sam", "type": "personal_chat", "id": 1, "messages": [{"id": 1, "type": '
    b'"message", "date": "2024-03-12T22:15:03", "date_unixtime": "1710281703", "from": "Sam"}]}',
    # Old Instagram messages.json: participants and a conversation, no timestamp_ms.
    b'[{"participants": ["sam", "dana"], "conversation": [{"sender": "sam", '
    b'"created_at": "2019-03-12T22:15:03.123+00:00", "text": "hi"}]}]',
    # The e2ee download.
    b'{"participants": ["A", "B"], "threadName": "A_1", "messages": [{"senderName": "A", '
    b'"text": "x", "timestamp": 1711913758573, "isUnsent": false}]}',
    # Keys named only inside a string.
    b'{"note": "\\"participants\\": [], \\"messages\\": [], \\"timestamp_ms\\": 1"}',
    # Google Chat messages.json.
    b'{"messages": [{"creator": {"name": "Sam"}, "created_date": "Tuesday, 12 March 2024", '
    b'"text": "hi"}]}',
    b"date,sender,text\n2024-03-12,Sam,hello\n",
])
def test_does_not_detect_other_json_and_text(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data, "message_1.json"))


# -- the 2021 Facebook thread: fields --------------------------------------------------------------


def test_keeps_every_message_in_file_order_with_its_json_path() -> None:
    records = events(parse(FB_2021))
    assert [r.locator.json_path for r in records] == [f"messages[{i}]" for i in range(15)]
    assert [r.sender for r in records] == (
        ["Sam Taylor"] * 6 + ["Dana Whitfield", "Sam Taylor", "Sam Taylor", "Dana Whitfield"]
        + ["Sam Taylor"] * 5)
    # Newest first, as Meta writes it; the store sorts by time.
    assert records[0].time.instant == utc(2021, 3, 14, 23, 59, 59, 250_000)
    assert records[-1].time.instant == utc(2021, 3, 12, 7)


def test_times_are_utc_instants_with_the_raw_milliseconds_as_text() -> None:
    first, second = events(parse(FB_2021))[:2]
    assert first.time.text == "1615766399250"
    assert (first.time.instant, first.time.local, first.time.precision) == (
        utc(2021, 3, 14, 23, 59, 59, 250_000), None, "subsecond")
    assert (second.time.text, second.time.instant, second.time.precision) == (
        "1615759800000", utc(2021, 3, 14, 22, 10), "second")


def test_names_are_not_identities_and_direction_is_unknown() -> None:
    records = events(parse(FB_2021))
    assert all(r.sender_id is None and r.recipients == () for r in records)
    assert all(r.direction == "unknown" and r.participants == () for r in records)
    assert all(r.channel == "facebook" and r.conversation == "inbox/samtaylor_4f7cQx2b1A"
               for r in records)
    assert {r.extra["participants"] for r in records} == {'["Sam Taylor", "Dana Whitfield"]'}
    assert {(r.extra["folder"], r.extra["thread_id"], r.extra["title"]) for r in records} == {
        ("inbox", "4f7cQx2b1A", "Sam Taylor")}


def test_repairs_mojibake_and_marks_the_record_and_the_file() -> None:
    items = parse(FB_2021)
    first = events(items)[0]
    assert first.text == "Nächste Woche bin ich wieder da 🌹"
    assert first.extra["mojibake_repaired"] == "true"
    assert json.loads(first.extra["reactions"]) == [
        {"reaction": "😢", "actor": "Dana Whitfield"}]
    assert "2 string(s) in 1 record(s) were repaired" in note(items, "mojibake_repaired").message


def test_the_repair_keeps_strings_that_are_not_byte_escaped() -> None:
    items = parse(FB_2021)
    records = by_path(events(items))
    cafe, broken, quotes = (records[f"messages[{i}]"] for i in (10, 11, 12))
    assert (cafe.text, "mojibake_repaired" in cafe.extra) == ("See you at the café", False)
    assert "mojibake_fix" not in cafe.extra
    assert quotes.text == "the \u201cusual place\u201d" and "mojibake_repaired" not in quotes.extra
    # A cut-off escape sequence: kept exactly, marked as a failed repair.
    assert broken.text == "I know \u00e2\u0080 more"
    assert broken.extra["mojibake_fix"] == "failed"
    assert "1 string(s) in 1 record(s)" in note(items, "mojibake_fix_failed").message


def test_links_media_to_the_delivered_files_by_their_export_paths() -> None:
    records = events(parse(FB_2021))
    photo, audio, sticker = records[1].attachments, records[2].attachments, records[3].attachments
    folder = "facebook_2021/messages/inbox/samtaylor_4f7cQx2b1A"
    assert [(a.name, a.sha256, a.media_type) for a in photo] == [
        ("messages/inbox/samtaylor_4f7cQx2b1A/photos/10157_1.jpg",
         sha_of(f"{folder}/photos/10157_1.jpg"), "image/jpeg")]
    assert [(a.name, a.sha256) for a in audio] == [
        ("messages/inbox/samtaylor_4f7cQx2b1A/audio/audioclip15700_1.mp4",
         sha_of(f"{folder}/audio/audioclip15700_1.mp4"))]
    assert [(a.name, a.sha256) for a in sticker] == [
        ("messages/stickers_used/39178562_1.png",
         sha_of("facebook_2021/messages/stickers_used/39178562_1.png"))]
    assert records[3].flags == ("sticker",)
    assert all(r.text is None for r in records[1:4])


def test_media_missing_from_the_delivery_keeps_its_name_without_a_hash() -> None:
    items = parse(FB_2021)
    taken_down = events(items)[13]
    assert [(a.name, a.sha256) for a in taken_down.attachments] == [
        ("messages/inbox/samtaylor_4f7cQx2b1A/photos/10158_1.jpg", None)]
    assert taken_down.flags == ("taken_down",)
    assert note(items, "media_not_delivered").message.startswith("1 media file(s)")


def test_calls_are_call_records_started_at_their_time() -> None:
    records = events(parse(FB_2021))
    missed, video = records[5], records[6]
    assert (missed.kind, missed.time_basis, missed.flags) == ("call", "call_started", ("missed",))
    assert (missed.text, missed.extra["call_duration_s"]) == ("Sam Taylor called you.", "0")
    assert (video.kind, video.sender, video.flags) == ("call", "Dana Whitfield", ())
    assert video.extra["call_duration_s"] == "125" and video.extra["type"] == "Call"


def test_unsent_placeholder_share_and_ip_are_kept_as_facts() -> None:
    records = events(parse(FB_2021))
    share, unsent, placeholder, own = records[4], records[7], records[8], records[9]
    assert share.extra["share_link"] == "https://www.example.com/where-you-live"
    assert share.extra["type"] == "Share" and share.kind == "message"
    assert (unsent.text, unsent.flags) == (None, ("unsent",))
    assert placeholder.flags == ("attachment_placeholder",)
    assert placeholder.extra["text_cue"] == "placeholder_text"
    assert own.extra["ip"] == "203.0.113.7" and own.text == "Please stop messaging me."


def test_opening_notes_say_how_the_service_was_decided_and_what_cannot_be_there() -> None:
    items = parse(FB_2021)
    assert "the key 'thread_type'" in note(items, "meta_service").message
    thread = note(items, "meta_thread").message
    assert ("'Sam Taylor' at inbox/samtaylor_4f7cQx2b1A, thread_type Regular: 15 message(s)"
            in thread)
    assert "end-to-end-encrypted chats" in note(items, "export_limits").message
    assert [n.code for n in notes(items) if n.code == "thread_folder"] == []


# -- folders, layouts and services -----------------------------------------------------------------


def test_message_requests_are_marked_on_every_record_and_in_a_note() -> None:
    items = parse(REQUESTS)
    records = events(items)
    assert [(r.text, r.extra["folder"]) for r in records] == [
        ("I know where you work", "message_requests"), ("Hello Dana", "message_requests")]
    assert records[0].conversation == "message_requests/unknownsender_9876543210"
    assert records[0].time.instant == utc(2021, 2, 1, 3, 4, 5)
    assert "sits in message_requests/" in note(items, "thread_folder").message


@pytest.mark.parametrize(("relative", "folder"), [
    (FILTERED, "filtered_threads"), (CUTOVER, "e2ee_cutover"), (ARCHIVED, "archived_threads")])
def test_other_harassment_relevant_folders_are_noted(relative: str, folder: str) -> None:
    items = parse(relative)
    assert {r.extra["folder"] for r in events(items)} == {folder}
    assert f"sits in {folder}/" in note(items, "thread_folder").message


def test_a_file_that_cannot_tell_the_service_defaults_to_facebook_and_says_so() -> None:
    items = parse(FILTERED)
    [record] = events(items)
    assert record.channel == "facebook"
    assert (record.time.instant, record.time.precision) == (
        utc(2024, 1, 5, 2, 0, 0, 1000), "subsecond")
    assert "Facebook Messenger was assumed" in note(items, "meta_service").message


def test_the_2023_layout_is_facebook_by_its_media_path_and_notes_a_left_thread() -> None:
    items = parse(ARCHIVED)
    [record] = events(items)
    assert record.channel == "facebook"
    assert "your_activity_across_facebook/" in note(items, "meta_service").message
    assert note(items, "left_thread")
    assert record.attachments[0].sha256 == sha_of(
        "facebook_2023/your_activity_across_facebook/messages/archived_threads/oldfriend_1212/"
        "photos/77_1.jpg")


def test_group_notices_are_system_records_but_a_person_saying_so_is_not() -> None:
    records = events(parse(GROUP))
    assert [(r.kind, r.extra.get("text_cue")) for r in records] == [
        ("system", "notice_text"), ("system", "users"), ("message", None),
        ("system", "notice_text"), ("message", None), ("message", None), ("message", None),
        ("message", None)]
    assert records[1].extra["users"] == '["Jo Bloggs"]'
    assert (records[4].sender, records[4].text) == ("Dana Whitfield", "I left the group.")


def test_group_media_of_every_kind_and_reactions_with_their_time() -> None:
    items = parse(GROUP)
    records = events(items)
    folder = "facebook_2024/your_facebook_activity/messages/inbox/thegroup_7411223344"
    inside = folder.partition("/")[2]
    assert [(a.name, a.sha256) for a in records[2].attachments] == [
        (f"{inside}/photos/2_1.jpg", sha_of(f"{folder}/photos/2_1.jpg")),
        (f"{inside}/videos/3_1.mp4", None)]
    assert [(a.sha256, a.media_type) for a in records[5].attachments] == [
        (sha_of(f"{folder}/gifs/4_1.gif"), "image/gif")]
    assert [(a.sha256, a.media_type) for a in records[7].attachments] == [
        (sha_of(f"{folder}/files/report.pdf"), "application/pdf")]
    assert json.loads(records[6].extra["reactions"]) == [
        {"reaction": "👍", "actor": "Alex Morgan", "timestamp": 1710266500}]
    assert records[0].time.instant == utc(2024, 3, 12, 22, 15, 3, 120_000)
    assert "your_facebook_activity/" in note(items, "meta_service").message
    assert "videos/3_1.mp4" in note(items, "media_not_delivered").message


def test_instagram_threads_are_told_by_their_media_paths() -> None:
    items = parse(INSTAGRAM)
    records = events(items)
    assert {r.channel for r in records} == {"instagram"}
    assert {r.conversation for r in records} == {"inbox/sam.t.1990_17841400000000001"}
    assert "your_instagram_activity/" in note(items, "meta_service").message
    assert "vanish-mode" in note(items, "export_limits").message


def test_instagram_edits_reactions_placeholders_shares_and_geoblocks() -> None:
    records = events(parse(INSTAGRAM))
    edited, original, liked, placeholder, audio, share, emoji, blocked = records
    assert (edited.text, edited.flags) == ("where are you now?? (edited)", ("edited",))
    assert (original.text, original.flags) == ("where are you now", ())
    assert original.time.instant == utc(2024, 3, 12, 22, 15, 0, 500_000)
    assert liked.flags == ("reaction_notice",) and liked.sender == "Dana W"
    assert placeholder.flags == ("attachment_placeholder",)
    assert placeholder.attachments[0].sha256 == sha_of(
        "instagram_2024/your_instagram_activity/messages/inbox/sam.t.1990_17841400000000001/"
        "photos/1784_1.jpg")
    assert audio.attachments[0].media_type == "audio/mp4"
    assert (share.text, share.extra["share_link"], share.extra["share_owner"]) == (
        None, "https://www.instagram.com/p/ABC123/", "dana.w")
    assert share.extra["share_text"] == "look who I found 👀"
    assert emoji.text == "👀👀 I see you" and emoji.extra["mojibake_repaired"] == "true"
    assert blocked.flags == ("geoblocked",)


def test_subscribe_and_unsubscribe_types_are_system_records() -> None:
    data = json.dumps({"participants": [{"name": "a"}], "messages": [
        {"sender_name": "a", "timestamp_ms": 1300000000000, "content": "a joined.",
         "type": "Subscribe", "users": [{"name": "b"}]},
        {"sender_name": "a", "timestamp_ms": 1300000001000, "type": "Unsubscribe"}],
        "thread_type": "RegularGroup", "thread_path": "inbox/a_1"}).encode()
    records = events(parse_all(PARSER, data, "message_1.json"))
    assert [(r.kind, r.extra["type"], r.extra["text_cue"]) for r in records] == [
        ("system", "Subscribe", "type"), ("system", "Unsubscribe", "type")]
    assert records[0].extra["users"] == '["b"]'


@pytest.mark.parametrize(("uri", "channel"), [
    ("messages/inbox/instagramfan_1/photos/1.jpg", "facebook"),
    ("your_facebook_activity/messages/inbox/instagramfan_1/photos/1.jpg", "facebook"),
    ("instagram-sam.t.1990-2024-03-12/messages/inbox/facebookfan_1/photos/1.jpg", "instagram"),
])
def test_only_the_first_folder_of_a_media_path_names_the_service(uri: str, channel: str) -> None:
    data = json.dumps({"participants": [{"name": "a"}], "messages": [
        {"sender_name": "a", "timestamp_ms": 1710281703000, "photos": [{"uri": uri}]}],
        "thread_path": "inbox/a_1"}).encode()
    assert events(parse_all(PARSER, data, "message_1.json"))[0].channel == channel


def test_shared_instagram_links_alone_decide_instagram() -> None:
    data = json.dumps({"participants": [{"name": "a"}], "messages": [
        {"sender_name": "a", "timestamp_ms": 1710281703000,
         "share": {"link": "https://www.instagram.com/reel/XYZ/"}}],
        "thread_path": "inbox/a_1"}).encode()
    items = parse_all(PARSER, data, "message_1.json")
    assert events(items)[0].channel == "instagram"
    assert "shared links point to Instagram only" in note(items, "meta_service").message


# -- damaged files ---------------------------------------------------------------------------------


def test_a_truncated_file_keeps_the_messages_before_the_cut() -> None:
    items, error = parse_until_damage("damaged/truncated/message_1.json")
    assert [r.locator.json_path for r in events(items)] == [f"messages[{i}]" for i in range(4)]
    assert "breaks off after messages[3]" in str(error)
    # thread_path comes after the messages, so a cut file has none.
    assert {r.conversation for r in events(items)} == {None}
    assert note(items, "no_thread_path")
    assert "Sam Taylor, Dana Whitfield" in note(items, "meta_thread").message


def test_a_file_cut_after_its_messages_keeps_them_all_and_reports_the_damage() -> None:
    items, error = parse_until_damage("damaged/cut_after_messages/message_1.json")
    assert len(events(items)) == 15
    assert "premature EOF" in str(error)


def test_wrong_types_are_defects_on_records_or_counted_in_notes() -> None:
    items = parse("damaged/wrong_types/message_1.json")
    records = by_path(events(items))
    assert sorted(records) == [f"messages[{i}]" for i in (1, 4, 5, 6, 7)]
    assert records["messages[1]"].defects == (
        "timestamp_as_text", "sender_not_text", "content_not_text")
    assert records["messages[1]"].time.instant == utc(2021, 3, 12)
    assert records["messages[4]"].defects == ("implausible_time",)
    assert records["messages[5]"].defects == ("photos_not_list", "share_not_object",
                                              "bad_reaction")
    assert json.loads(records["messages[5]"].extra["reactions"]) == [
        {"reaction": "👎", "actor": "Dana Whitfield"}]
    assert (records["messages[6]"].kind, records["messages[6]"].defects) == (
        "call", ("media_without_uri", "call_duration_not_number"))
    assert (records["messages[7]"].sender, records["messages[7]"].defects) == (None, ("no_sender",))
    assert "messages[2], messages[3], messages[8]" in note(items, "messages_without_time").message
    assert "messages[0]" in note(items, "messages_not_objects").message
    assert "brand_new_key (1)" in note(items, "unknown_message_keys").message
    assert "(no title)" in note(items, "meta_thread").message


def test_invalid_utf8_is_read_with_replacement_and_marked() -> None:
    items = parse("damaged/invalid_utf8/message_1.json")
    ok, bad = events(items)
    assert (ok.text, ok.defects) == ("ok", ())
    assert (bad.text, bad.defects) == ("B\ufffdD", ("invalid_utf8",))
    assert "first bad byte at offset" in note(items, "invalid_utf8").message


def test_a_byte_order_mark_is_skipped_in_both_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    [record] = events(parse("damaged/bom/message_1.json"))
    assert record.text == "after a BOM"
    monkeypatch.setattr(meta_json, "WHOLE_FILE_LIMIT", 0)
    assert [r.text for r in events(parse("damaged/bom/message_1.json"))] == ["after a BOM"]


@pytest.mark.parametrize("data", [
    b'{"participants": [], "messages": {"0": {}}, "thread_path": "inbox/x_1"}',
    b'[{"participants": [], "messages": [], "thread_path": "inbox/x_1"}]',
    b'{"participants": [], "messages": 5}',
    b"not json at all",
    b"",
])
def test_files_that_are_not_thread_objects_are_damaged(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "message_1.json")


def test_an_empty_thread_yields_notes_only() -> None:
    data = b'{"participants": [{"name": "a"}], "messages": [], "thread_path": "inbox/a_1"}'
    items = parse_all(PARSER, data, "message_1.json")
    assert events(items) == [] and "0 message(s)" in note(items, "meta_thread").message


# -- the streamed reader ---------------------------------------------------------------------------


@pytest.mark.parametrize("relative", (*THREAD_FILES, "damaged/invalid_utf8/message_1.json"))
def test_streaming_gives_the_same_items_as_reading_whole(
        relative: str, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = parse(relative)
    monkeypatch.setattr(meta_json, "WHOLE_FILE_LIMIT", 0)
    assert parse(relative) == whole


def test_streaming_stops_at_an_integer_too_large_for_the_streaming_reader(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The json module reads any integer; yajl stops at 10**20 and the damage is reported."""
    monkeypatch.setattr(meta_json, "WHOLE_FILE_LIMIT", 0)
    items, error = parse_until_damage("damaged/wrong_types/message_1.json")
    assert [r.locator.json_path for r in events(items)] == [
        f"messages[{i}]" for i in (1, 4, 5, 6, 7)]
    assert "after messages[7]: parse error: integer overflow" in str(error)


def test_parsing_streams_a_file_over_the_whole_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meta_json, "WHOLE_FILE_LIMIT", 1000)
    one = b'{"sender_name": "Sam", "timestamp_ms": 1615507200000, "content": "again"},\n'
    data = (META / FB_2021).read_bytes().replace(b'"messages": [', b'"messages": [' + one * 5000)
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            reads.append(len(chunk))
            return chunk

    source = SourceFile("message_1.json", "x", len(data), "application/json",
                        lambda: Counting(data))
    items = list(PARSER.parse(source, ParseOptions()))
    assert len(events(items)) == 5015
    assert max(reads) <= 64 * 1024 < len(data)


# -- robustness ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data, "message_1.json")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=4000), st.binary(min_size=1, max_size=8))
def test_corrupted_thread_files_raise_nothing_but_parser_errors(at: int, junk: bytes) -> None:
    data = (META / GROUP).read_bytes()
    at = min(at, len(data))
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data[:at] + junk + data[at + len(junk):], "message_1.json")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["sender_name", "timestamp_ms", "content", "photos", "uri", "share",
                         "reactions", "reaction", "actor", "users", "call_duration", "type",
                         "sticker", "is_unsent", "name"]), inner, max_size=4),
    max_leaves=12))
def test_any_message_values_raise_nothing_but_parser_errors(message: object) -> None:
    data = json.dumps({"participants": [{"name": "a"}], "messages": [message],
                       "thread_path": "inbox/a_1"}).encode()
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data, "message_1.json")


# -- the shared Meta helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(("written", "expected", "outcome"), [
    ("plain ascii", "plain ascii", meta_common.KEPT),
    ("N\u00c3\u00a4chste", "Nächste", meta_common.REPAIRED),
    ("\u00f0\u009f\u008c\u00b9", "🌹", meta_common.REPAIRED),
    ("caf\u00e9", "café", meta_common.KEPT),
    ("\u201cquoted\u201d", "\u201cquoted\u201d", meta_common.KEPT),
    ("cut \u00e2\u0080", "cut \u00e2\u0080", meta_common.FAILED),
])
def test_mojibake_repair_applies_only_when_it_decodes(written: str, expected: str,
                                                      outcome: int) -> None:
    assert meta_common.repair(written) == (expected, outcome)


@pytest.mark.parametrize(("text", "sender", "kind", "flags"), [
    ("Sam sent an attachment.", "Sam", "message", ("attachment_placeholder",)),
    ("You sent a photo.", "Dana", "message", ("attachment_placeholder",)),
    ("I sent an attachment.", "Sam", "message", ()),
    ("Sam unsent a message", "Sam", "message", ("unsent",)),
    ("Sam named the group Liars.", "Sam", "system", ()),
    ("Jo named the group Liars.", "Sam", "message", ()),
    ("Liked a message", "Dana", "message", ("reaction_notice",)),
    ("Sam called you.", "Sam", "message", ()),
])
def test_text_classification_is_anchored_on_the_sender(text: str, sender: str, kind: str,
                                                       flags: tuple[str, ...]) -> None:
    info = meta_common.classify_text(text, sender)
    assert (info.kind, info.flags) == (kind, flags)


def test_thread_paths_give_folder_and_id() -> None:
    assert meta_common.folder_of("message_requests/abc_123") == "message_requests"
    assert meta_common.folder_of("somewhere/abc_123") is None
    assert meta_common.thread_id_of("inbox/jeky_itiifdbrjg") == "itiifdbrjg"
    assert meta_common.thread_id_of("inbox/noid") is None
    assert meta_common.thread_path_in_uri(
        "your_facebook_activity/messages/filtered_threads/x_9/photos/1.jpg") == (
        "filtered_threads/x_9")


def test_fixtures_are_what_their_generator_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_meta_fixtures",
                                                  META / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.main(tmp_path)
    written = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
               for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(META).as_posix(): p.read_bytes()
                 for p in META.rglob("*") if p.is_file() and p.name != "make_fixtures.py"
                 and "__pycache__" not in p.parts}
    assert written == committed
