"""End-to-end-encrypted Messenger download (threadName/senderName JSON): detection, fields, damage.

Fixtures are written by tests/fixtures/meta/make_fixtures.py: e2ee/ is the
download's layout (messages/<Name>_<n>.json beside media/).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.siblings import SiblingIndex
from parsers import meta_e2ee_json
from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.meta_e2ee_json import PARSER
from parsers.records import EventRecord, FileNote, ParsedItem
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

META = FIXTURES / "meta"
THREAD = "e2ee/messages/Sam Taylor_15.json"
TRUNCATED = "damaged/e2ee_truncated/Sam Taylor_15.json"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def delivered(relative: str) -> SourceFile:
    download, _, inside = relative.partition("/")
    root = META / download
    files = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in root.rglob("*") if p.is_file()}
    body = (META / relative).read_bytes()
    return SourceFile(name=Path(relative).name, sha256=hashlib.sha256(body).hexdigest(),
                      size=len(body), media_type="application/json",
                      open=lambda: io.BytesIO(body), siblings=SiblingIndex(files).beside(inside))


def parse(relative: str = THREAD) -> list[ParsedItem]:
    return list(PARSER.parse(delivered(relative), ParseOptions()))


def note(items: list[ParsedItem], code: str) -> FileNote:
    [found] = [n for n in notes(items) if n.code == code]
    return found


def thread_bytes(*messages: object, name: str = "A_1") -> bytes:
    return json.dumps({"participants": ["A", "B"], "threadName": name,
                       "messages": list(messages)}).encode()


# -- identity and detection ------------------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == (
        "meta_e2ee_json", "1.0.0", "meta_e2ee_json")


@pytest.mark.parametrize("relative", [THREAD, TRUNCATED])
def test_detects_the_e2ee_thread_files(relative: str) -> None:
    assert PARSER.detect(probe_of((META / relative).read_bytes(), Path(relative).name))


@pytest.mark.parametrize("data", [
    # threadName after a long messages list: the message keys are enough.
    b'{"messages": [{"isUnsent": false, "media": [], "reactions": [], "senderName": "A", '
    b'"text": "x", "timestamp": 1711913758573, "type": "text"}',
    # An empty thread.
    b'{"threadName": "Nobody_1", "participants": ["A", "Nobody"], "messages": []}',
])
def test_detects_other_shapes_of_the_download(data: bytes) -> None:
    assert PARSER.detect(probe_of(data, "Nobody_1.json"))


def _other_fixtures() -> list[Path]:
    found = sorted((FIXTURES / "whatsapp").glob("*.txt")) + sorted(
        p for p in (FIXTURES / "email").iterdir() if p.suffix in (".eml", ".mbox"))
    found += sorted(META.rglob("*.html"))
    return found + sorted(p for p in META.rglob("message_1.json"))


@pytest.mark.parametrize("path", _other_fixtures(), ids=lambda p: p.parent.name + "/" + p.name)
def test_does_not_detect_other_formats_fixtures(path: Path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize("data", [
    b"",
    b"{}",
    b'{"threadName": "x"}',
    b'{"senderName": "A", "text": "no messages list"}',
    b'[{"threadName": "A_1", "messages": [{"senderName": "A"}]}]',
    b'{"messages": [{"senderName": "A", "message": "chat app payload", "timestamp": 1}]}',
    b'{"participants": [{"name": "a"}], "messages": [{"sender_name": "a", '
    b'"timestamp_ms": 1, "content": "x"}], "threadName": "mixed"}',
])
def test_does_not_detect_other_json(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data, "x.json"))


# -- fields ----------------------------------------------------------------------------------------


def test_reads_every_message_oldest_first_in_file_order() -> None:
    records = events(parse())
    assert [r.locator.json_path for r in records] == [f"messages[{i}]" for i in range(6)]
    assert [r.time.instant for r in records] == [
        utc(2024, 4, 1, 8, 0, 0, 573_000), utc(2024, 4, 1, 8, 1), utc(2024, 4, 1, 8, 2),
        utc(2024, 4, 1, 8, 3), utc(2024, 4, 1, 9), utc(2024, 4, 1, 9, 5)]
    assert [r.time.precision for r in records] == ["subsecond"] + ["second"] * 5
    assert records[0].time.text == "1711958400573"
    assert [r.sender for r in records] == ["Sam Taylor"] * 4 + ["Dana Whitfield", "Sam Taylor"]


def test_text_is_kept_as_written_in_clean_utf8() -> None:
    records = events(parse())
    assert records[0].text == "Why did you block me? Nächstes Mal 🙂"
    assert records[4].text == "Leave me alone 🙏"
    assert all("mojibake_repaired" not in r.extra for r in records)


def test_every_record_is_a_messenger_message_of_the_thread() -> None:
    records = events(parse())
    assert {(r.kind, r.time_basis, r.channel, r.direction) for r in records} == {
        ("message", "sent", "facebook", "unknown")}
    assert {r.conversation for r in records} == {"Sam Taylor_15"}
    assert all(r.sender_id is None and r.participants == () for r in records)
    assert {r.extra["participants"] for r in records} == {'["Dana Whitfield", "Sam Taylor"]'}


def test_media_links_to_the_delivered_file() -> None:
    items = parse()
    media = events(items)[1]
    sha = hashlib.sha256((META / "e2ee/media/e2ee_photo_1.jpeg").read_bytes()).hexdigest()
    assert [(a.name, a.sha256, a.media_type) for a in media.attachments] == [
        ("./media/e2ee_photo_1.jpeg", sha, "image/jpeg")]
    assert (media.text, media.extra["type"]) == ("", "media")
    assert not [n for n in notes(items) if n.code == "media_not_delivered"]


def test_unsent_unavailable_media_reactions_and_links_are_facts() -> None:
    items = parse()
    records = events(items)
    unsent, failed, reply, link = records[2], records[3], records[4], records[5]
    assert (unsent.text, unsent.flags, unsent.extra["type"]) == (
        "Sam Taylor unsent a message", ("unsent",), "placeholder")
    assert (failed.attachments, failed.flags) == ((), ("media_unavailable",))
    assert "1 media item(s)" in note(items, "media_unavailable").message
    assert json.loads(reply.extra["reactions"]) == [{"reaction": "😂", "actor": "Sam Taylor"}]
    assert (link.text, link.extra["type"]) == ("https://example.com/your-street", "link")


def test_notes_describe_the_download_and_its_limits() -> None:
    items = parse()
    assert "Sam Taylor_15: 6 message(s), oldest first" in note(items, "meta_e2ee_thread").message
    assert "display name only" in note(items, "export_limits").message


def test_mojibake_would_be_repaired_and_marked_if_present() -> None:
    text = "N\u00c3\u00a4chste"
    items = parse_all(PARSER, thread_bytes(
        {"senderName": "A", "text": text, "timestamp": 1711958400000}), "A_1.json")
    [record] = events(items)
    assert (record.text, record.extra["mojibake_repaired"]) == ("Nächste", "true")
    assert note(items, "mojibake_repaired")


# -- damage ----------------------------------------------------------------------------------------


def test_a_truncated_file_keeps_the_messages_before_the_cut() -> None:
    items: list[ParsedItem] = []
    with pytest.raises(DamagedInput) as raised:
        items.extend(PARSER.parse(delivered(TRUNCATED), ParseOptions()))
    assert [r.locator.json_path for r in events(items)] == ["messages[0]", "messages[1]"]
    assert {r.conversation for r in events(items)} == {"Sam Taylor_15"}
    assert "breaks off after messages[1]" in str(raised.value)


def test_wrong_types_are_defects_or_counted() -> None:
    data = thread_bytes(
        "not an object",
        {"senderName": 5, "text": ["x"], "timestamp": "1711958400000", "extra_key": 1},
        {"senderName": "A", "text": "no time"},
        {"senderName": "A", "timestamp": 1711958400000, "media": "x", "reactions": [3]},
        {"text": "who?", "timestamp": 1711958400000, "media": [{"name": "no uri"}]},
    )
    items = parse_all(PARSER, data, "A_1.json")
    records = events(items)
    assert [r.locator.json_path for r in records] == ["messages[1]", "messages[3]", "messages[4]"]
    assert records[0].defects == ("timestamp_as_text", "sender_not_text", "content_not_text")
    assert records[1].defects == ("media_not_list", "bad_reaction")
    assert records[2].defects == ("no_sender", "media_without_uri")
    assert "messages[2]" in note(items, "messages_without_time").message
    assert "messages[0]" in note(items, "messages_not_objects").message
    assert "extra_key (1)" in note(items, "unknown_message_keys").message


@pytest.mark.parametrize("data", [
    b'{"threadName": "A_1", "messages": {"0": {}}}', b"[1, 2]", b"not json", b""])
def test_files_that_are_not_thread_objects_are_damaged(data: bytes) -> None:
    with pytest.raises(DamagedInput):
        parse_all(PARSER, data, "A_1.json")


def test_streaming_gives_the_same_items_as_reading_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = parse()
    monkeypatch.setattr(meta_e2ee_json, "WHOLE_FILE_LIMIT", 0)
    streamed = parse()
    # The streamed reader does not count the messages before reading them.
    assert [i for i in streamed if not isinstance(i, FileNote)] == [
        i for i in whole if not isinstance(i, FileNote)]
    assert [n.code for n in notes(streamed)] == [n.code for n in notes(whole)]


def test_invalid_utf8_is_read_with_replacement_in_both_readers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = thread_bytes({"senderName": "A", "text": "BAD", "timestamp": 1711958400000})
    data = b"\xef\xbb\xbf" + data.replace(b"BAD", b"B\xffD")
    bad_at = data.index(b"\xff")
    for limit in (meta_e2ee_json.WHOLE_FILE_LIMIT, 0):
        monkeypatch.setattr(meta_e2ee_json, "WHOLE_FILE_LIMIT", limit)
        items = parse_all(PARSER, data, "A_1.json")
        [record] = events(items)
        assert (record.text, record.defects) == ("B\ufffdD", ("invalid_utf8",))
        assert f"offset {bad_at})" in note(items, "invalid_utf8").message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data, "A_1.json")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["senderName", "text", "timestamp", "media", "uri", "reactions",
                         "reaction", "actor", "isUnsent", "type"]), inner, max_size=4),
    max_leaves=12))
def test_any_message_values_raise_nothing_but_parser_errors(message: object) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, thread_bytes(message), "A_1.json")


def _record_types(items: list[ParsedItem]) -> set[type]:
    return {type(i) for i in items}


def test_only_records_and_notes_are_yielded() -> None:
    assert _record_types(parse()) == {EventRecord, FileNote}
