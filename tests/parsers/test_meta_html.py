"""Messenger / Instagram thread pages (message_N.html): the three markups, local times, damage.

Fixtures are written by tests/fixtures/meta/make_fixtures.py: html_2020 (old
Messenger markup), html_2023 (Instagram, div.pam._a6-g), html_2024 (Messenger,
section._a6-g) and damaged/html_* for times and bytes the parser must survive.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.siblings import SiblingIndex
from parsers import meta_html
from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.meta_html import PARSER
from parsers.records import EventRecord, FileNote, ParsedItem
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

META = FIXTURES / "meta"
OLD = "html_2020/messages/inbox/samtaylor_4f7cQx2b1A/message_1.html"
MID = "html_2023/your_instagram_activity/messages/inbox/sam.t.1990_17841400000000001/message_1.html"
NEW = "html_2024/your_facebook_activity/messages/message_requests/samtaylor_100001/message_1.html"
TIMES = "damaged/html_times/message_1.html"
NUMERIC = "damaged/html_numeric/message_1.html"
BAD_BYTES = "damaged/html_invalid_utf8/message_1.html"
PAGES = (OLD, MID, NEW, TIMES, NUMERIC, BAD_BYTES)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
          second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second)


def delivered(relative: str, data: bytes | None = None) -> SourceFile:
    download, _, inside = relative.partition("/")
    root = META / download
    files = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in root.rglob("*") if p.is_file()}
    body = (META / relative).read_bytes() if data is None else data
    return SourceFile(name=Path(relative).name, sha256=hashlib.sha256(body).hexdigest(),
                      size=len(body), media_type="text/html",
                      open=lambda: io.BytesIO(body), siblings=SiblingIndex(files).beside(inside))


def parse(relative: str, options: ParseOptions | None = None) -> list[ParsedItem]:
    return list(PARSER.parse(delivered(relative), options or ParseOptions()))


def note(items: list[ParsedItem], code: str) -> FileNote:
    [found] = [n for n in notes(items) if n.code == code]
    return found


def sha_of(relative: str) -> str:
    return hashlib.sha256((META / relative).read_bytes()).hexdigest()


def page(*blocks: tuple[str, str, str]) -> bytes:
    """A minimal 2022-23 page with (sender, body, time) blocks."""
    parts = [
        '<div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder">'
        f'<div class="_3-95 _2pim _a6-h _a6-i">{sender}</div>'
        f'<div class="_3-95 _a6-p"><div>{body}</div></div>'
        f'<div class="_3-94 _a6-o">{when}</div></div>'
        for sender, body, when in blocks]
    return ("<html><head><title>t</title></head><body>" + "".join(parts)
            + "</body></html>").encode()


# -- identity and detection ------------------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == ("meta_html", "1.0.0", "meta_html")


@pytest.mark.parametrize("relative", PAGES)
def test_detects_every_thread_page(relative: str) -> None:
    assert PARSER.detect(probe_of((META / relative).read_bytes(), "message_1.html"))


def test_detects_a_renamed_page_by_its_participants_line() -> None:
    data = (META / OLD).read_bytes()
    assert PARSER.detect(probe_of(data, "chat with sam.html"))
    assert not PARSER.detect(probe_of(data.replace(b"Participants:", b"People:"), "chat.html"))


def _other_fixtures() -> list[Path]:
    found = sorted((FIXTURES / "whatsapp").glob("*.txt")) + sorted(
        p for p in (FIXTURES / "email").iterdir() if p.suffix in (".eml", ".mbox"))
    return found + sorted(META.rglob("*.json"))


@pytest.mark.parametrize("path", _other_fixtures(), ids=lambda p: p.parent.name + "/" + p.name)
def test_does_not_detect_other_formats_fixtures(path: Path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes(), path.name))


@pytest.mark.parametrize(("data", "name"), [
    (b"", "message_1.html"),
    (b"<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Hello</p></body></html>",
     "message_1.html"),
    # Another page of a Meta download: same markup, not a thread.
    (b'<html><body><div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder">'
     b'<div class="_3-95 _2pim _a6-h _a6-i">A caption</div><div class="_3-94 _a6-o">'
     b"Mar 12, 2024 10:15 pm</div></div></body></html>", "your_posts_1.html"),
    # The class names in prose, not markup.
    (b"<html><body><p>Meta uses _a6-g and _a6-o classes; Participants: many</p></body></html>",
     "message_1.html"),
    # Telegram's HTML export.
    (b'<!DOCTYPE html><html><head><title>Exported Data</title></head><body><div class="page_wrap">'
     b'<div class="message default clearfix" id="message1"><div class="from_name">Sam</div>'
     b"</div></div></body></html>", "messages.html"),
])
def test_does_not_detect_other_html(data: bytes, name: str) -> None:
    assert not PARSER.detect(probe_of(data, name))


# -- the older Messenger markup --------------------------------------------------------------------


def test_old_markup_reads_every_block_with_local_times() -> None:
    records = events(parse(OLD))
    assert [r.sender for r in records] == ["Sam Taylor"] * 3 + ["Dana Whitfield"] + [
        "Sam Taylor"] * 2
    assert [r.time.local for r in records] == [
        local(2021, 3, 14, 23, 59), local(2021, 3, 14, 22, 10), local(2021, 3, 14, 20, 0),
        local(2021, 3, 13, 9, 30), local(2021, 3, 13, 0, 5), local(2021, 3, 12, 12, 0)]
    first = records[0].time
    assert (first.text, first.instant, first.precision, first.flags) == (
        "Mar 14, 2021, 11:59 PM", None, "minute", ("minute_precision",))
    assert {(r.channel, r.direction, r.sender_id) for r in records} == {
        ("facebook", "unknown", None)}


def test_old_markup_text_reactions_media_calls_and_links() -> None:
    records = events(parse(OLD))
    rose, photo, call, reply, share, unsent = records
    assert rose.text == "Nächste Woche bin ich wieder da 🌹"
    assert json.loads(rose.extra["reactions"]) == ["😢Dana Whitfield"]
    assert photo.text is None
    assert [(a.name, a.sha256) for a in photo.attachments] == [
        ("messages/inbox/samtaylor_4f7cQx2b1A/photos/10157_1.jpg",
         sha_of("html_2020/messages/inbox/samtaylor_4f7cQx2b1A/photos/10157_1.jpg"))]
    assert (call.kind, call.time_basis, call.flags) == ("call", "call_started", ("missed",))
    assert reply.text == "Please stop.\nI mean it & I've told the police."
    assert (share.text, share.extra["share_link"]) == (
        "look at this", "https://www.example.com/where-you-live")
    assert (unsent.text, unsent.flags) == ("Sam Taylor unsent a message.", ("unsent",))


def test_the_thread_is_named_by_its_media_paths_and_participants_kept_as_names() -> None:
    items = parse(OLD)
    records = events(items)
    assert {r.conversation for r in records} == {"inbox/samtaylor_4f7cQx2b1A"}
    assert {r.extra["participants"] for r in records} == {'["Sam Taylor", "Dana Whitfield"]'}
    assert {(r.extra["title"], r.extra["folder"], r.extra["thread_id"]) for r in records} == {
        ("Sam Taylor", "inbox", "4f7cQx2b1A")}
    assert all(r.participants == () for r in records)
    assert "named by its media paths" in note(items, "meta_thread").message
    assert "Facebook Messenger was assumed" in note(items, "meta_service").message
    assert "no zone" in note(items, "local_times").message


def test_locators_give_the_line_and_byte_offset_of_each_block() -> None:
    data = (META / OLD).read_bytes()
    records = events(parse(OLD))
    assert [r.locator.line for r in records] == [5, 6, 7, 8, 9, 10]
    for record in records:
        offset = record.locator.byte_offset
        assert offset is not None
        assert data[offset:].startswith(b'<div class="pam _3-95 _2pi0 _2lej')
        assert data[:offset].count(b"\n") + 1 == record.locator.line


# -- the 2022-23 markup (Instagram) ----------------------------------------------------------------


def test_mid_markup_instagram_page() -> None:
    items = parse(MID)
    records = events(items)
    assert len(records) == 5  # the participants header block is not a message
    assert {(r.channel, r.conversation) for r in records} == {
        ("instagram", "inbox/sam.t.1990_17841400000000001")}
    edited, original, photo, share, liked = records
    assert (edited.text, edited.flags) == ("where are you now?? (edited)", ("edited",))
    assert (edited.time.local, edited.time.precision, edited.time.flags) == (
        local(2024, 3, 12, 22, 15, 3), "second", ())
    assert original.flags == ()
    assert photo.attachments[0].sha256 == sha_of(
        "html_2023/your_instagram_activity/messages/inbox/sam.t.1990_17841400000000001/"
        "photos/1784_1.jpg")
    assert (share.text, share.extra["share_link"]) == (None, "https://www.instagram.com/p/ABC123/")
    assert (liked.sender, liked.flags) == ("Dana W", ("reaction_notice",))
    assert records[0].extra["participants"] == '["Sam T", "Dana W"]'


def test_single_line_pages_still_locate_each_block_by_byte() -> None:
    data = (META / MID).read_bytes()
    records = events(parse(MID))
    assert {r.locator.line for r in records} == {1}
    offsets = [r.locator.byte_offset or 0 for r in records]
    assert offsets == sorted(offsets) and len(set(offsets)) == 5
    for offset in offsets:
        assert data[offset:].startswith(b'<div class="pam _3-95 _2ph- _a6-g')


# -- the 2024 markup -------------------------------------------------------------------------------


def test_new_markup_page_in_message_requests() -> None:
    items = parse(NEW)
    records = events(items)
    assert [(r.kind, r.time.local) for r in records] == [
        ("system", local(2024, 3, 12, 22, 15)), ("message", local(2024, 3, 12, 22, 14)),
        ("message", local(2024, 3, 12, 9, 5)), ("call", local(2024, 3, 11, 23, 59))]
    notice, video, spaced, call = records
    assert notice.extra["text_cue"] == "notice_text"
    video_path = "your_facebook_activity/messages/message_requests/samtaylor_100001/videos/99_1.mp4"
    assert [(a.name, a.sha256, a.media_type) for a in video.attachments] == [
        (video_path, sha_of(f"html_2024/{video_path}"), "video/mp4")]
    assert video.text is None
    assert spaced.text == "  two  spaces kept  "
    assert (call.flags, call.time.text) == ((), "11 Mar 2024, 23:59")
    assert {r.extra["folder"] for r in records} == {"message_requests"}
    assert "sits in message_requests/" in note(items, "thread_folder").message
    assert "your_facebook_activity/" in note(items, "meta_service").message
    data = (META / NEW).read_bytes()
    assert [r.locator.line for r in records] == [11, 12, 13, 14]
    assert all(data[r.locator.byte_offset or 0:].startswith(b'<section class="_a6-g">')
               for r in records)


# -- times -----------------------------------------------------------------------------------------


def test_time_formats_zones_and_unreadable_times() -> None:
    items = parse(TIMES)
    records = events(items)
    assert [r.text for r in records] == ["in an offset zone", "full month names", "iso"]
    zoned = records[0].time
    assert zoned.local is None and zoned.instant is not None
    assert zoned.instant == datetime(2019, 3, 12, 22, 15, tzinfo=timezone(timedelta(hours=1)))
    assert zoned.instant.astimezone(UTC) == datetime(2019, 3, 12, 21, 15, tzinfo=UTC)
    assert records[1].time.local == local(2019, 3, 12, 22, 15)
    assert (records[2].time.local, records[2].time.precision) == (
        local(2019, 3, 12, 22, 15, 30), "second")
    message = note(items, "messages_without_time").message
    assert message.startswith("4 message block(s)")
    assert "page lines 5, 6, 7, 8" in message
    assert "'Yesterday at 22:15'" in message and "'Feb 30, 2019, 10:15 PM'" in message


def test_numeric_dates_take_their_order_from_the_file() -> None:
    items = parse(NUMERIC)
    assert [r.time.local for r in events(items)] == [
        local(2017, 12, 25, 0, 6), local(2017, 12, 11, 21, 48)]
    assert all(r.time.flags == ("minute_precision",) for r in events(items))
    assert "dmy: a first number above 12" in note(items, "date_order").message


def test_ambiguous_numeric_dates_are_assumed_and_flagged() -> None:
    data = page(("Sam", "x", "11/12/2017, 21:48"), ("Sam", "y", "01/02/2018, 09:00"))
    items = parse_all(PARSER, data, "message_1.html")
    assert [r.time.local for r in events(items)] == [
        local(2017, 12, 11, 21, 48), local(2018, 2, 1, 9, 0)]
    assert all("ambiguous_day_month" in r.time.flags for r in events(items))
    assert "dmy was assumed from the 24-hour clock" in note(items, "date_order").message


def test_the_officer_sets_the_numeric_date_order() -> None:
    data = page(("Sam", "x", "11/12/2017, 9:48 PM"))
    items = parse_all(PARSER, data, "message_1.html", ParseOptions(date_order="mdy"))
    [record] = events(items)
    assert (record.time.local, record.time.flags) == (
        local(2017, 11, 12, 21, 48), ("minute_precision",))
    assert "as set by the officer" in note(items, "date_order").message


# -- damage ----------------------------------------------------------------------------------------


def test_invalid_utf8_is_read_with_replacement_and_marked() -> None:
    items = parse(BAD_BYTES)
    [record] = events(items)
    assert (record.text, record.defects) == ("B\ufffdD", ("invalid_utf8",))
    assert note(items, "invalid_utf8")


def test_a_page_without_message_blocks_is_damaged() -> None:
    with pytest.raises(DamagedInput, match="no message block"):
        parse_all(PARSER, b"<html><body><p>Participants: A</p></body></html>", "message_1.html")


def test_a_page_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meta_html, "MAX_PAGE_BYTES", 100)
    with pytest.raises(DamagedInput, match="too large"):
        parse(OLD)


def test_a_block_without_sender_is_kept_with_a_defect() -> None:
    data = page(("", "anonymous", "Mar 12, 2024 10:15 pm"))
    [record] = events(parse_all(PARSER, data, "message_1.html"))
    assert (record.sender, record.text, record.defects) == (None, "anonymous", ("no_sender",))


def test_a_truncated_page_keeps_its_whole_blocks() -> None:
    data = (META / OLD).read_bytes()
    cut = data[:data.index(b"Mar 13, 2021, 9:30 AM")]
    records = events(parse_all(PARSER, cut, "message_1.html"))
    assert [r.time.text for r in records] == [
        "Mar 14, 2021, 11:59 PM", "Mar 14, 2021, 10:10 PM", "Mar 14, 2021, 8:00 PM"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data, "message_1.html")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=3000), st.binary(min_size=1, max_size=12))
def test_corrupted_pages_raise_nothing_but_parser_errors(at: int, junk: bytes) -> None:
    data = (META / NEW).read_bytes()
    at = min(at, len(data))
    with contextlib.suppress(ParserError):
        parse_all(PARSER, data[:at] + junk + data[at + len(junk):], "message_1.html")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_time_text_raises_nothing(when: str) -> None:
    with contextlib.suppress(ParserError):
        parse_all(PARSER, page(("Sam", "x", when.replace("<", ""))), "message_1.html")


def test_only_records_and_notes_are_yielded() -> None:
    assert {type(i) for i in parse(OLD)} == {EventRecord, FileNote}
