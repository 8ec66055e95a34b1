"""WhatsApp chat export: the message-header grammar and day/month order inference.

Kept apart from parsers.whatsapp so the grammar can be read (and reviewed in
court) on its own: which lines start a message, how their date and time are
read, and how the file's day/month order is chosen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from parsers.base import DateOrder

BOM = b"\xef\xbb\xbf"

# One header = a timestamp ("stamp") and the punctuation around it. The stamp
# is written once without groups so it can appear in several branches; its
# parts are read by _STAMP_PARTS, on the stamp text alone. Python's \s covers
# U+00A0 and U+202F, which exports put before and inside AM/PM markers.
_DATE = r"\d{1,4}(?:[./-]|\.\s)\d{1,2}(?:[./-]|\.\s)\d{1,4}\.?"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[AaPp]\.?\s?[Mm]\.?)?"
_STAMP = rf"{_DATE}(?:,\s*|\s+)(?:klo\s+)?{_TIME}"

#: Group 1: bracketed (iOS) stamp; group 2: unbracketed stamp; group 3 is set
#: for the old iOS "STAMP: " form, so ``match.lastindex`` names the style.
HEADER = re.compile(rf"\u200e?(?:\[({_STAMP})\]\s?|({_STAMP})(?:\s[-\u2013]\s|(:)\s))")

BRACKET, DASH, COLON = 1, 2, 3
STYLE_NAMES = {BRACKET: "[date, time] (iOS)", DASH: "date, time - (Android)",
               COLON: "date, time: (old iOS)"}

_STAMP_PARTS = re.compile(
    r"(\d{1,4})(?:[./-]|\.\s)(\d{1,2})(?:[./-]|\.\s)(\d{1,4})\.?(?:,\s*|\s+)(?:klo\s+)?"
    r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:\s*([AaPp])\.?\s?[Mm]\.?)?"
)

# Lines that show a file is an e-mail or mbox, whatever it quotes further down.
_MAIL_FIELD = re.compile(r"(?:From |[A-Za-z][A-Za-z0-9-]{0,40}:[ \t])")

# 1970 covers phones whose clock was reset; earlier years are not WhatsApp's.
_MIN_YEAR, _MAX_YEAR = 1970, 2099


class Stamp(NamedTuple):
    """The fields of a header's timestamp, as text, before any order is applied."""

    d1: str
    d2: str
    d3: str
    hour: int
    minute: int
    second: int | None
    meridiem: str | None  # "a"/"p" for 12 h clocks


def split_stamp(text: str) -> Stamp | None:
    m = _STAMP_PARTS.fullmatch(text)
    if m is None:
        return None
    d1, d2, d3, hh, mm, ss, ampm = m.groups()
    return Stamp(d1, d2, d3, int(hh), int(mm), None if ss is None else int(ss),
                 None if ampm is None else ampm.lower())


def year_first(stamp: Stamp) -> bool:
    """A four-digit first field is a year: such dates need no day/month choice."""
    return len(stamp.d1) == 4


def _year(text: str) -> int | None:
    if len(text) == 2:
        return 2000 + int(text)  # two-digit years are 2000-2099 (WhatsApp exists since 2009)
    if len(text) == 4:
        return int(text)
    return None


def ymd_of(stamp: Stamp, order: DateOrder) -> tuple[int, int, int] | None:
    """(year, month, day) under an order, unchecked for calendar validity."""
    if year_first(stamp) or order == "ymd":
        year, month, day = _year(stamp.d1), int(stamp.d2), stamp.d3
        if len(day) > 2:
            return None
        return None if year is None else (year, month, int(day))
    if len(stamp.d1) > 2:
        return None
    year = _year(stamp.d3)
    if year is None:
        return None
    first, second = int(stamp.d1), int(stamp.d2)
    return (year, second, first) if order == "dmy" else (year, first, second)


def hms_of(stamp: Stamp) -> tuple[int, int, int] | None:
    hour, minute, second = stamp.hour, stamp.minute, stamp.second or 0
    if minute > 59 or second > 59:
        return None
    if stamp.meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if stamp.meridiem == "p" else 0)  # 12:xx AM is 00:xx
    elif hour > 23:
        return None
    return hour, minute, second


def local_time(stamp: Stamp, order: DateOrder) -> datetime | None:
    """The naive wall-clock time a stamp means under ``order``, or None when impossible.

    datetime() rejects Feb 30 and the like, so nothing rolls over into the next month.
    """
    ymd, hms = ymd_of(stamp, order), hms_of(stamp)
    if ymd is None or hms is None or not _MIN_YEAR <= ymd[0] <= _MAX_YEAR:
        return None
    try:
        # The export states no zone: this is deliberately naive (WallClock.local).
        return datetime(*ymd, *hms)  # noqa: DTZ001
    except ValueError:
        return None


def plausible(stamp: Stamp) -> bool:
    """True when the stamp is a real time under at least one date order."""
    return any(local_time(stamp, order) is not None for order in ("dmy", "mdy"))


# -- day/month order ----------------------------------------------------------


@dataclass(slots=True)
class OrderDecision:
    order: DateOrder
    ambiguous: bool
    reason: str
    conflict: bool = False


@dataclass(slots=True)
class OrderEvidence:
    """What the headers of one style say about day/month order, gathered in one pass.

    Only changes of date text are looked at: consecutive headers on the same
    day compare equal under either order, so they cannot tell the orders apart.
    """

    headers: int = 0
    year_first: int = 0
    first_over_12: int = 0
    second_over_12: int = 0
    first_example: str = ""
    second_example: str = ""
    inversions_dmy: int = 0
    inversions_mdy: int = 0
    _prev_text: tuple[str, str, str] | None = None
    _prev_dmy: tuple[int, int, int] | None = None
    _prev_mdy: tuple[int, int, int] | None = None

    def add(self, stamp: Stamp, stamp_text: str, line_no: int) -> None:
        self.headers += 1
        text = (stamp.d1, stamp.d2, stamp.d3)
        if text == self._prev_text:
            return
        self._prev_text = text
        if year_first(stamp):
            self.year_first += 1
        else:
            first, second = int(stamp.d1), int(stamp.d2)
            if first > 12:
                self.first_over_12 += 1
                self.first_example = self.first_example or f"{stamp_text!r} on line {line_no}"
            if second > 12:
                self.second_over_12 += 1
                self.second_example = self.second_example or f"{stamp_text!r} on line {line_no}"
        dmy, mdy = ymd_of(stamp, "dmy"), ymd_of(stamp, "mdy")
        if dmy is None or mdy is None:
            return
        if self._prev_dmy is not None and dmy < self._prev_dmy:
            self.inversions_dmy += 1
        if self._prev_mdy is not None and mdy < self._prev_mdy:
            self.inversions_mdy += 1
        self._prev_dmy, self._prev_mdy = dmy, mdy

    def decide(self) -> OrderDecision:
        if self.year_first and not (self.headers - self.year_first):
            return OrderDecision("ymd", False, "every date starts with a four-digit year")
        first, second = self.first_over_12, self.second_over_12
        if first and not second:
            return OrderDecision("dmy", False, f"the first date field exceeds 12 in {first} "
                                 f"date(s), e.g. {self.first_example}, so it is the day")
        if second and not first:
            return OrderDecision("mdy", False, f"the second date field exceeds 12 in {second} "
                                 f"date(s), e.g. {self.second_example}, so it is the day")
        if first and second:
            order: DateOrder = "mdy" if second > first else "dmy"
            return OrderDecision(
                order, True, conflict=True,
                reason=f"the file mixes orders: the first field exceeds 12 in {first} date(s) "
                f"(e.g. {self.first_example}) and the second in {second} (e.g. "
                f"{self.second_example}); {order} leaves fewer impossible dates",
            )
        inv_d, inv_m = self.inversions_dmy, self.inversions_mdy
        counts = f"{inv_d} backward date step(s) read day-first, {inv_m} read month-first"
        if inv_d < inv_m:
            return OrderDecision("dmy", False, f"no field exceeds 12; day-first gives fewer "
                                 f"chronological inversions ({counts})")
        if inv_m < inv_d:
            return OrderDecision("mdy", False, f"no field exceeds 12; month-first gives fewer "
                                 f"chronological inversions ({counts})")
        return OrderDecision("dmy", True, f"no field exceeds 12 and both orders read equally "
                             f"chronologically ({counts}); day-first assumed")


# -- detection ----------------------------------------------------------------

#: Headers needed before a file is claimed; one header alone could be a quotation.
_MIN_HEADERS = 2
#: A chat starts with a header; allow a few stray lines before it, no more.
_MAX_LINES_BEFORE_FIRST = 5


def looks_like_chat(head: bytes) -> bool:
    """True when the start of a file reads as a WhatsApp chat export."""
    if head.startswith(BOM):
        head = head[len(BOM):]
    if head.startswith(b"From ") or b"\x00" in head:
        return False
    counts = {BRACKET: 0, DASH: 0, COLON: 0}
    before_first = 0
    for line in head.decode("utf-8", "replace").split("\n"):
        if not line.strip():
            continue
        m = HEADER.match(line)
        stamp = split_stamp(m[1] or m[2]) if m is not None else None
        if m is not None and stamp is not None and plausible(stamp):
            style = m.lastindex or DASH
            counts[style] += 1
            if counts[style] >= 3:
                return True
            continue
        if not any(counts.values()):
            before_first += 1
            if before_first > _MAX_LINES_BEFORE_FIRST or _MAIL_FIELD.match(line):
                return False
    return max(counts.values()) >= _MIN_HEADERS
