"""WhatsApp "Export chat" text parser: detection, header variants, bodies, provenance.

Fixtures are written by tests/fixtures/whatsapp/make_fixtures.py (byte-exact
invisible characters); each test names the behaviour it checks.
"""

from __future__ import annotations

import io
import itertools
import json
from datetime import date, datetime

import pytest

from parsers.base import ParseOptions, SourceFile
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, EventRecord
from parsers.whatsapp import PARSER
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of

WA = FIXTURES / "whatsapp"
LRM, NNBSP, NBSP, BOM = "\u200e", "\u202f", "\u00a0", "\ufeff"
SHA_PHOTO = "a" * 64
SHA_PDF = "b" * 64
ALL_FIXTURES = sorted(p.name for p in WA.glob("*.txt"))


def data_of(name: str) -> bytes:
    return (WA / name).read_bytes()


def parse(name: str, options: ParseOptions | None = None,
          siblings: dict[str, str] | None = None) -> list:
    return parse_all(PARSER, data_of(name), name, options, siblings)


def parse_bytes(data: bytes, options: ParseOptions | None = None) -> list:
    return parse_all(PARSER, data, "_chat.txt", options)


def note_codes(items: list) -> list[str]:
    return [n.code for n in notes(items)]


def locals_of(records: list[EventRecord]) -> list[datetime | None]:
    return [r.time.local for r in records]


# -- the parser's identity and detection ------------------------------------------


def test_parser_identifies_itself_as_whatsapp() -> None:
    assert (PARSER.name, PARSER.format) == ("whatsapp", "whatsapp")
    assert PARSER.version == "1.0.0"


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_detects_every_export_variant(name: str) -> None:
    assert PARSER.detect(probe_of(data_of(name), name))


def test_detection_works_on_the_probe_head_of_a_large_file() -> None:
    head = data_of("android_en_gb_24h.txt")
    probe = probe_of(head + b"x" * 200_000)
    assert len(probe.head) == 64 * 1024
    assert PARSER.detect(probe)


MBOX = (b"From alex@example.org Tue Mar 12 22:15:00 2024\n"
        b"From: Alex <alex@example.org>\nSubject: chat\n\n"
        b"12/03/2024, 22:15 - Alex: Are you home?\n"
        b"12/03/2024, 22:16 - Dana: Who is this?\n")
EML = (b"Return-Path: <alex@example.org>\nFrom: Alex <alex@example.org>\nTo: dana@example.org\n"
       b"Subject: our chat\nDate: Tue, 12 Mar 2024 22:20:00 +0000\n\n"
       b"12/03/2024, 22:15 - Alex: Are you home?\n"
       b"12/03/2024, 22:16 - Dana: Who is this?\n"
       b"12/03/2024, 22:17 - Alex: You know who\n")
PROSE = (b"On 12/03/2024 at 22:15 he wrote to me again.\nI did not answer.\n"
         b"The next day, 13/03/2024, he called six times.\n")
JSON_DOC = json.dumps({"messages": [{"date": "12/03/2024, 22:15", "text": "hi"}]}).encode()
LOG = b"2024-03-12 22:15:03,120 - INFO - started\n2024-03-12 22:15:04,001 - INFO - done\n"
PASTED_AFTER_PROSE = (b"Officer notes\nline two\nline three\nline four\nline five\nline six\n"
                      b"12/03/2024, 22:15 - Alex: hi\n12/03/2024, 22:16 - Alex: hi\n")


@pytest.mark.parametrize(
    "data",
    [MBOX, EML, PROSE, JSON_DOC, LOG, PASTED_AFTER_PROSE, b"",
     b"12/03/2024, 22:15 - Alex: a single header is not enough\n",
     b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
     b"31/02/2024, 10:00 - Alex: impossible\n32/13/2024, 10:00 - Alex: dates\n"],
    ids=["mbox", "eml", "prose", "json", "log", "chat-after-prose", "empty", "one-header",
         "png", "impossible-dates"],
)
def test_does_not_claim_other_files(data: bytes) -> None:
    assert not PARSER.detect(probe_of(data))


# -- Android variants ---------------------------------------------------------------


def test_android_en_us_12h_reads_month_first_with_narrow_nbsp_before_am_pm() -> None:
    items = parse("android_en_us_12h.txt")
    records = events(items)
    assert len(records) == 12
    assert note_codes(items) == ["date_order"]
    assert "mdy" in notes(items)[0].message and "'1/13/23' on line 8" in notes(items)[0].message
    assert locals_of(records) == [
        datetime(2023, 1, 4, 19, 2), datetime(2023, 1, 4, 19, 2), datetime(2023, 1, 4, 19, 5),
        datetime(2023, 1, 5, 0, 15), datetime(2023, 1, 5, 0, 16), datetime(2023, 1, 5, 0, 16),
        datetime(2023, 1, 5, 0, 20), datetime(2023, 1, 13, 9, 41), datetime(2023, 1, 13, 9, 45),
        datetime(2023, 1, 13, 12, 0), datetime(2023, 1, 13, 12, 1), datetime(2023, 1, 13, 23, 59),
    ]
    first = records[1].time
    assert first.text == f"1/4/23, 7:02{NNBSP}PM"
    assert (first.precision, first.flags, first.instant) == ("minute", ("minute_precision",), None)
    assert first.local is not None and first.local.tzinfo is None


def test_android_en_us_bodies_and_flags() -> None:
    records = events(parse("android_en_us_12h.txt"))
    assert [(r.kind, r.sender, r.text, r.flags) for r in records] == [
        ("system", None, "Messages and calls are end-to-end encrypted. No one outside of this "
         "chat, not even WhatsApp, can read or listen to them. Tap to learn more.", ()),
        ("message", "Sam Carter", "hey are you around?", ()),
        ("message", "Jordan Lee", "Who is this", ()),
        ("message", "Sam Carter", "you can't ignore me", ()),
        ("message", "Sam Carter", "<Media omitted>", ("media_omitted",)),
        ("message", "Sam Carter", "This message was deleted", ("deleted",)),
        ("message", "Sam Carter", "I know where you live <This message was edited>", ("edited",)),
        ("message", "Sam Carter", "null", ("view_once",)),
        ("message", "Sam Carter", "location: https://maps.google.com/?q=51.5072,-0.1276",
         ("location",)),
        ("message", "Jordan Lee", "Please stop contacting me.", ()),
        ("message", "+1 (202) 555-0143", "it's me, new number", ()),
        ("message", "Sam Carter", "You deleted this message", ("deleted",)),
    ]
    assert all(r.channel == "whatsapp" and r.direction == "unknown" for r in records)
    assert all(r.time_basis == "sent" for r in records)


def test_phone_number_senders_get_an_e164_id_and_names_get_none() -> None:
    records = events(parse("android_en_us_12h.txt"))
    assert {r.sender: r.sender_id for r in records if r.sender} == {
        "Sam Carter": None, "Jordan Lee": None, "+1 (202) 555-0143": "+12025550143",
    }
    gb = events(parse("android_en_gb_24h.txt"))
    assert [r.sender_id for r in gb if r.sender == "+44 7700 900123"] == ["+447700900123"] * 3


def test_phone_numbers_are_read_in_the_cases_default_region() -> None:
    data = b"12/03/2024, 22:15 - 07700 900123: hi\n13/03/2024, 22:16 - 07700 900123: hi\n"
    assert events(parse_bytes(data))[0].sender_id == "+447700900123"
    us = events(parse_bytes(b"12/03/2024, 22:15 - (202) 555-0143: hi\n"
                            b"13/03/2024, 22:16 - (202) 555-0143: hi\n",
                            ParseOptions(default_region="US")))
    assert us[0].sender_id == "+12025550143"


def test_bidi_marks_around_a_number_stay_in_the_sender_but_not_in_the_id() -> None:
    sender = "\u202a+44 7700 900123\u202c"
    data = (f"12/03/2024, 22:15 - {sender}: hi\n13/03/2024, 22:16 - {sender}: hi\n").encode()
    record = events(parse_bytes(data))[0]
    assert (record.sender, record.sender_id) == (sender, "+447700900123")


def test_android_en_gb_reads_day_first_24h() -> None:
    items = parse("android_en_gb_24h.txt")
    records = events(items)
    assert len(records) == 10
    assert notes(items)[0].message.startswith("Dates read as dmy: the first date field exceeds 12")
    assert locals_of(records) == [
        datetime(2024, 3, 12, 22, 15), datetime(2024, 3, 12, 22, 15),
        datetime(2024, 3, 12, 22, 16), datetime(2024, 3, 12, 22, 16),
        datetime(2024, 3, 12, 22, 40), datetime(2024, 3, 13, 0, 1), datetime(2024, 3, 13, 0, 1),
        datetime(2024, 3, 13, 7, 30), datetime(2024, 3, 13, 7, 31),
        datetime(2024, 3, 25, 23, 59),
    ]
    assert [r.kind for r in records] == ["system"] + ["message"] * 9
    assert [(r.locator.line, r.flags) for r in records if r.flags] == [
        (7, ("media_omitted",)), (9, ("deleted",))]


def test_android_de_two_digit_years_and_german_placeholders() -> None:
    records = events(parse("android_de.txt"))
    assert len(records) == 10
    assert locals_of(records)[0] == datetime(2024, 3, 12, 22, 15)
    assert locals_of(records)[7] == datetime(2024, 3, 14, 7, 5)
    assert records[0].time.text == "12.03.24, 22:15"
    assert (records[0].kind, records[0].sender) == ("system", None)
    assert records[3].flags == ("media_omitted",)
    assert records[5].text == "Das wei\u00dft du genau"
    assert records[7].attachments == (AttachmentRef("IMG-20240314-WA0001.jpg"),)
    assert records[7].text == "IMG-20240314-WA0001.jpg (Datei angeh\u00e4ngt)"


def test_android_en_ca_year_first_with_dotted_am_pm() -> None:
    items = parse("android_en_ca.txt")
    records = events(items)
    assert notes(items)[0].message == (
        "Dates read as ymd: every date starts with a four-digit year.")
    assert locals_of(records) == [
        datetime(2023, 12, 20, 17, 46), datetime(2023, 12, 20, 17, 47),
        datetime(2023, 12, 20, 17, 47), datetime(2023, 12, 20, 17, 50),
        datetime(2023, 12, 20, 23, 59), datetime(2023, 12, 21, 0, 3),
        datetime(2023, 12, 21, 0, 4), datetime(2023, 12, 21, 9, 0),
        datetime(2023, 12, 21, 12, 30), datetime(2023, 12, 22, 1, 15),
    ]
    assert records[5].time.text == "2023-12-21, 12:03 a.m."
    assert records[6].flags == ("media_omitted",)


def test_android_es_am_pm_with_nbsp_and_text_never_normalised() -> None:
    records = events(parse("android_es.txt"))
    assert locals_of(records) == [
        datetime(2017, 6, 20, 20, 28), datetime(2017, 6, 20, 20, 30),
        datetime(2017, 6, 20, 20, 31), datetime(2017, 6, 20, 23, 58),
        datetime(2017, 6, 21, 0, 5), datetime(2017, 6, 21, 0, 6),
        datetime(2017, 6, 21, 9, 15), datetime(2017, 6, 21, 9, 20),
        datetime(2017, 6, 21, 12, 0), datetime(2017, 6, 22, 1, 0),
    ]
    assert records[0].time.text == f"20/6/2017 8:28 p.{NBSP}m."
    # NFD "i + combining acute" stays as written: no Unicode normalisation.
    assert records[0].sender == "Luci\u0301a" != "Luc\u00eda"
    assert records[1].text == "\u00bfqui\u00e9n eres?"
    assert records[4].flags == ("media_omitted",)
    assert records[6].text == "te estoy viendo \U0001f440"


def test_android_fi_klo_and_dotted_time() -> None:
    records = events(parse("android_fi.txt"))
    assert len(records) == 10
    assert [(r.time.text, r.time.local, r.sender) for r in records[:2]] == [
        ("13.6.2018 klo 21.25", datetime(2018, 6, 13, 21, 25), "Matti"),
        ("13.6.2018 klo 21.26", datetime(2018, 6, 13, 21, 26), "Aino"),
    ]
    assert (records[5].time.text, records[5].time.local) == (
        "14.6.2018 klo 0.05", datetime(2018, 6, 14, 0, 5))


def test_android_en_za_slashed_year_first_with_lowercase_am_pm() -> None:
    records = events(parse_bytes(b"2023/12/20, 5:46 pm - Riley: hi\n"
                                 b"2023/12/21, 12:01 am - Riley: late\n"))
    assert locals_of(records) == [datetime(2023, 12, 20, 17, 46), datetime(2023, 12, 21, 0, 1)]


def test_dates_separated_by_dot_and_space() -> None:
    records = events(parse_bytes(b"13. 06. 2018. 21:25 - Ana: bok\n"
                                 b"14. 06. 2018. 08:00 - Ivo: bok\n"))
    assert [(r.time.text, r.time.local) for r in records] == [
        ("13. 06. 2018. 21:25", datetime(2018, 6, 13, 21, 25)),
        ("14. 06. 2018. 08:00", datetime(2018, 6, 14, 8, 0)),
    ]


def test_calendar_is_checked_so_no_date_rolls_over() -> None:
    items = parse_bytes(b"28/02/2023, 10:00 - A: real\n"
                        b"29/02/2023, 10:00 - A: not a leap year\n"
                        b"29/02/2024, 10:00 - A: leap day\n")
    records = events(items)
    assert locals_of(records) == [datetime(2023, 2, 28, 10, 0), datetime(2024, 2, 29, 10, 0)]
    assert records[0].text == "real\n29/02/2023, 10:00 - A: not a leap year"
    assert records[0].defects == ("impossible_date_header",)


# -- iOS variants ---------------------------------------------------------------------


def test_ios_en_gb_brackets_seconds_and_crlf() -> None:
    records = events(parse("ios_en_gb.txt"))
    assert len(records) == 14
    assert records[1].time.text == "12/03/2024, 22:15:03"
    assert records[1].time.local == datetime(2024, 3, 12, 22, 15, 3)
    assert (records[1].time.precision, records[1].time.flags) == ("second", ())
    assert records[1].text == "Why won't you answer"
    assert not any("\r" in (r.text or "") for r in records)
    assert records[1].locator.byte_length == len(
        b"[12/03/2024, 22:15:03] Chris Hall: Why won't you answer\r\n")


def test_ios_calls_are_call_events_with_missed_flags_and_durations() -> None:
    records = events(parse("ios_en_gb.txt"))
    calls = [r for r in records if r.kind == "call"]
    assert [(r.time.local, r.sender, r.flags, dict(r.extra)) for r in calls] == [
        (datetime(2024, 3, 12, 22, 16, 10), "Chris Hall", ("missed", "voice"), {}),
        (datetime(2024, 3, 12, 22, 16, 45), "Chris Hall", ("missed", "voice"), {}),
        (datetime(2024, 3, 12, 22, 20), "Chris Hall", ("voice",), {"duration": "12 min"}),
        (datetime(2024, 3, 12, 22, 40), "Dana Fox", ("video",), {"duration": "1 hr 5 min"}),
        (datetime(2024, 3, 13, 8, 1), "Chris Hall", ("silenced", "voice"), {}),
    ]
    assert all(r.time_basis == "call_started" for r in calls)
    assert calls[0].text == f"{LRM}Missed voice call, {LRM}Tap to call back"


def test_ios_lrm_marked_bodies_keep_their_raw_text() -> None:
    records = events(parse("ios_en_gb.txt", siblings={
        "00000012-PHOTO-2024-03-13-08-00-02.jpg": SHA_PHOTO}))
    by_line = {r.locator.line: r for r in records}
    assert (by_line[7].text, by_line[7].flags) == (f"{LRM}image omitted", ("media_omitted",))
    assert by_line[8].text == f"{LRM}<attached: 00000012-PHOTO-2024-03-13-08-00-02.jpg>"
    assert by_line[8].attachments == (
        AttachmentRef("00000012-PHOTO-2024-03-13-08-00-02.jpg", SHA_PHOTO),)
    assert (by_line[10].text, by_line[10].flags) == (f"{LRM}This message was deleted.",
                                                     ("deleted",))
    assert (by_line[11].text, by_line[11].flags) == (
        f"I'm outside {LRM}<This message was edited>", ("edited",))
    # A document not handed over: linked by name, no hash.
    assert by_line[12].attachments == (AttachmentRef("00000013-report.pdf", None),)
    assert by_line[12].kind == "message"
    assert by_line[13].flags == ("location",)


def test_ios_notices_with_a_sender_are_system_events_not_messages() -> None:
    records = events(parse("ios_en_gb.txt"))
    notices = [r for r in records if r.kind == "system"]
    assert [(r.locator.line, r.sender, r.sender_id, dict(r.extra)) for r in notices] == [
        (1, "Chris Hall", None, {"notice_cue": "phrase", "notice_sender": "Chris Hall"}),
        (14, "Chris Hall", None, {"notice_cue": "phrase", "notice_sender": "Chris Hall"}),
    ]
    assert notices[0].text.startswith(f"{LRM}Messages and calls are end-to-end encrypted.")
    assert notices[1].text == f"{LRM}You blocked this contact. Tap to unblock."


def test_ios_en_us_12h_with_seconds() -> None:
    records = events(parse("ios_en_us_12h.txt"))
    assert len(records) == 10
    assert [(r.time.text, r.time.local) for r in records[:2]] == [
        (f"7/11/2017, 8:20:41{NNBSP}PM", datetime(2017, 7, 11, 20, 20, 41)),
        (f"7/11/2017, 8:21:02{NNBSP}PM", datetime(2017, 7, 11, 20, 21, 2)),
    ]
    assert locals_of(records)[4:9] == [
        datetime(2017, 7, 11, 23, 2, 0), datetime(2017, 7, 14, 0, 0, 0),
        datetime(2017, 7, 14, 0, 0, 30), datetime(2017, 7, 14, 0, 1, 10),
        datetime(2017, 7, 14, 12, 30, 15),
    ]
    assert [(r.locator.line, r.kind, r.flags) for r in records if r.flags] == [
        (2, "message", ("media_omitted",)), (5, "call", ("missed", "voice")),
        (8, "message", ("media_omitted",)), (10, "message", ("deleted",))]
    assert records[1].text == f"{LRM}sticker omitted"


def test_ios_group_non_contacts_polls_and_group_named_notices() -> None:
    records = events(parse("ios_group.txt"))
    assert [(r.kind, r.sender) for r in records] == [
        ("system", "Book Club"), ("system", "Book Club"), ("system", "Book Club"),
        ("message", "Carolina"), ("message", "Alice"), ("system", "Book Club"),
        ("message", "Alice"),
    ]
    outsider = records[3]
    assert outsider.flags == ("not_in_contacts",)
    assert outsider.extra == {"sender_raw": f"~{NNBSP}Carolina"}
    poll = records[4]
    assert poll.flags == ("poll",)
    assert poll.text == (f"{LRM}POLL:\nWhich book?\n{LRM}OPTION: Dune (2 votes)\n"
                         f"{LRM}OPTION: Emma (0 votes)")
    assert (poll.locator.line, poll.locator.line_end) == (5, 8)
    assert records[2].extra == {"notice_cue": "lrm", "notice_sender": "Book Club"}
    assert records[5].text == f"{LRM}Alice removed ~{NNBSP}Carolina"


def test_bracketed_iso_dates_without_seconds() -> None:
    records = events(parse("ios_iso.txt"))
    assert len(records) == 10
    assert [(r.time.text, r.time.local, r.time.precision) for r in records[:2]] == [
        ("2019-04-16 02:09", datetime(2019, 4, 16, 2, 9), "minute"),
        ("2019-04-16 02:10", datetime(2019, 4, 16, 2, 10), "minute"),
    ]
    assert records[-1].time.local == datetime(2019, 4, 18, 23, 59)


def test_old_ios_colon_form() -> None:
    records = events(parse("old_ios.txt"))
    assert len(records) == 10
    assert [(r.time.local, r.sender, r.text) for r in records[:2]] == [
        (datetime(2013, 8, 6, 19, 55, 10), "Habi", "Hallo"),
        (datetime(2013, 8, 6, 19, 56, 2), "Mia", "Wer ist da?"),
    ]
    assert (records[8].time.local, records[8].text) == (
        datetime(2013, 8, 14, 7, 1), "Guten Morgen")


@pytest.mark.parametrize(
    ("body", "kind", "flags", "extra"),
    [
        ("This message was deleted by admin Alice.", "message", ("deleted",), {}),
        (f"{LRM}Missed group video call", "call", ("missed", "group", "video"), {}),
        (f"{LRM}Voice call, {LRM}No answer", "call", ("voice", "no_answer"), {}),
        (f"{LRM}Missed call, 5 min \u2022 2 joined", "call", ("missed",),
         {"duration": "5 min", "joined": "2"}),
        (f"{LRM}GIF omitted", "message", ("media_omitted",), {}),
        (f"{LRM}Contact card omitted", "message", ("media_omitted",), {}),
        (f"notes.pdf \u2022 2 pages {LRM}document omitted", "message", ("media_omitted",), {}),
        (f"{LRM}Live location shared", "message", ("location",), {}),
        (f"{LRM}Waiting for this message. This may take a while.", "message",
         ("not_decrypted",), {}),
        (f"{LRM}Your security code with Dana changed. Tap to learn more.", "system", (),
         {"notice_cue": "phrase", "notice_sender": "Chris"}),
        (f"{LRM}Chris changed the group description", "system", (),
         {"notice_cue": "phrase", "notice_sender": "Chris"}),
        ("Voice call me later", "message", (), {}),
        ("I left early", "message", (), {}),
    ],
)
def test_ios_special_bodies(body: str, kind: str, flags: tuple[str, ...],
                            extra: dict[str, str]) -> None:
    data = (f"[12/03/2024, 22:15:03] Chris: {body}\n"
            f"[13/03/2024, 22:15:03] Chris: ok\n").encode()
    record = events(parse_bytes(data))[0]
    assert (record.kind, record.flags, dict(record.extra), record.text) == (
        kind, flags, extra, body)


def test_very_old_ios_attached_marker() -> None:
    data = (f"[04/08/2015, 10:00:00] Chris: 2015-08-04-PHOTO-00004762.jpg <{LRM}attached>\n"
            f"[13/08/2015, 10:00:00] Chris: ok\n").encode()
    record = events(parse_all(PARSER, data, siblings={"2015-08-04-PHOTO-00004762.jpg": SHA_PHOTO}))
    assert record[0].attachments == (AttachmentRef("2015-08-04-PHOTO-00004762.jpg", SHA_PHOTO),)


# -- attachments ------------------------------------------------------------------------


def test_android_file_attached_names_with_spaces_and_captions() -> None:
    siblings = {"IMG-20240114-WA0001.jpg": SHA_PHOTO, "Q1 Budget Review.pdf": SHA_PDF,
                "Scan 14 Jan 2024 (2).pdf": "c" * 64}
    records = events(parse("android_file_attached.txt", siblings=siblings))
    assert [r.attachments for r in records] == [
        (AttachmentRef("IMG-20240114-WA0001.jpg", SHA_PHOTO),),
        (AttachmentRef("Q1 Budget Review.pdf", SHA_PDF),),
        (AttachmentRef("VID-20240114-WA0002.mp4", None),),  # not handed over
        (),
        (AttachmentRef("PTT-20240114-WA0003.opus", None),),
        (AttachmentRef("STK-20240114-WA0004.webp", None),),
        (AttachmentRef("Scan 14 Jan 2024 (2).pdf", "c" * 64),),
        (),
    ]
    assert records[1].text == ("Q1 Budget Review.pdf (file attached)\n"
                               "Here is the budget you asked for\nand a second caption line")
    assert (records[1].locator.line, records[1].locator.line_end) == (2, 4)
    assert all(r.kind == "message" and not r.flags for r in records)


def test_attachments_link_by_base_name_when_the_name_has_a_folder() -> None:
    data = (f"[12/03/2024, 22:15:03] Chris: {LRM}<attached: Media/00000014-x.jpg>\n"
            "[13/03/2024, 22:15:03] Chris: ok\n").encode()
    record = events(parse_all(PARSER, data, siblings={"00000014-x.jpg": SHA_PHOTO}))[0]
    assert record.attachments == (AttachmentRef("Media/00000014-x.jpg", SHA_PHOTO),)


# -- system notices -------------------------------------------------------------------


def test_group_notices_are_never_attributed_as_messages() -> None:
    records = events(parse("group_notices.txt"))
    assert [(r.kind, r.sender, r.text) for r in records] == [
        ("system", None, "Messages and calls are end-to-end encrypted. No one outside of this "
         "chat, not even WhatsApp, can read or listen to them. Tap to learn more."),
        ("system", None, 'Alice created group "Neighbours"'),
        ("system", None, "Alice added Bob"),
        ("system", None, "Alice added +44 7700 900456"),
        ("system", None, 'Alice changed the subject from "Neighbours" to "Street: East side"'),
        ("system", None, "Alice changed this group's icon"),
        ("message", "Bob", "hi all"),
        ("system", None, "+44 7700 900456 left"),
        ("system", None, "Alice removed Bob"),
        ("system", None, "Your security code with Bob changed. Tap to learn more."),
        ("system", "Alice", "Alice updated the message timer. New messages will disappear from "
         "this chat 7 days after they're sent, except when kept."),
        ("message", "Bob", "Bob added sugar to the tea"),
        ("message", "Alice", "Bob left the gate open"),
    ]
    assert records[1].extra == {"notice_cue": "no_sender"}
    assert records[10].extra == {"notice_cue": "phrase", "notice_sender": "Alice"}
    assert all(r.sender_id is None for r in records if r.kind == "system")


def test_android_sender_bearing_notices() -> None:
    data = (b"12/03/2024, 22:15 - Bob: Messages and calls are end-to-end encrypted. "
            b"No one outside of this chat can read them.\n"
            b"12/03/2024, 22:16 - Bob: You blocked this contact. Tap to unblock.\n"
            b"13/03/2024, 22:17 - Bob: Alice added Carol\n"
            b"13/03/2024, 22:18 - Group: Mary Ann de Souza removed Carol\n"
            b"13/03/2024, 22:19 - Group: Mary Ann de Souza was removed from the team\n")
    records = events(parse_bytes(data))
    assert [(r.kind, r.sender, r.extra.get("notice_sender")) for r in records] == [
        ("system", "Bob", "Bob"), ("system", "Bob", "Bob"), ("system", "Bob", "Bob"),
        ("system", "Group", "Group"), ("message", "Group", None)]


# -- day/month order ------------------------------------------------------------------


def test_undecidable_order_assumes_day_first_and_flags_every_time() -> None:
    items = parse("ambiguous_order.txt")
    records = events(items)
    assert note_codes(items) == ["date_order", "ambiguous_day_month"]
    assert "day-first assumed" in notes(items)[0].message
    assert sorted({r.time.local.date() for r in records if r.time.local}) == [
        date(2024, 4, 3), date(2024, 4, 5), date(2024, 5, 5), date(2024, 6, 6)]
    assert records[0].time.local == datetime(2024, 4, 3, 10, 0)
    assert len(records) == 10
    assert all(r.time.flags == ("minute_precision", "ambiguous_day_month") for r in records)


def test_officer_date_order_overrides_inference_and_clears_the_ambiguity() -> None:
    items = parse("ambiguous_order.txt", ParseOptions(date_order="mdy"))
    records = events(items)
    assert note_codes(items) == ["date_order_set_by_officer"]
    assert notes(items)[0].message.startswith("Dates read as mdy, as set by the officer")
    assert sorted({r.time.local.date() for r in records if r.time.local}) == [
        date(2024, 3, 4), date(2024, 5, 4), date(2024, 5, 5), date(2024, 6, 6)]
    assert records[0].time.local == datetime(2024, 3, 4, 10, 0)
    assert all(r.time.flags == ("minute_precision",) for r in records)


def test_officer_order_also_overrides_a_decided_file() -> None:
    items = parse("android_en_us_12h.txt", ParseOptions(date_order="mdy"))
    assert note_codes(items) == ["date_order_set_by_officer"]
    assert "(the file alone suggested mdy" in notes(items)[0].message


def _chat(dates: list[str]) -> bytes:
    return "".join(f"{d}, 10:00 - Pat: message {i}\n" for i, d in enumerate(dates)).encode()


def test_fewest_chronological_inversions_decides_when_no_value_exceeds_12() -> None:
    day_first = parse_bytes(_chat(["01/02/2024", "02/02/2024", "03/02/2024", "01/03/2024"]))
    assert note_codes(day_first) == ["date_order"]
    assert "day-first gives fewer chronological inversions" in notes(day_first)[0].message
    assert locals_of(events(day_first))[-1] == datetime(2024, 3, 1, 10, 0)
    month_first = parse_bytes(_chat(["02/01/2024", "02/02/2024", "02/03/2024", "03/01/2024"]))
    assert "month-first gives fewer" in notes(month_first)[0].message
    assert locals_of(events(month_first))[-1] == datetime(2024, 3, 1, 10, 0)


def test_order_is_decided_from_the_whole_file_not_the_first_lines() -> None:
    dates = ["01/02/2024"] * 500 + ["25/02/2024"]
    records = events(parse_bytes(_chat(dates)))
    assert records[0].time.local == datetime(2024, 2, 1, 10, 0)
    assert records[-1].time.local == datetime(2024, 2, 25, 10, 0)


def test_mixed_orders_are_flagged_and_impossible_dates_never_roll_over() -> None:
    items = parse_bytes(_chat(["13/01/2024", "14/01/2024", "01/15/2024"]))
    records = events(items)
    assert note_codes(items) == ["date_order", "ambiguous_day_month", "impossible_date_header"]
    assert "mixes orders" in notes(items)[0].message
    assert len(records) == 2
    assert records[1].text == "message 1\n01/15/2024, 10:00 - Pat: message 2"
    assert records[1].defects == ("impossible_date_header",)
    assert all("ambiguous_day_month" in r.time.flags for r in records)


def test_impossible_times_are_not_headers() -> None:
    items = parse_bytes(b"12/03/2024, 22:15 - A: x\n"
                        b"13/03/2024, 24:00 - A: hour 24\n"
                        b"13/03/2024, 13:00 PM - A: 13 PM\n"
                        b"13/03/2024, 22:60 - A: minute 60\n")
    records = events(items)
    assert len(records) == 1
    assert records[0].text.count("\n") == 3
    assert records[0].defects == ("impossible_date_header",)


# -- text, lines and provenance ---------------------------------------------------------


def test_multiline_messages_keep_line_breaks_and_empty_lines() -> None:
    items = parse("multiline.txt")
    records = events(items)
    assert len(records) == 4
    assert records[0].text == "first line\nsecond line\n\nfourth line after an empty one"
    assert (records[0].locator.line, records[0].locator.line_end) == (1, 4)
    assert records[3].text == "goodbye"


def test_header_like_lines_inside_a_message_stay_text_and_are_reported() -> None:
    items = parse("multiline.txt")
    kept = events(items)[2]
    assert kept.text == ("I kept what you said:\n"
                         "[01/01/2023, 10:00:00] Dana: a pasted line from another phone\n"
                         "31/02/2024, 10:00 - Alex: no such day\n"
                         "12/03/2024, 25:61 - Alex: no such time")
    assert kept.flags == ("header_like_continuation",)
    assert kept.defects == ("impossible_date_header",)
    assert (kept.locator.line, kept.locator.line_end) == (6, 9)
    messages = {n.code: n.message for n in notes(items)}
    assert messages["header_like_lines_merged"].endswith("lines 7.")
    assert messages["impossible_date_header"].endswith("lines 8, 9.")


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_locators_tile_the_file_exactly(name: str) -> None:
    data = data_of(name)
    records = events(parse(name))
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    assert records[0].locator.byte_offset == start
    for before, after in itertools.pairwise(records):
        assert before.locator.byte_offset + before.locator.byte_length == after.locator.byte_offset
        assert before.locator.line_end + 1 == after.locator.line
    last = records[-1].locator
    assert last.byte_offset + last.byte_length == len(data)
    assert last.line_end == data.count(b"\n")
    for record in records:
        span = data[record.locator.byte_offset:][:record.locator.byte_length].decode()
        assert record.time.text in span.splitlines()[0]


def test_bom_is_skipped_and_reported() -> None:
    items = parse("bom.txt")
    records = events(items)
    assert note_codes(items) == ["bom", "date_order"]
    assert (records[0].sender, records[0].text) == ("Alex", "first")
    assert records[0].locator.byte_offset == 3
    assert not any(BOM in (r.sender or "") + (r.text or "") for r in records)


def test_text_before_the_first_header_is_reported_not_dropped() -> None:
    items = parse_bytes(b"Saved from my phone\nchat below:\n"
                        b"12/03/2024, 22:15 - Alex: hi\n13/03/2024, 22:15 - Dana: ok\n")
    records = events(items)
    assert note_codes(items) == ["date_order", "text_before_first_header"]
    assert notes(items)[1].message.endswith("'Saved from my phone\\nchat below:'")
    assert records[0].defects == ("text_before_first_header",)
    assert records[0].locator.byte_offset == len(b"Saved from my phone\nchat below:\n")
    assert records[1].defects == ()


def test_invalid_utf8_is_replaced_and_marked_on_the_record() -> None:
    items = parse_bytes(b"12/03/2024, 22:15 - Alex: caf\xe9\n"
                        b"13/03/2024, 08:00 - Dana: ok\n"
                        b"second \xff line\n")
    records = events(items)
    assert records[0].text == "caf\ufffd"
    assert records[0].defects == ("invalid_utf8",)
    assert records[1].text == "ok\nsecond \ufffd line"
    assert records[1].defects == ("invalid_utf8",)
    assert notes(items)[-1].code == "invalid_utf8"
    assert notes(items)[-1].message.endswith("lines 1, 3.")


def test_crlf_is_stripped_only_as_a_line_terminator() -> None:
    data = b"12/03/2024, 22:15 - Alex: a\rb\r\nsecond\r\n13/03/2024, 08:00 - Dana: ok\r\n"
    records = events(parse_bytes(data))
    assert records[0].text == "a\rb\nsecond"


def test_repeated_headers_with_and_without_an_lrm_read_the_same() -> None:
    data = (f"[12/03/2024, 22:15:03] Chris: one\n{LRM}[12/03/2024, 22:15:03] Chris: {LRM}"
            f"image omitted\n[12/03/2024, 22:15:03] Chris: three\n"
            f"[13/03/2024, 22:15:03] Chris: four\n").encode()
    records = events(parse_bytes(data))
    assert [(r.time.text, r.text) for r in records] == [
        ("12/03/2024, 22:15:03", "one"), ("12/03/2024, 22:15:03", f"{LRM}image omitted"),
        ("12/03/2024, 22:15:03", "three"), ("13/03/2024, 22:15:03", "four")]


# -- failure modes and streaming ----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"hello\nworld\n",
     b"31/02/2024, 10:00 - A: x\n32/13/2024, 10:00 - B: y\n"],
    ids=["empty", "no-header", "only-impossible-dates"],
)
def test_a_file_without_any_readable_header_is_damaged_input(data: bytes) -> None:
    with pytest.raises(DamagedInput) as caught:
        parse_bytes(data)
    assert "\n" not in str(caught.value)
    assert "_chat.txt" in str(caught.value)


def test_streams_the_file_twice_and_closes_it() -> None:
    data = data_of("android_en_gb_24h.txt")
    opened: list[io.BytesIO] = []

    def opener() -> io.BytesIO:
        handle = io.BytesIO(data)
        opened.append(handle)
        return handle

    source = SourceFile(name="WhatsApp Chat with Alex.txt", sha256="0" * 64, size=len(data),
                        media_type="text/plain", open=opener)
    assert len(events(list(PARSER.parse(source, ParseOptions())))) == 10
    assert len(opened) == 2
    assert all(handle.closed for handle in opened)


def test_possible_export_cap_is_noted_near_ten_thousand_messages() -> None:
    lines = [f"13/03/2024, 10:{i % 60:02d} - Pat: message {i}\n" for i in range(10_000)]
    items = parse_bytes("".join(lines).encode())
    assert len(events(items)) == 10_000
    assert note_codes(items)[-1] == "possible_export_cap"
    assert "about 10000" in notes(items)[-1].message
    fewer = parse_bytes("".join(lines[:9_000]).encode())
    assert "possible_export_cap" not in note_codes(fewer)
