"""WhatsApp chat export: header grammar, day/month order inference, body vocabulary.

Kept apart from parsers.whatsapp (which streams the file and assembles the
records) so the rules can be read, and reviewed, on their own: which lines
start a message, how their date and time are read, how the file's day/month
order is chosen, and which bodies are placeholders, calls or notices.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from parsers.base import DateOrder
from parsers.records import AttachmentRef, Kind

BOM = b"\xef\xbb\xbf"
LRM = "\u200e"

# One header = a date, a time and the punctuation around them. Python's \s
# covers U+00A0 and U+202F, which exports put before and inside AM/PM markers.
_DATE = r"\d{1,4}(?:[./-]|\.\s)\d{1,2}(?:[./-]|\.\s)\d{1,4}\.?"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[AaPp]\.?\s?[Mm]\.?)?"
_BETWEEN = r"(?:,\s*|\s+)(?:klo\s+)?"

#: Groups 1-2: date and time of a bracketed (iOS) header; 3-4: of an
#: unbracketed one; 5 is set for the old iOS "DATE, TIME: " form. So
#: ``match.lastindex`` names the style.
HEADER = re.compile(
    rf"\u200e?(?:\[({_DATE}){_BETWEEN}({_TIME})\]\s?"
    rf"|({_DATE}){_BETWEEN}({_TIME})(?:\s[-\u2013]\s|(:)\s))"
)

BRACKET, DASH, COLON = 2, 4, 5  # "[date, time] " (iOS), "date, time - " (Android), old iOS
STYLES = (BRACKET, DASH, COLON)

#: Once a file's style is known, headers are matched with that style's form
#: alone (group 1: the stamp as written, 2: its date, 3: its time); HEADER then
#: only tells which other lines merely look like headers.
_STAMP = rf"(({_DATE}){_BETWEEN}({_TIME}))"
HEADER_OF = {
    BRACKET: re.compile(rf"\u200e?\[{_STAMP}\]\s?"),
    DASH: re.compile(rf"\u200e?{_STAMP}\s[-\u2013]\s"),
    COLON: re.compile(rf"\u200e?{_STAMP}:\s"),
}

_DATE_PARTS = re.compile(r"(\d{1,4})(?:[./-]|\.\s)(\d{1,2})(?:[./-]|\.\s)(\d{1,4})\.?")
_TIME_PARTS = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:\s*([AaPp])\.?\s?[Mm]\.?)?")

# Lines that show a file is an e-mail or mbox, whatever it quotes further down.
_MAIL_FIELD = re.compile(r"(?:From |[A-Za-z][A-Za-z0-9-]{0,40}:[ \t])")

# 1970 covers phones whose clock was reset; earlier years are not WhatsApp's.
_MIN_YEAR, _MAX_YEAR = 1970, 2099


def time_start(m: re.Match[str]) -> int:
    """Where the time starts: the line up to there is the header's date part."""
    return m.start(2) if m.lastindex == BRACKET else m.start(4)


def date_text(m: re.Match[str]) -> str:
    return m[1] or m[3]


def time_text(m: re.Match[str]) -> str:
    return m[2] or m[4]


class DateFields(NamedTuple):
    """The three numbers of a date, as written, before any order is applied."""

    d1: str
    d2: str
    d3: str


def split_date(text: str) -> DateFields | None:
    m = _DATE_PARTS.fullmatch(text)
    return None if m is None else DateFields(*m.groups())


def read_time(text: str) -> tuple[int, int, int | None] | None:
    """(hour 0-23, minute, second or None when not written), or None when out of range."""
    m = _TIME_PARTS.fullmatch(text)
    if m is None:
        return None
    hh, mm, ss, meridiem = m.groups()
    hour, minute, second = int(hh), int(mm), None if ss is None else int(ss)
    if minute > 59 or (second or 0) > 59:
        return None
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem in "pP" else 0)  # 12:xx AM is 00:xx
    elif hour > 23:
        return None
    return hour, minute, second


def year_first(date: DateFields) -> bool:
    """A four-digit first field is a year: such dates need no day/month choice."""
    return len(date.d1) == 4


def _year(text: str) -> int | None:
    if len(text) == 2:
        return 2000 + int(text)  # two-digit years are 2000-2099 (WhatsApp exists since 2009)
    if len(text) == 4:
        return int(text)
    return None


def ymd_of(date: DateFields, order: DateOrder) -> tuple[int, int, int] | None:
    """(year, month, day) under an order, unchecked for calendar validity."""
    if year_first(date) or order == "ymd":
        year = _year(date.d1)
        if year is None or len(date.d3) > 2:
            return None
        return year, int(date.d2), int(date.d3)
    year = _year(date.d3)
    if year is None or len(date.d1) > 2:
        return None
    first, second = int(date.d1), int(date.d2)
    return (year, second, first) if order == "dmy" else (year, first, second)


def calendar_date(date: DateFields, order: DateOrder) -> tuple[int, int, int] | None:
    """(year, month, day) under ``order``, or None when no such day exists.

    Checked against the calendar (no 30 February), so nothing rolls over into
    the next month as JavaScript's Date and lenient parsers do.
    """
    ymd = ymd_of(date, order)
    if ymd is None or not _MIN_YEAR <= ymd[0] <= _MAX_YEAR:
        return None
    year, month, day = ymd
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return ymd


def plausible_date(date: DateFields) -> bool:
    """True when the date is a real day under at least one date order."""
    return any(calendar_date(date, order) is not None for order in ("dmy", "mdy"))


# -- day/month order ----------------------------------------------------------


@dataclass(slots=True)
class OrderDecision:
    order: DateOrder
    ambiguous: bool
    reason: str


@dataclass(slots=True)
class OrderEvidence:
    """What the headers of one style say about day/month order, gathered in one pass.

    Only changes of date text are looked at (the caller keeps ``prev_text``):
    consecutive headers on the same day compare equal under either order, so
    they cannot tell the orders apart.
    """

    headers: int = 0  # every header, including those repeating the previous date
    dates: int = 0
    year_first_dates: int = 0
    first_over_12: int = 0
    second_over_12: int = 0
    first_example: str = ""
    second_example: str = ""
    inversions_dmy: int = 0
    inversions_mdy: int = 0
    prev_text: str = ""
    _prev_dmy: tuple[int, int, int] | None = None
    _prev_mdy: tuple[int, int, int] | None = None

    def add(self, date: DateFields, text: str, line_no: int) -> None:
        """Count one new date; the caller skips headers repeating the previous date text."""
        self.dates += 1
        if year_first(date):
            self.year_first_dates += 1
        else:
            first, second = int(date.d1), int(date.d2)
            if first > 12:
                self.first_over_12 += 1
                self.first_example = self.first_example or f"{text!r} on line {line_no}"
            if second > 12:
                self.second_over_12 += 1
                self.second_example = self.second_example or f"{text!r} on line {line_no}"
        dmy, mdy = ymd_of(date, "dmy"), ymd_of(date, "mdy")
        if dmy is None or mdy is None:
            return
        if self._prev_dmy is not None and dmy < self._prev_dmy:
            self.inversions_dmy += 1
        if self._prev_mdy is not None and mdy < self._prev_mdy:
            self.inversions_mdy += 1
        self._prev_dmy, self._prev_mdy = dmy, mdy

    def decide(self) -> OrderDecision:
        if self.year_first_dates and self.year_first_dates == self.dates:
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
                order, True,
                f"the file mixes orders: the first field exceeds 12 in {first} date(s) "
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


# -- bodies: placeholders, calls, notices ------------------------------------

_EXACT_BODIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("This message was deleted", "This message was deleted.",
                     "You deleted this message", "You deleted this message."), ("deleted",)),
    **dict.fromkeys(("<Media omitted>", "<Medien ausgeschlossen>", "<Multimedia omitido>",
                     "image omitted", "video omitted", "audio omitted", "sticker omitted",
                     "GIF omitted", "document omitted", "Contact card omitted"),
                    ("media_omitted",)),
    "null": ("view_once",),  # Android writes the literal "null" for view-once media
}
# iOS documents: "name.pdf • 3 pages document omitted".
_TYPED_OMITTED = re.compile(r".+ (?:document|image|video|audio) omitted")
_LOCATION = re.compile(r"(?:[Ll]ocation: https?://\S+|[Ll]ive location (?:shared|ended))")
_CALL = re.compile(
    r"(?P<how>Missed |Silenced |Declined )?(?P<group>group )?(?:(?P<media>[Vv]oice|[Vv]ideo) )?"
    r"call(?:, (?P<detail>.+))?",
    re.IGNORECASE,
)
_DURATION = re.compile(r"(?P<duration>\d+ (?:hr|min|sec)(?: \d+ (?:min|sec))*)"
                       r"(?: \u2022 (?P<joined>\d+) joined)?")
_ATTACHED_IOS = re.compile(r"<attached: ([^>]+)>")
_ATTACHED_OLD_IOS = re.compile(r"(.+?) <attached>")
_ATTACHED_ANDROID = re.compile(r"(.+?) \((?:file attached|Datei angeh\u00e4ngt)\)")
_EDITED = "<This message was edited>"

# Every notice phrase below contains one of these words: a cheap gate, since
# most bodies are ordinary messages.
_NOTICE_WORDS = frozenset((
    "Messages", "changed", "changed.", "blocked", "unblocked", "business", "admin", "admin.",
    "created", "deleted", "updated", "turned", "joined", "reset", "revoked", "pinned", "added",
    "removed", "left", "left.",
))
# The cheap gate in front of _special (LRM-marked bodies aside): a body can only
# be special if its first word starts one of the anchored forms, if it ends like
# an attachment or typed placeholder, or if a notice verb follows a name of up
# to five words ("Mary Ann de Souza added Bob").
_FIRST_WORDS = frozenset((
    "This", "You", "You're", "Your", "Security", "Messages", "<Media", "<Medien",
    "<Multimedia", "image", "video", "audio", "sticker", "GIF", "document", "Contact", "null",
    "Missed", "missed", "Silenced", "silenced", "Declined", "declined", "Voice", "voice",
    "Video", "Group", "group", "location:", "Location:", "Live", "live", "POLL:", "Waiting",
))
_LAST_WORDS = ("omitted", ">", "attached)", "angeh\u00e4ngt)")
_NOTICE_VERBS = frozenset((
    "created", "changed", "changed.", "deleted", "updated", "turned", "joined", "reset",
    "revoked", "pinned", "added", "removed", "left", "left.",
))
# Phrases that only WhatsApp itself writes, whoever the export names as sender.
_NOTICE_STRONG = re.compile(
    r"(?:Messages and calls are end-to-end encrypted"
    r"|Messages to this (?:group|chat) are now (?:secured with|end-to-end)"
    r"|(?:Your )?[Ss]ecurity code (?:with .+ )?changed"
    r"|You (?:un)?blocked this (?:contact|business)"
    r"|This (?:chat is with a business|business uses)"
    r"|You(?:'re| are) now an admin"
    r"|.*? (?:created group|created this group"
    r"|changed (?:the (?:subject|group (?:name|description|settings))|this group's"
    r" (?:icon|settings)|their phone number|to \+)"
    r"|deleted this group's icon|(?:updated|changed) the message timer"
    r"|turned (?:on|off) disappearing messages|joined using this group's invite link"
    r"|(?:reset|revoked) this group's invite link|pinned a message))"
)
# "Alice added Bob": plausible as a real message too, so names must look like
# names (capitalised words or phone numbers) and nothing else may follow.
_NAME = (r"(?:[Yy]ou|\+[\d \u00a0\u202f()-]{5,}"
         r"|[A-Z\u00c0-\u00de][\w.'\u2019-]*(?: [\w.'\u2019-]+){0,3})")
_NOTICE_MEMBERS = re.compile(
    rf"(?:{_NAME} (?:added|removed) {_NAME}(?:(?:, | and ){_NAME})*|{_NAME} left)\.?"
)
# A senderless notice can contain ": " (a new subject, say), making its start
# look like a sender; these show the supposed sender is a sentence.
_NOTICE_IN_SENDER = re.compile(
    r" (?:created group|changed the (?:subject|group)|changed this group's|added|removed"
    r"|pinned|updated the message timer|turned (?:on|off) disappearing)"
)
_MARKS = r"[\s\u200e\u200f\u202a-\u202e]*"  # bidi marks wrapped around numbers
_PHONEISH = re.compile(rf"{_MARKS}\+?[\d\s().\-]{{5,}}{_MARKS}")


def is_notice_sentence(sender: str) -> bool:
    """True when what precedes the first ": " is the start of a notice, not a name."""
    return " " in sender and _NOTICE_IN_SENDER.search(sender) is not None


def looks_like_phone(sender: str) -> bool:
    return _PHONEISH.fullmatch(sender) is not None


@dataclass(slots=True)
class Body:
    """What a body is, beyond its text: kind, flags, extras and attachments."""

    kind: Kind = "message"
    flags: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    attachments: tuple[AttachmentRef, ...] = ()


def classify_body(body: str, multiline: bool, style: int, siblings: dict[str, str]) -> Body | None:
    """Kind, flags and attachments of a body (the text after ``SENDER: ``).

    None for an ordinary message, the common case, which must stay cheap.
    """
    has_lrm = LRM in body
    first = body.split("\n", 1)[0] if multiline else body
    edited = body.endswith(">") and body.replace(LRM, "").rstrip().endswith(_EDITED)
    if not (has_lrm or edited):
        words = first.split(None, 6)  # the first six words, then the rest
        if not words or (words[0] not in _FIRST_WORDS and not first.endswith(_LAST_WORDS)
                         and _NOTICE_VERBS.isdisjoint(words[1:6])):
            return None
    # LRMs are matched around, never stored differently: the record keeps ``body``.
    plain = first.replace(LRM, "").strip() if has_lrm else first.strip()
    result = _special(plain, has_lrm, multiline, style, siblings)
    if result is None and has_lrm and body.startswith(LRM):
        # iOS puts an LRM right after "SENDER: " only on bodies WhatsApp wrote itself.
        result = Body(kind="system", extra={"notice_cue": "lrm"})
    if edited:
        result = result or Body()
        result.flags.insert(0, "edited")
    return result


def _special(plain: str, has_lrm: bool, multiline: bool, style: int,
             siblings: dict[str, str]) -> Body | None:
    if not multiline:
        exact = _EXACT_BODIES.get(plain)
        if exact is not None:
            return Body(flags=list(exact))
        if plain.startswith("This message was deleted by admin "):
            return Body(flags=["deleted"])
        call = _CALL.fullmatch(plain) if "all" in plain else None
        if call is not None:
            return _call(call)
        if plain.endswith(" omitted") and _TYPED_OMITTED.fullmatch(plain):
            return Body(flags=["media_omitted"])
    names = _attachment_names(plain, has_lrm)
    if names:
        return Body(attachments=tuple(_link(name, siblings) for name in names))
    if "ocation" in plain and _LOCATION.match(plain):
        return Body(flags=["location"])
    if plain.startswith("POLL:"):
        return Body(flags=["poll"])
    if plain.startswith("Waiting for this message"):
        return Body(flags=["not_decrypted"])
    if _is_notice(plain, multiline, style):
        return Body(kind="system", extra={"notice_cue": "phrase"})
    return None


def _is_notice(plain: str, multiline: bool, style: int) -> bool:
    if multiline or _NOTICE_WORDS.isdisjoint(plain.split()):
        return False
    if _NOTICE_STRONG.match(plain):
        return True
    # iOS marks its notices with an LRM; there, bare "X added Y" is left to that cue.
    return style != BRACKET and _NOTICE_MEMBERS.fullmatch(plain) is not None


def _call(m: re.Match[str]) -> Body | None:
    how, detail = (m["how"] or "").strip().lower(), m["detail"]
    if m["media"] is None and how != "missed":
        return None  # a bare "call, ..." is not one of WhatsApp's call lines
    result = Body(kind="call")
    if how:
        result.flags.append(how)
    if m["group"]:
        result.flags.append("group")
    if m["media"]:
        result.flags.append(m["media"].lower())
    if detail:
        duration = _DURATION.fullmatch(detail)
        if duration is not None:
            result.extra["duration"] = duration["duration"]
            if duration["joined"]:
                result.extra["joined"] = duration["joined"]
        elif detail.lower() == "no answer":
            result.flags.append("no_answer")
    return result


def _attachment_names(plain: str, has_lrm: bool) -> list[str]:
    if has_lrm or "<attached" in plain:
        names = _ATTACHED_IOS.findall(plain)
        if names:
            return [n.strip() for n in names]
        old = _ATTACHED_OLD_IOS.fullmatch(plain)
        if old is not None:
            return [old[1]]
    if plain.endswith(")"):
        android = _ATTACHED_ANDROID.fullmatch(plain)
        if android is not None:
            return [android[1]]
    return []


def _link(name: str, siblings: dict[str, str]) -> AttachmentRef:
    """Link a named attachment to the stored sibling file, by name as written or base name."""
    sha = siblings.get(name)
    if sha is None:
        sha = siblings.get(name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    return AttachmentRef(name=name, sha256=sha)


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
    counts = dict.fromkeys(STYLES, 0)
    before_first = 0
    for line in head.decode("utf-8", "replace").split("\n"):
        if not line.strip():
            continue
        m = HEADER.match(line)
        if m is not None:
            date, hms = split_date(date_text(m)), read_time(time_text(m))
            if date is not None and hms is not None and plausible_date(date):
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
