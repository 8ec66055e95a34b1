"""Tolerant comparison of what OCR read with what a person or an export says.

OCR loses accents ("Zoë" -> "Zoe"), spaces ("SamTaylor", "07700900461") and
confuses look-alike glyphs (0/O, 1/l/I, 5/S, 8/B). Each key below folds those
differences away for one sort of value, so the comparison that follows only
has to judge what is really different.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

# Inside a name, digits that OCR produced are almost always letters misread; and
# I/l, which OCR swaps freely, are one letter on both sides of a comparison.
_DIGIT_AS_LETTER = str.maketrans({"0": "o", "1": "l", "5": "s", "8": "b", "|": "l", "i": "l"})
# Inside a number, letters that OCR produced are almost always digits misread.
_LETTER_AS_DIGIT = str.maketrans({"o": "0", "O": "0", "D": "0", "Q": "0", "l": "1", "I": "1",
                                  "i": "1", "|": "1", "!": "1", "S": "5", "s": "5", "B": "8",
                                  "Z": "2", "z": "2", "g": "9", "G": "6"})
# In handles and addresses only the unmistakable pairs are folded: both sides.
_HANDLE_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Accents removed (NFKD, combining marks dropped), case folded, spaces collapsed."""
    if not text.isascii():  # most chat text is ASCII: it has nothing to decompose
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


# Glyphs OCR swaps in running text, folded to one on both sides of a comparison.
_TEXT_FOLD = str.maketrans({"1": "l", "i": "l", "0": "o", "5": "s"})
_TEXT_PAIRS = (("vv", "w"), ("rn", "m"))


def match_text(text: str) -> str:
    """Message text for fuzzy matching: folded, punctuation and emoji as single spaces."""
    return " ".join(_NOT_WORD.sub(" ", fold(text)).split())


def ocr_text_key(text: str) -> str:
    """:func:`match_text` with OCR's look-alikes (1/l/I, 0/o, 5/s, vv/w, rn/m) folded."""
    folded = match_text(text).translate(_TEXT_FOLD)
    for pair, single in _TEXT_PAIRS:
        folded = folded.replace(pair, single)
    return folded


def name_key(text: str) -> str:
    """A display name with accents, case, spaces, punctuation and 0/O-style confusions gone."""
    return _NOT_WORD.sub("", fold(text).translate(_DIGIT_AS_LETTER))


def digits_key(text: str) -> str:
    """The digits of a phone number as OCR may have written them ("O77OO 9OO461")."""
    kept = text.translate(_LETTER_AS_DIGIT)
    prefix = "+" if kept.lstrip().startswith("+") else ""
    return prefix + "".join(c for c in kept if c.isdigit())


def handle_key(text: str) -> str:
    """A handle or e-mail address, folded on both sides of the comparison."""
    return _NOT_WORD.sub("", fold(text).lstrip("@").translate(_HANDLE_FOLD))


def name_similarity(a: str, b: str) -> float:
    """0..1; word order is ignored ("Taylor Sam" is "Sam Taylor")."""
    key_a, key_b = name_key(a), name_key(b)
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return 1.0
    whole = fuzz.ratio(key_a, key_b)
    words = fuzz.token_sort_ratio(fold(a).translate(_DIGIT_AS_LETTER),
                                  fold(b).translate(_DIGIT_AS_LETTER))
    return round(max(whole, words) / 100, 4)


@dataclass(frozen=True, slots=True)
class NumberMatch:
    score: float
    exact: bool


def number_similarity(seen_e164: str, known_e164: str) -> NumberMatch | None:
    """Two E.164 numbers: equal, or one misread digit apart in ten or more.

    A single substituted digit is reported (score 0.9, not exact) because OCR
    misreads a digit far more often than two people in one case have numbers
    one digit apart; the officer sees that it was not exact.
    """
    if seen_e164 == known_e164:
        return NumberMatch(1.0, True)
    a, b = seen_e164.lstrip("+"), known_e164.lstrip("+")
    if len(a) == len(b) and len(a) >= 10 and Levenshtein.distance(a, b, weights=(9, 9, 1)) == 1:
        return NumberMatch(0.9, False)
    return None


def handle_similarity(seen: str, known: str) -> float:
    key_a, key_b = handle_key(seen), handle_key(known)
    if not key_a or not key_b:
        return 0.0
    return round(fuzz.ratio(key_a, key_b) / 100, 4)
