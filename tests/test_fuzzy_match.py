"""Names and numbers as OCR reads them still match the people they name."""

import pytest

from evidence_store.fuzzy_match import (
    digits_key,
    fold,
    handle_similarity,
    match_text,
    name_key,
    name_similarity,
    number_similarity,
)
from evidence_store.visible_persons import Known, match_item


def test_fold_drops_accents_case_and_extra_spaces():
    assert fold("  Zoë   ÅSHFORD ") == "zoe ashford"
    assert fold("Ｓａｍ") == "sam"  # full-width letters, as some keyboards send


def test_match_text_drops_punctuation_and_emoji():
    assert match_text("Stop!! 😡 I'll call the police…") == "stop i ll call the police"


@pytest.mark.parametrize(("seen", "known"), [
    ("Zoe Ashford", "Zoë Ashford"),       # accent lost
    ("ZoeAshford", "Zoë Ashford"),        # space lost
    ("Sam TayIor", "Sam Taylor"),         # capital I read for l
    ("5am Tay1or", "Sam Taylor"),         # digits read for letters
    ("Taylor Sam", "Sam Taylor"),         # surname first
])
def test_names_match_despite_ocr_errors(seen, known):
    assert name_similarity(seen, known) >= 0.88


@pytest.mark.parametrize(("seen", "known"), [
    ("Sam Tyler", "Pam Taylor"),
    ("Jordan Blake", "Sam Taylor"),
    ("Alex", "Alexandra Jones"),
])
def test_different_names_do_not_match(seen, known):
    assert name_similarity(seen, known) < 0.88


def test_name_keys_fold_look_alike_glyphs():
    assert name_key("Ch1oë O'Neil") == name_key("chloe o neil")


def test_digits_key_reads_letters_as_the_digits_ocr_confused():
    assert digits_key("O77OO 9OO46l") == "07700900461"
    assert digits_key("+44 (0) 7700-900 461") == "+4407700900461"


def test_numbers_match_exactly_or_one_misread_digit_apart():
    assert number_similarity("+447700900461", "+447700900461").exact is True
    near = number_similarity("+447700900481", "+447700900461")
    assert (near.score, near.exact) == (0.9, False)
    assert number_similarity("+447700900499", "+447700900461") is None  # two digits
    assert number_similarity("+44770090046", "+447700900461") is None  # one missing


def test_handles_fold_zero_and_o():
    assert handle_similarity("@sam_t0", "sam_to") == 1.0
    assert handle_similarity("@jordan", "sam_t") < 0.5


KNOWN = [
    Known("Sam Taylor", "suspect", None, "name", "Sam Taylor"),
    Known("Sam Taylor", "suspect", "+447700900461", "phone", "+447700900461"),
    Known("Sam Taylor", "suspect", "instagram:sam_t", "handle", "sam_t"),
    Known("Zoë Ashford", "witness", "zoe.ashford@example.org", "email",
          "zoe.ashford@example.org"),
    Known("Zoë Ashford", "witness", None, "name", "Zoë Ashford"),
]


def test_a_visible_phone_names_the_person_who_uses_it():
    [match] = match_item("visible_phone", {"e164": "+447700900461"}, KNOWN)
    assert (match["person"], match["identifier"], match["via"], match["score"],
            match["exact"]) == ("Sam Taylor", "+447700900461", "phone", 1.0, True)


def test_a_header_name_without_its_accent_names_the_person():
    [match] = match_item("visible_name", {"raw": "Zoe Ashford"}, KNOWN)
    assert (match["person"], match["via"], match["exact"]) == ("Zoë Ashford", "name", False)
    assert match["score"] >= 0.88


def test_items_naming_nobody_match_nobody():
    assert match_item("visible_name", {"raw": "Jordan Blake"}, KNOWN) == []
    assert match_item("visible_phone", {"e164": "+447700900999"}, KNOWN) == []
    assert match_item("visible_email", {"address": "sam@example.com"}, KNOWN) == []
