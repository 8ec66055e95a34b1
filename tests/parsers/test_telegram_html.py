"""Telegram Desktop HTML exports (messages.html, messages2.html, ...): detection, times,
senders, calls, media, pages and damage.

Fixtures are written by tests/fixtures/telegram_html/make_fixtures.py (the layout
of Telegram Desktop's HTML writer); each test names the behaviour it checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.siblings import SiblingIndex
from evidence_store.localtime import resolve
from parsers import telegram_html, web_page
from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput, ParserError
from parsers.records import AttachmentRef, EventRecord, FileNote, ParsedItem
from parsers.registry import find_parser
from parsers.telegram_html import PARSER
from tests.cli_support import conduct, ingest_json, open_case, timeline_json
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

TG = FIXTURES / "telegram_html"
PAGES = ("personal/messages.html", "personal/messages2.html", "old_export/messages.html",
         "entities/messages.html", "truncated/messages.html")
PHOTO = "photos/photo_1@14-03-2024_22-18-00.jpg"
THUMB = "photos/photo_1@14-03-2024_22-18-00_thumb.jpg"
VOICE = "voice_messages/audio_1@15-03-2024_00-20-00.ogg"
NOT_INCLUDED = "Not included, change data exporting settings to download."
SAM, DANA = "Sam Taylor", "Dana Whitfield"


def delivered(relative: str, data: bytes | None = None) -> SourceFile:
    """The page as the collector hands it over: its export folder's files as siblings."""
    folder, _, inside = relative.partition("/")
    root = TG / folder
    files = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in root.rglob("*") if p.is_file()}
    body = (TG / relative).read_bytes() if data is None else data
    return SourceFile(name=Path(relative).name, sha256=hashlib.sha256(body).hexdigest(),
                      size=len(body), media_type="text/html", open=lambda: io.BytesIO(body),
                      siblings=SiblingIndex(files).beside(inside))


def parse(relative: str) -> list[ParsedItem]:
    return list(PARSER.parse(delivered(relative), ParseOptions()))


def parse_bytes(data: bytes, name: str = "messages.html") -> list[ParsedItem]:
    return parse_all(PARSER, data, name)


def note(items: list[ParsedItem], code: str) -> FileNote:
    [found] = [n for n in notes(items) if n.code == code]
    return found


def sha_of(relative: str) -> str:
    return hashlib.sha256((TG / relative).read_bytes()).hexdigest()


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def by_id(records: list[EventRecord]) -> dict[str | None, EventRecord]:
    return {r.locator.message_id: r for r in records}


HEAD = ('<!DOCTYPE html><html><head><meta charset="utf-8"/><title>Exported Data</title></head>'
        '<body><div class="page_wrap"><div class="page_header"><div class="content">'
        '<div class="text bold">Sam Taylor</div></div></div><div class="page_body chat_page">'
        '<div class="history">')
TAIL = "</div></div></div></body></html>"
SEPARATOR = ('<div class="message service" id="message-1"><div class="body details">'
             "14 March 2024</div></div>")


def chat(*divs: str, separator: bool = True) -> bytes:
    return (HEAD + (SEPARATOR if separator else "") + "".join(divs) + TAIL).encode()


def msg(number: int, title: str = "14.03.2024 22:15:03 UTC+00:00", shown: str = "22:15",
        sender: str | None = "Sam Taylor", body: str = '<div class="text">Hi</div>',
        joined: bool = False, date_div: bool = True) -> str:
    classes = "message default clearfix" + (" joined" if joined else "")
    date = (f'<div class="pull_right date details" title="{title}">{shown}</div>'
            if date_div else "")
    name = f'<div class="from_name">{sender}</div>' if sender is not None else ""
    return (f'<div class="{classes}" id="message{number}"><div class="body">{date}{name}{body}'
            "</div></div>")


def service(number: int, text: str) -> str:
    return (f'<div class="message service" id="message{number}"><div class="body details">'
            f"{text}</div></div>")


# -- identity and detection --------------------------------------------------------------------


def test_parser_identifies_itself() -> None:
    assert (PARSER.name, PARSER.version, PARSER.format) == (
        "telegram_html", "1.0.0", "telegram_html")


@pytest.mark.parametrize("relative", PAGES)
def test_every_fixture_page_is_claimed_by_telegram_html_and_not_by_web_page(relative: str) -> None:
    probe = probe_of((TG / relative).read_bytes(), Path(relative).name)
    assert PARSER.detect(probe)
    assert not web_page.PARSER.detect(probe)
    found = find_parser(probe)
    assert found is not None and found.name == "telegram_html"


def test_a_page_is_recognised_by_its_structure_not_its_name() -> None:
    data = (TG / "personal/messages.html").read_bytes()
    assert PARSER.detect(probe_of(data, "chat with sam.html"))
    ordinary = (b"<!DOCTYPE html><html><head><title>Messages</title></head><body>"
                b"<p>My messages</p></body></html>")
    assert not PARSER.detect(probe_of(ordinary, "messages.html"))
    assert web_page.PARSER.detect(probe_of(ordinary, "messages.html"))


@pytest.mark.parametrize("data", [
    # A site that happens to use the same class names, without Telegram's message divs.
    b'<!DOCTYPE html><html><body><div class="page_header">Site</div>'
    b'<div class="history"><p>Our history since 1901</p></div></body></html>',
    # Telegram-like message divs without the page structure.
    b'<!DOCTYPE html><html><head><title>Exported Data</title></head><body><div class="page_wrap">'
    b'<div class="message default clearfix" id="message1"><div class="from_name">Sam</div>'
    b"</div></div></body></html>",
    # The markup quoted as text in a page about it.
    b"<!DOCTYPE html><html><body><pre>&lt;div class=\"page_header\"&gt; &lt;div class=\"history\""
    b"&gt;</pre></body></html>",
    b"",
])
def test_other_html_is_not_claimed(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data, "messages.html"))


def _other_fixtures() -> list[Path]:
    folders = ("meta", "web", "telegram", "whatsapp", "email")
    return sorted(p for folder in folders for p in (FIXTURES / folder).rglob("*")
                  if p.is_file() and p.suffix != ".py")


@pytest.mark.parametrize("path", _other_fixtures(),
                         ids=lambda p: str(p.relative_to(FIXTURES)))
def test_messenger_instagram_web_and_json_fixtures_are_not_claimed(path: Path) -> None:
    assert not PARSER.detect(probe_of(path.read_bytes()[:64 * 1024], path.name))


# -- the first page: times with offsets, senders, text -----------------------------------------


def test_first_page_reads_every_message_with_its_utc_time_and_sender() -> None:
    records = events(parse("personal/messages.html"))
    assert len(records) == 12
    assert [(r.locator.message_id, r.time.instant, r.sender) for r in records] == [
        ("message101", utc(2024, 3, 14, 22, 15, 3), SAM),
        ("message102", utc(2024, 3, 14, 22, 15, 40), SAM),
        ("message103", utc(2024, 3, 14, 22, 16, 10), DANA),
        ("message104", utc(2024, 3, 14, 22, 17, 2), SAM),
        ("message105", utc(2024, 3, 14, 22, 18), SAM),
        ("message106", utc(2024, 3, 14, 22, 19, 30), SAM),
        ("message107", utc(2024, 3, 14, 22, 21), SAM),
        ("message108", utc(2024, 3, 14, 22, 30), DANA),
        ("message109", utc(2024, 3, 14, 22, 45, 12), SAM),
        ("message110", utc(2024, 3, 14, 23, 5), SAM),
        ("message111", utc(2024, 3, 15, 0, 10), DANA),
        ("message112", utc(2024, 3, 15, 0, 20), SAM),
    ]
    first = records[0]
    assert (first.kind, first.time_basis, first.channel, first.direction) == (
        "message", "sent", "telegram", "unknown")
    assert (first.time.text, first.time.precision, first.time.flags) == (
        "14.03.2024 22:15:03 UTC+00:00", "second", ())
    assert first.time.local is None
    assert (first.sender_id, first.conversation, first.participants) == (None, None, ())
    assert first.extra == {"chat_name": SAM}


def test_text_keeps_link_text_and_line_breaks_and_lists_the_links() -> None:
    records = by_id(events(parse("personal/messages.html")))
    assert [records[f"message{n}"].text for n in (101, 102, 103, 104)] == [
        "Are you home?", "I can see your light on", "Who is this?",
        "Look at this\nI know where you are"]
    assert records["message104"].extra["links"] == "https://example.com/you"


def test_joined_messages_take_the_previous_named_sender_and_say_so() -> None:
    records = by_id(events(parse("personal/messages.html")))
    assert [records[f"message{n}"].extra.get("sender_inherited_from") for n in
            (101, 102, 105, 106, 107)] == [None, "message101", "message104", "message104",
                                           "message104"]


def test_edit_reply_and_forward_are_recorded_as_the_json_parser_records_them() -> None:
    records = by_id(events(parse("personal/messages.html")))
    edited, replied, forwarded = records["message107"], records["message108"], records[
        "message109"]
    assert (edited.text, edited.flags) == ("You will answer me", ("edited",))
    assert (replied.text, replied.extra["reply_to_message_id"]) == ("Stop messaging me.", "107")
    assert "reply_to_page" not in replied.extra
    assert (forwarded.sender, forwarded.text, forwarded.flags) == (
        SAM, "She was at the gym at 8", ("forwarded",))
    assert (forwarded.extra["forwarded_from"], forwarded.extra["forwarded_date"]) == (
        "Alex Morgan", "14.03.2024 20:00:00")


def test_missed_and_answered_calls_become_call_records_with_outcome_and_duration() -> None:
    records = by_id(events(parse("personal/messages.html")))
    missed, answered = records["message110"], records["message111"]
    assert (missed.kind, missed.time_basis, missed.sender, missed.direction, missed.flags) == (
        "call", "call_started", SAM, "incoming", ("missed",))
    assert (missed.extra["call_outcome"], missed.extra["call_status"]) == (
        "missed", "Incoming call Missed")
    assert "duration_seconds" not in missed.extra
    assert (answered.kind, answered.sender, answered.direction, answered.flags) == (
        "call", DANA, "outgoing", ())
    assert (answered.extra["call_outcome"], answered.extra["duration_seconds"]) == (
        "answered", "303")
    assert missed.text is None and answered.text is None


def test_media_is_linked_to_the_delivered_files_and_gaps_are_flagged() -> None:
    items = parse("personal/messages.html")
    records = by_id(events(items))
    photo, left_out, voice = records["message105"], records["message106"], records["message112"]
    assert photo.text == "Outside now"
    assert photo.attachments == (AttachmentRef(PHOTO, sha_of(f"personal/{PHOTO}"), "image/jpeg"),
                                 AttachmentRef(THUMB, sha_of(f"personal/{THUMB}"),
                                               "image/jpeg"))
    assert photo.extra["media_kind"] == "photo"
    assert (left_out.text, left_out.flags, left_out.attachments) == (
        None, ("media_not_exported",), (AttachmentRef(NOT_INCLUDED),))
    assert voice.attachments == (AttachmentRef(VOICE, None, "audio/ogg"),)
    assert voice.extra["media_kind"] == "voice_message"
    assert note(items, "media_not_exported").message.startswith("1 media file(s)")
    assert note(items, "media_not_delivered").message.startswith("1 media file(s)")


def test_locators_name_the_message_div_and_the_page_and_point_at_its_bytes() -> None:
    data = (TG / "personal/messages.html").read_bytes()
    records = events(parse("personal/messages.html"))
    for record in records:
        locator = record.locator
        assert locator.member == "messages.html"
        assert locator.byte_offset is not None and locator.byte_length is not None
        span = data[locator.byte_offset:locator.byte_offset + locator.byte_length]
        assert span.startswith(b'<div class="message default clearfix')
        assert f'id="{locator.message_id}"'.encode() in span.split(b">", 1)[0]
        assert data[:locator.byte_offset].count(b"\n") + 1 == locator.line
    assert records[0].locator.as_dict() == {
        "line": 47, "byte_offset": 680, "byte_length": 552, "message_id": "message101",
        "member": "messages.html"}


def test_page_notes_name_the_chat_the_next_page_and_the_exporters_offset() -> None:
    items = parse("personal/messages.html")
    page = note(items, "telegram_html_page").message
    assert "'Sam Taylor'" in page and "14 message div(s)" in page
    assert "the next page is messages2.html (delivered)" in page
    assert note(items, "exporter_utc_offsets").message.startswith(
        "The page's times state the exporting computer's UTC offset: UTC+00:00 (12 message(s))")
    assert note(items, "telegram_export_limits")
    assert {type(i) for i in items} == {EventRecord, FileNote}


# -- the second page ---------------------------------------------------------------------------


def test_second_page_reads_summer_offsets_a_service_call_and_a_reply_across_pages() -> None:
    items = parse("personal/messages2.html")
    records = events(items)
    assert [(r.locator.message_id, r.kind, r.sender, r.text) for r in records] == [
        ("message113", "message", SAM, "Good morning. New number, you can't block this one"),
        ("message114", "message", SAM, "Answer me"),
        ("message115", "call", SAM, "Sam Taylor called you (missed)"),
        ("message116", "message", DANA, "I have reported you to the police."),
    ]
    assert records[0].time.instant == utc(2024, 4, 2, 7, 0)
    assert records[0].time.instant.utcoffset() == timedelta(hours=1)
    assert records[3].time.instant == utc(2024, 4, 2, 8, 0)
    assert (records[3].extra["reply_to_message_id"], records[3].extra["reply_to_page"]) == (
        "101", "messages.html")
    assert {r.locator.member for r in records} == {"messages2.html"}
    assert "the previous page is messages.html (delivered)" in note(
        items, "telegram_html_page").message


def test_a_service_message_has_only_its_separators_day_and_says_so() -> None:
    items = parse("personal/messages2.html")
    call = by_id(events(items))["message115"]
    assert (call.time.local, call.time.precision, call.time.flags) == (
        datetime(2024, 4, 2), "day", ("exporter_local_time",))
    assert (call.time_basis, call.direction, call.flags) == ("call_started", "incoming",
                                                            ("missed",))
    assert (call.extra["time_source"], call.extra["call_outcome"]) == ("day_separator", "missed")
    assert call.defects == ()
    assert note(items, "service_day_only").message.startswith("1 service message(s)")


def test_both_pages_together_give_every_message_once() -> None:
    records = events(parse("personal/messages.html")) + events(parse("personal/messages2.html"))
    assert len(records) == 16
    assert len({r.locator.message_id for r in records}) == 16


# -- an older export without offsets -----------------------------------------------------------


def test_old_export_times_are_local_flagged_and_resolved_in_the_case_zone() -> None:
    items = parse("old_export/messages.html")
    records = events(items)
    assert len(records) == 6
    first = records[0]
    assert (first.time.text, first.time.local, first.time.instant, first.time.flags) == (
        "05.01.2020 14:03:11", datetime(2020, 1, 5, 14, 3, 11), None, ("exporter_local_time",))
    instant, _, _ = resolve(first.time, "Europe/London")
    assert instant == utc(2020, 1, 5, 14, 3, 11)
    instant, _, _ = resolve(first.time, "Asia/Karachi")
    assert instant == utc(2020, 1, 5, 9, 3, 11)
    assert [(r.sender, r.text) for r in records] == [
        ("Sam T", "Hi"), ("Sam T", "Are you there?"), ("Sam T", None), ("Dana W", None),
        ("Sam T", None), ("Sam T", "Pick up")]
    assert note(items, "exporter_local_time").message.startswith("5 message time(s)")


def test_old_export_call_wording_gives_each_outcome() -> None:
    records = by_id(events(parse("old_export/messages.html")))
    calls = [records[f"message{n}"] for n in (203, 204, 205)]
    assert [(c.kind, c.flags, c.extra["call_outcome"], c.direction) for c in calls] == [
        ("call", ("missed",), "missed", "unknown"),
        ("call", (), "answered", "outgoing"),
        ("call", ("declined",), "declined", "unknown")]
    assert records["message204"].extra["duration_seconds"] == "300"


def test_old_export_edited_mark_is_read() -> None:
    records = by_id(events(parse("old_export/messages.html")))
    assert records["message202"].flags == ("edited",)
    assert records["message201"].flags == ()


def test_an_unreadable_time_keeps_the_record_with_the_day_and_shown_time() -> None:
    items = parse("old_export/messages.html")
    record = by_id(events(items))["message206"]
    assert (record.text, record.defects) == ("Pick up", ("unparseable_time",))
    assert (record.time.local, record.time.precision, record.time.text) == (
        datetime(2020, 1, 5, 14, 25), "minute", "2020-01-05 14:25")
    assert (record.extra["time_source"], record.extra["date_title"]) == (
        "day_separator_and_shown_time", "31.02.2020 25:99:00")
    assert "'31.02.2020 25:99:00'" in note(items, "unreadable_times").message


# -- entities, emoji and markup ----------------------------------------------------------------


def test_character_references_emoji_and_entity_markup_give_the_exact_text() -> None:
    items = parse("entities/messages.html")
    records = events(items)
    assert [r.text for r in records] == [
        "Fish & chips <3 \"quoted\" 'single' caf\u00e9",
        "\U0001f600 \U0001f620 \U0001f621 \U0001f468\u200d\U0001f469\u200d\U0001f467 bold it "
        "x = 1 hidden @dana",
        "line one\nline\u00a0two\n\ncode block",
    ]
    assert records[0].extra["chat_name"] == "Sam & Alex"
    assert "links" not in records[1].extra  # a mention's empty href is not a link


# -- damage ------------------------------------------------------------------------------------


def test_a_truncated_page_keeps_what_it_holds_and_marks_the_last_record() -> None:
    items = parse("truncated/messages.html")
    records = events(items)
    assert [(r.text, r.defects) for r in records] == [
        ("First", ()), ("Second", ()), ("I know where you", ("page_cut_short",))]
    assert [r.time.instant for r in records] == [
        utc(2024, 3, 17, 9, 0), utc(2024, 3, 17, 9, 1), utc(2024, 3, 17, 9, 2)]
    assert note(items, "page_cut_short")


def test_a_telegram_page_with_no_messages_is_damaged() -> None:
    data = (HEAD + TAIL).encode()
    assert PARSER.detect(probe_of(data, "messages.html"))
    with pytest.raises(DamagedInput, match="no message in it"):
        parse_bytes(data)


def test_a_page_cut_before_its_first_message_is_damaged() -> None:
    data = (TG / "personal/messages.html").read_bytes()
    cut = data[:data.index(b'<div class="message service"')]
    assert PARSER.detect(probe_of(cut, "messages.html"))
    with pytest.raises(DamagedInput):
        parse_bytes(cut)


def test_a_page_whose_only_messages_cannot_be_dated_is_damaged_after_its_notes() -> None:
    data = chat(msg(1, title="garbage"), separator=False)
    items: list[ParsedItem] = []
    with pytest.raises(DamagedInput, match="could be read"):
        for item in PARSER.parse(delivered("personal/messages.html", data), ParseOptions()):
            items.append(item)
    assert "message1" in note(items, "skipped_no_readable_date").message


def test_a_message_without_a_date_div_keeps_the_separators_day_with_a_defect() -> None:
    [record] = events(parse_bytes(chat(msg(1, date_div=False))))
    assert (record.time.local, record.time.precision, record.defects) == (
        datetime(2024, 3, 14), "day", ("missing_time",))


def test_a_joined_message_with_no_sender_before_it_is_kept_with_a_defect() -> None:
    [record] = events(parse_bytes(chat(msg(1, sender=None, joined=True))))
    assert (record.sender, record.text, record.defects) == (None, "Hi", ("joined_sender_unknown",))


def test_an_unjoined_message_without_a_name_has_a_defect() -> None:
    [record] = events(parse_bytes(chat(msg(1, sender=None))))
    assert record.defects == ("no_sender",)


def test_a_title_that_states_the_edit_time_is_kept() -> None:
    title = "14.03.2024 22:15:03 UTC+00:00&#10;Edited: 14.03.2024 22:20:00 UTC+00:00"
    [record] = events(parse_bytes(chat(msg(1, title=title))))
    assert record.time.instant == utc(2024, 3, 14, 22, 15, 3)
    assert (record.flags, record.extra["edited"]) == (("edited",), "14.03.2024 22:20:00 UTC+00:00")


def test_negative_offsets_and_minute_only_titles() -> None:
    [west, short] = events(parse_bytes(chat(msg(1, title="14.03.2024 18:15:03 UTC-04:00"),
                                            msg(2, title="14.03.2024 22:16"))))
    assert west.time.instant == datetime(2024, 3, 14, 18, 15, 3,
                                         tzinfo=timezone(-timedelta(hours=4)))
    assert west.time.instant == utc(2024, 3, 14, 22, 15, 3)
    assert (short.time.local, short.time.precision) == (datetime(2024, 3, 14, 22, 16), "minute")


@pytest.mark.parametrize(("text", "kind", "direction", "flags", "extra"), [
    ("Sam Taylor called you (missed)", "call", "incoming", ("missed",),
     {"call_outcome": "missed"}),
    ("You called Sam Taylor (5 min 3 sec)", "call", "outgoing", (),
     {"call_outcome": "answered", "duration_seconds": "303", "call_with": "Sam Taylor"}),
    ("Sam Taylor called you (declined)", "call", "incoming", ("declined",),
     {"call_outcome": "declined"}),
    ("Sam Taylor started a video chat", "call", "unknown", ("group_call",), {}),
    ("Sam Taylor joined group by link", "system", "unknown", (), {}),
    ("Sam Taylor changed group name to «Call me when you get this»", "system", "unknown",
     (), {}),
    ("Sam Taylor pinned \u201cI called you twice\u201d", "system", "unknown", (), {}),
])
def test_service_messages_about_calls_are_calls(text: str, kind: str, direction: str,
                                                flags: tuple[str, ...],
                                                extra: dict[str, str]) -> None:
    [record] = events(parse_bytes(chat(service(5, text))))
    assert (record.kind, record.direction, record.flags, record.text) == (
        kind, direction, flags, text)
    assert extra.items() <= record.extra.items()


def test_a_nested_message_div_from_broken_markup_is_read_on_its_own() -> None:
    broken = msg(1).removesuffix("</div></div>") + msg(2, body='<div class="text">Inner</div>',
                                                         sender="Alex")
    records = events(parse_bytes(chat(broken + "</div></div>")))
    assert [(r.locator.message_id, r.sender, r.text) for r in records] == [
        ("message1", SAM, "Hi"), ("message2", "Alex", "Inner")]


def test_invalid_utf8_is_read_with_replacement_and_marked() -> None:
    data = chat(msg(1, body='<div class="text">BxD</div>')).replace(b"BxD", b"B\xffD")
    items = parse_bytes(data)
    [record] = events(items)
    assert (record.text, record.defects) == ("B\ufffdD", ("invalid_utf8",))
    assert record.locator.byte_offset is None and record.locator.line == 1
    assert note(items, "invalid_utf8")


def test_a_page_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_html, "MAX_PAGE_BYTES", 100)
    with pytest.raises(DamagedInput, match="too large"):
        parse("personal/messages.html")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_raise_nothing_but_parser_errors(data: bytes) -> None:
    PARSER.detect(probe_of(data, "messages.html"))
    with contextlib.suppress(ParserError):
        parse_bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PAGES), st.integers(min_value=0, max_value=12000),
       st.binary(min_size=1, max_size=12), st.integers(min_value=0, max_value=12000))
def test_corrupted_pages_raise_nothing_but_parser_errors(relative: str, at: int, junk: bytes,
                                                         cut: int) -> None:
    data = (TG / relative).read_bytes()
    at = min(at, len(data))
    damaged = (data[:at] + junk + data[at + len(junk):])[:max(cut, at + len(junk))]
    with contextlib.suppress(ParserError):
        list(PARSER.parse(delivered(relative, damaged), ParseOptions()))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60), st.text(max_size=30))
def test_any_title_or_service_text_raises_nothing(title: str, text: str) -> None:
    clean = title.replace('"', "").replace("<", "")
    with contextlib.suppress(ParserError):
        parse_bytes(chat(msg(1, title=clean, shown=clean), service(2, text.replace("<", ""))))


# -- through the collector ---------------------------------------------------------------------


def test_ingesting_the_export_folder_parses_both_pages_and_links_the_photo(
        store_dir: Path, tmp_path: Path) -> None:
    open_case()
    code, report = ingest_json("OP-1", TG / "personal")
    assert code == 0, report
    timeline = [e for e in timeline_json() if e["channel"] == "telegram"]
    assert len(timeline) == 16
    photo = next(e for e in timeline if e["text"] == "Outside now")
    assert photo["attachments"][0]["sha256"] == sha_of(f"personal/{PHOTO}")
    first = next(e for e in timeline if e["text"] == "Are you home?")
    assert (first["occurred_at"], first["parser"]) == ("2024-03-14T22:15:03Z",
                                                      "telegram_html/1.0.0")
    assert first["locator"]["message_id"] == "message101"
    pages = sorted(e["format"] for e in report["exhibits"] if e["format"] == "telegram_html")
    assert pages == ["telegram_html", "telegram_html"]
    assert conduct("verify", "OP-1").exit_code == 0
