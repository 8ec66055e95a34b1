"""What a screenshot shows, taken from its OCR text: times, numbers, addresses, names.

Pure functions over text lines, so they are tested without OCR. Every item
keeps the raw text as it appeared and the line it came from; a parsed value is
added only where the text allows one reading. A numeric date that reads both
ways (03/04/2024) carries both candidates and the flag ``ambiguous_day_month``
rather than a guess; a time of day alone carries no date, and "Yesterday" stays
relative, because only the capture date (not known here) could resolve it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import phonenumbers

from evidence_store.fuzzy_match import digits_key, fold
from parsers.identifiers import email_id
from parsers.records import JSONValue


@dataclass(frozen=True, slots=True)
class TextLine:
    """One OCR line: text and its box (pixels); the box is optional for pure-text callers."""

    text: str
    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    @property
    def height(self) -> int:
        return max(1, self.bottom - self.top)


@dataclass(frozen=True, slots=True)
class VisibleItem:
    kind: str  # visible_time, visible_phone, visible_email, visible_handle, visible_url, ...
    raw: str
    line: int
    value: dict[str, JSONValue] = field(default_factory=dict)

    def fact_value(self) -> dict[str, JSONValue]:
        return {"raw": self.raw, "line": self.line, **self.value}


# -- times and dates -------------------------------------------------------------

_MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1) for name in names}
_WEEKDAYS = {name: full for full, names in (
    ("monday", ("monday", "mon")), ("tuesday", ("tuesday", "tue", "tues")),
    ("wednesday", ("wednesday", "wed")), ("thursday", ("thursday", "thu", "thur", "thurs")),
    ("friday", ("friday", "fri")), ("saturday", ("saturday", "sat")),
    ("sunday", ("sunday", "sun"))) for name in names}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))

_CLOCK = re.compile(
    r"(?<![\d:.])(?P<h>[01]?\d|2[0-3])\s?[:;]\s?(?P<m>[0-5]\d)(?:[:;](?P<s>[0-5]\d))?"
    r"(?:\s?(?P<ampm>[ap]\.?\s?m\.?)(?![a-z]))?(?![\d:])", re.IGNORECASE)
# "9.41 pm" is a time only with am/pm; "3.50" alone is a price as often as a time.
_DOTTED_CLOCK = re.compile(
    r"(?<![\d.])(?P<h>1[0-2]|0?\d)\.(?P<m>[0-5]\d)\s?(?P<ampm>[ap]\.?\s?m\.?)(?![a-z])",
    re.IGNORECASE)
_NUMERIC_DATE = re.compile(
    r"(?<![\d/.-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?![\d/.-])")
_ISO_DATE = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?!\d)")
# Spaces between a month's name and its numbers are optional: OCR drops them
# ("5 April2024"), and letters next to digits cannot be misread as anything else.
_DAY_MONTH = re.compile(
    rf"(?<![\w])(?:(?P<wd>{_WEEKDAY_RE})\.?,?\s*)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s*"
    rf"(?P<mon>{_MONTH_RE})\.?(?:,?\s*(?P<y>(?:19|20)\d\d))?(?![\w])", re.IGNORECASE)
_MONTH_DAY = re.compile(
    rf"(?<![\w])(?:(?P<wd>{_WEEKDAY_RE})\.?,?\s*)?(?P<mon>{_MONTH_RE})\.?\s*(?P<d>[0-3]?\d)"
    rf"(?:st|nd|rd|th)?(?:,?\s*(?P<y>(?:19|20)\d\d))?(?![\w:])", re.IGNORECASE)
_RELATIVE = re.compile(rf"(?<![\w])(?P<rel>today|yesterday|(?P<wd>{_WEEKDAY_RE}))(?![\w])",
                       re.IGNORECASE)
# What may stand between a day and its time: "Yesterday 21:03", "12 March 2024, 21:03",
# "today at 21:40".
_JOINER = re.compile(r"^\s*(?:,|at|,\s*at|-)?\s*$", re.IGNORECASE)


@dataclass
class _Span:
    start: int
    end: int
    value: dict[str, JSONValue]


def _valid_date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _year(text: str) -> int:
    number = int(text)
    # Two-digit years on a phone are this century's.
    return number + 2000 if len(text) == 2 else number


def _date_spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(start: int, end: int, value: dict[str, JSONValue]) -> None:
        if free(start, end):
            taken.append((start, end))
            spans.append(_Span(start, end, value))

    for m in _ISO_DATE.finditer(text):
        iso = _valid_date(int(m["y"]), int(m["m"]), int(m["d"]))
        if iso:
            add(m.start(), m.end(), {"date": iso})
    for m in _NUMERIC_DATE.finditer(text):
        a, b, year = int(m["a"]), int(m["b"]), _year(m["y"])
        dmy, mdy = _valid_date(year, b, a), _valid_date(year, a, b)
        if dmy and mdy and dmy != mdy:
            add(m.start(), m.end(), {"date_candidates": [dmy, mdy],
                                     "flags": ["ambiguous_day_month"]})
        elif dmy or mdy:
            add(m.start(), m.end(), {"date": dmy or mdy})
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for m in pattern.finditer(text):
            month, day = _MONTHS[m["mon"].lower()], int(m["d"])
            value: dict[str, JSONValue]
            if m["y"]:
                iso = _valid_date(int(m["y"]), month, day)
                if not iso:
                    continue
                value = {"date": iso}
            elif 1 <= day <= 31:
                value = {"month": month, "day": day, "flags": ["year_not_shown"]}
            else:
                continue
            if m["wd"]:
                value["weekday"] = _WEEKDAYS[m["wd"].lower()]
            add(m.start(), m.end(), value)
    for m in _RELATIVE.finditer(text):
        rel = m["rel"].lower()
        if m["wd"]:
            # "Sat" or "Sun" as a word in a sentence is rare, but "may"-like clashes
            # are why weekdays count only next to a time (checked by the caller).
            add(m.start(), m.end(), {"weekday": _WEEKDAYS[rel], "relative": True})
        else:
            add(m.start(), m.end(), {"relative_day": rel})
    return sorted(spans, key=lambda s: s.start)


def _time_spans(text: str) -> list[_Span]:
    spans = []
    seen: list[tuple[int, int]] = []
    for pattern in (_CLOCK, _DOTTED_CLOCK):
        for m in pattern.finditer(text):
            if any(not (m.end() <= s or m.start() >= e) for s, e in seen):
                continue
            hour, minute = int(m["h"]), int(m["m"])
            ampm = (m["ampm"] or "").replace(".", "").replace(" ", "").lower()
            if ampm:
                if not 1 <= hour <= 12:
                    continue
                hour = hour % 12 + (12 if ampm == "pm" else 0)
            second = m.groupdict().get("s")
            clock = f"{hour:02d}:{minute:02d}" + (f":{int(second):02d}" if second else "")
            seen.append((m.start(), m.end()))
            spans.append(_Span(m.start(), m.end(), {"time": clock}))
    return sorted(spans, key=lambda s: s.start)


def find_times(text: str, line: int = 0) -> list[VisibleItem]:
    """Times and dates as they appear; a day directly followed by a time is one item."""
    dates = _date_spans(text)
    times = _time_spans(text)
    items: list[VisibleItem] = []
    used_times: set[int] = set()
    for day in dates:
        joined = next((t for t in times if t.start >= day.end
                       and _JOINER.match(text[day.end:t.start])), None)
        alone = text[day.start:day.end].strip() == text.strip(" .,")
        if joined is None and not alone and (
                day.value.get("relative") is True or "relative_day" in day.value):
            # "see you today", "on Sat": words in a message. A weekday or "today" is
            # the app's date only beside a time or on a line of its own.
            continue
        value = dict(day.value)
        end = day.end
        if joined is not None:
            used_times.add(joined.start)
            value.update(joined.value)
            end = joined.end
        if value.pop("relative", None) is True:
            value["relative_day"] = value.pop("weekday")
        items.append(VisibleItem("visible_time", text[day.start:end].strip(), line, value))
    for clock in times:
        if clock.start not in used_times:
            items.append(VisibleItem("visible_time", text[clock.start:clock.end].strip(), line,
                                     dict(clock.value)))
    for item in items:
        # A time standing alone on its line is the app's own stamp, not words in a message.
        item.value["standalone"] = item.raw.strip(" .,") == text.strip(" .,")
    return sorted(items, key=lambda item: text.find(item.raw))


# -- numbers, addresses, handles, links ---------------------------------------------

# A run that looks like a phone number, letting OCR's O/l/S stand in for digits.
_PHONE_RUN = re.compile(r"(?<![\w+])(?:\+|00)?[\dOoIlS(][\dOoIlS()\s.-]{7,22}[\dOoIlS]"
                        r"(?![\w])")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9-]+"
                    r"(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w])")
_HANDLE = re.compile(r"(?<![\w@.])@(?P<h>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
_TLDS = ("com|org|net|uk|co\\.uk|org\\.uk|gov\\.uk|io|ly|me|gl|be|app|gg|tv|info|biz|eu|"
         "de|fr|ie|us|ca|au|link|site|xyz|to|cc|page")
_URL = re.compile(
    rf"(?<![\w@./-])(?:(?:https?://|www\.)[^\s<>\"']+|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*"
    rf"\.(?:{_TLDS})(?:/[^\s<>\"']*)?)(?![\w@])", re.IGNORECASE)


def find_phones(text: str, region: str, line: int = 0) -> list[VisibleItem]:
    items = []
    # Dates and clock times are digit runs too; they are never read as numbers.
    masked = text
    for pattern in (_ISO_DATE, _NUMERIC_DATE, _CLOCK, _DOTTED_CLOCK):
        masked = pattern.sub(lambda m: "#" * len(m.group(0)), masked)
    for m in _PHONE_RUN.finditer(masked):
        raw = m.group(0).strip(" .-")
        digits = digits_key(raw)
        real_digits = sum(c.isdigit() for c in raw)
        # Mostly real digits, and a length only phone numbers have.
        if real_digits < 0.7 * len(digits.lstrip("+")) or not 9 <= len(digits.lstrip("+")) <= 15:
            continue
        candidate = "+" + digits[2:] if digits.startswith("00") else digits
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_possible_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        value: dict[str, JSONValue] = {"e164": e164, "region": region,
                                       "valid": phonenumbers.is_valid_number(number)}
        if digits.lstrip("+") != "".join(c for c in raw if c.isdigit()):
            value["ocr_corrected"] = True
        items.append(VisibleItem("visible_phone", raw, line, value))
    return items


def find_emails(text: str, line: int = 0) -> list[VisibleItem]:
    items = []
    for m in _EMAIL.finditer(text):
        raw = m.group(0)
        address = email_id(raw.replace(" ", ""))
        if address:
            items.append(VisibleItem("visible_email", raw, line, {"address": address}))
    return items


def find_handles(text: str, line: int = 0) -> list[VisibleItem]:
    without_emails = _EMAIL.sub(lambda m: " " * len(m.group(0)), text)
    return [VisibleItem("visible_handle", m.group(0), line, {"handle": m["h"].lower()})
            for m in _HANDLE.finditer(without_emails)]


def find_urls(text: str, line: int = 0) -> list[VisibleItem]:
    without_emails = _EMAIL.sub(lambda m: " " * len(m.group(0)), text)
    items = []
    for m in _URL.finditer(without_emails):
        raw = m.group(0).rstrip(".,;:!?)]'\"")
        if re.fullmatch(r"[\d.]+", raw):
            continue  # "3.50" is a price, not a domain
        url = raw if "://" in raw else f"https://{raw}"
        items.append(VisibleItem("visible_url", raw, line, {"url": url}))
    return items


# -- names -----------------------------------------------------------------------------

# Words in an app's header that are status, not a name.
_STATUS = re.compile(r"^(online|offline|typing|recording|last seen|tap here|tap for|active|"
                     r"click here|contact info|group info|business account|end-to-end|"
                     r"messages and calls|today|yesterday|\d+ participants|you)\b",
                     re.IGNORECASE)
_NAME_WORD = re.compile(r"^[~]?[^\W\d_][\w'.-]*$")


def _looks_like_name(text: str) -> bool:
    words = text.strip().lstrip("~").split()
    if not 1 <= len(words) <= 4 or len(text) > 40 or _STATUS.match(text.strip()):
        return False
    if find_times(text) or text.rstrip()[-1:] in ".?!,:;":
        return False
    return all(_NAME_WORD.match(w) for w in words) and any(c.isupper() for c in text)


def header_name(lines: Sequence[TextLine], image_height: int) -> tuple[int, TextLine] | None:
    """The conversation's name at the top of the screen: the tallest name-like line in
    the top eighth (below the status bar), as messaging apps draw it."""
    if image_height <= 0:
        return None
    candidates = [(i, line) for i, line in enumerate(lines)
                  if line.bottom <= image_height * 0.14 and _looks_like_name(line.text)]
    if not candidates:
        return None
    return max(candidates, key=lambda pair: (pair[1].height, -pair[0]))


def sender_labels(lines: Sequence[TextLine], image_height: int) -> list[tuple[int, TextLine]]:
    """Group-chat sender names: a short name-like line directly above a line of the
    same bubble (same left edge, no gap). Best effort; stored as such."""
    found = []
    for i in range(len(lines) - 1):
        line, below = lines[i], lines[i + 1]
        if line.bottom <= image_height * 0.14 or not _looks_like_name(line.text):
            continue
        if not all(word[:1].isupper() or word.startswith("~") for word in line.text.split()):
            continue
        same_left = abs(line.left - below.left) <= max(12, line.height // 2)
        close = 0 <= below.top - line.bottom <= line.height
        if same_left and close and not find_times(below.text):
            found.append((i, line))
    return found


# -- everything ---------------------------------------------------------------------------


def extract(lines: Sequence[TextLine], region: str = "GB", image_height: int = 0
            ) -> list[VisibleItem]:
    """Every visible item, in line order."""
    items: list[VisibleItem] = []
    for index, line in enumerate(lines):
        text = line.text
        items.extend(find_times(text, index))
        items.extend(find_phones(text, region, index))
        items.extend(find_emails(text, index))
        items.extend(find_handles(text, index))
        items.extend(find_urls(text, index))
    phones = {item.line for item in items if item.kind == "visible_phone"}
    header = header_name(lines, image_height) if image_height else None
    if header is not None and header[0] not in phones:
        items.append(VisibleItem("visible_name", header[1].text.strip(), header[0],
                                 {"role": "chat_header", "folded": fold(header[1].text)}))
    for index, line in sender_labels(lines, image_height) if image_height else ():
        if header is None or index != header[0]:
            items.append(VisibleItem("visible_name", line.text.strip().lstrip("~ "), index,
                                     {"role": "sender_label", "folded": fold(line.text)}))
    return sorted(items, key=lambda item: item.line)


def full_dates(items: Iterable[VisibleItem]) -> list[str]:
    """Every calendar date the screen shows, both readings of an ambiguous one."""
    found: list[str] = []
    for item in items:
        if item.kind != "visible_time":
            continue
        if isinstance(item.value.get("date"), str):
            found.append(str(item.value["date"]))
        candidates = item.value.get("date_candidates")
        if isinstance(candidates, list):
            found.extend(str(c) for c in candidates)
    return found
