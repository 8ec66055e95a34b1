"""What a screenshot shows, read from its OCR lines (no OCR needed here)."""

import pytest

from collector.visible_text import (
    TextLine,
    extract,
    find_emails,
    find_handles,
    find_phones,
    find_times,
    find_urls,
    full_dates,
    header_name,
    sender_labels,
)


def _one(items):
    assert len(items) == 1, items
    return items[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("22:15", {"time": "22:15"}),
    ("9:41 PM", {"time": "21:41"}),
    ("9.41 pm", {"time": "21:41"}),
    ("12:05 a.m.", {"time": "00:05"}),
    ("22:15:03", {"time": "22:15:03"}),
    ("Yesterday 21:03", {"relative_day": "yesterday", "time": "21:03"}),
    ("Today at 08:52", {"relative_day": "today", "time": "08:52"}),
    ("Mon 21:03", {"relative_day": "monday", "time": "21:03"}),
    ("12 March 2024", {"date": "2024-03-12"}),
    ("5 April2024", {"date": "2024-04-05"}),  # OCR dropped the space
    ("March 12, 2024 at 10:02 AM", {"date": "2024-03-12", "time": "10:02"}),
    ("2024-03-12 22:15:03", {"date": "2024-03-12", "time": "22:15:03"}),
    ("25/03/2024", {"date": "2024-03-25"}),
    ("TODAY", {"relative_day": "today"}),
])
def test_times_and_dates_are_read_as_they_appear(text, expected):
    item = _one(find_times(text))
    assert item.raw == text
    assert {k: v for k, v in item.value.items() if k != "standalone"} == expected
    assert item.value["standalone"] is True


def test_a_date_that_reads_both_ways_keeps_both_and_is_flagged():
    item = _one(find_times("12/03/2024"))
    assert item.value["date_candidates"] == ["2024-03-12", "2024-12-03"]
    assert item.value["flags"] == ["ambiguous_day_month"]
    assert "date" not in item.value


def test_a_date_without_a_year_says_so():
    item = _one(find_times("Tue 12 Mar"))
    assert (item.value["month"], item.value["day"], item.value["weekday"]) == (3, 12, "tuesday")
    assert item.value["flags"] == ["year_not_shown"]


def test_times_inside_a_message_are_kept_but_not_as_the_apps_stamp():
    item = _one(find_times("Meet me at 7:30 by the gate"))
    assert (item.raw, item.value["time"], item.value["standalone"]) == ("7:30", "07:30", False)


@pytest.mark.parametrize("text", ["Price 3.50", "see you on Sat", "I saw you today", "25:99",
                                  "Room 12.30", "version 1.2.3"])
def test_words_and_numbers_that_are_not_times_are_left_alone(text):
    assert find_times(text) == []


@pytest.mark.parametrize(("text", "raw", "e164", "corrected"), [
    ("Ring me on 07700 900461 tonight", "07700 900461", "+447700900461", False),
    ("+44 7700 900461", "+44 7700 900461", "+447700900461", False),
    ("+44 7700 9OO461", "+44 7700 9OO461", "+447700900461", True),  # O read for 0
    ("call 0O7700900461", None, None, None),  # too many digits: not a number
    ("(020) 7946 0018", "(020) 7946 0018", "+442079460018", False),
])
def test_phone_numbers_are_normalised_with_the_case_region(text, raw, e164, corrected):
    found = find_phones(text, "GB")
    if raw is None:
        assert found == []
        return
    item = _one(found)
    assert (item.raw, item.value["e164"], item.value["region"]) == (raw, e164, "GB")
    assert item.value.get("ocr_corrected", False) is corrected


@pytest.mark.parametrize("text", ["12/03/2024 22:15", "2024-03-12 22:15:03",
                                  "order 1234", "£1,000,000"])
def test_dates_times_and_short_numbers_are_not_phone_numbers(text):
    assert find_phones(text, "GB") == []


def test_emails_handles_and_links_are_told_apart():
    text = "mail Sam.T@Example.com, follow @sam_t or see instagram.com/sam_t and www.example.org/a."
    assert [i.value["address"] for i in find_emails(text)] == ["sam.t@example.com"]
    assert [i.value["handle"] for i in find_handles(text)] == ["sam_t"]
    assert [i.value["url"] for i in find_urls(text)] == [
        "https://instagram.com/sam_t", "https://www.example.org/a"]


def test_an_email_with_spaces_around_the_at_sign_is_still_an_address():
    assert _one(find_emails("zoe.ashford @ example.org")).value["address"] == (
        "zoe.ashford@example.org")


SCREEN = [
    TextLine("22:15", 16, 6, 66, 28),
    TextLine("87%", 476, 6, 510, 28),
    TextLine("Sam Taylor", 113, 51, 260, 79),
    TextLine("online", 112, 78, 170, 98),
    TextLine("12 March 2024", 217, 141, 327, 158),
    TextLine("Jordan Blake", 30, 190, 150, 210),
    TextLine("I know where you live now.", 30, 212, 330, 236),
    TextLine("22:14", 328, 240, 375, 259),
    TextLine("Please stop messaging me or I will", 147, 278, 520, 302),
    TextLine("call the police.", 146, 303, 300, 327),
    TextLine("22:15", 469, 333, 516, 352),
]


def test_the_chat_header_name_is_the_big_line_at_the_top():
    index, line = header_name(SCREEN, 1000)
    assert (index, line.text) == (2, "Sam Taylor")


def test_a_group_sender_label_sits_right_above_its_message():
    assert [(i, line.text) for i, line in sender_labels(SCREEN, 1000)] == [(5, "Jordan Blake")]


def test_extract_gathers_every_visible_item_in_line_order():
    items = extract(SCREEN, "GB", image_height=1000)
    summary = [(i.kind, i.raw, i.line) for i in items]
    assert summary == [
        ("visible_time", "22:15", 0),
        ("visible_name", "Sam Taylor", 2),
        ("visible_time", "12 March 2024", 4),
        ("visible_name", "Jordan Blake", 5),
        ("visible_time", "22:14", 7),
        ("visible_time", "22:15", 10),
    ]
    assert items[1].value["role"] == "chat_header"
    assert items[3].value["role"] == "sender_label"
    assert full_dates(items) == ["2024-03-12"]


def test_a_number_in_the_header_is_a_phone_not_a_name():
    lines = [TextLine("+44 7700 900461", 113, 51, 330, 79)]
    kinds = [i.kind for i in extract(lines, "GB", image_height=1000)]
    assert kinds == ["visible_phone"]
