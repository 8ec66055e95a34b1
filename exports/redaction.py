"""Redacting third parties from the documents Conduct derives for a case file.

A third party is anyone who is neither the victim nor the suspect: a person the
officer recorded as a witness or "other", and anyone the material names whom no
victim or suspect identifier accounts for (a sender nobody was recorded for is
treated as a third party: record the victim's and suspect's identifiers first).
What is redacted in every derived document: phone numbers (found in free text
with phonenumbers, and E.164 identifiers), e-mail addresses, other identifiers
of third parties (platform handles), and the names of third parties. Each value
becomes a stable token such as ``[REDACTED-PHONE-1]``: the same value gets the
same token in every file of one bundle, so a reader can still follow who is who.

The redaction log counts each token per file and field but never holds the
value it replaced: a log of values inside the bundle would undo the redaction.
The unredacted values stay in the store and in an unredacted export.
Originals are never redacted. Addresses are not redacted: the store does not
record people's addresses, so there is nothing to match them against.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.models import Case, Event
from evidence_store.persons import persons_of

PROTECTED_ROLES = frozenset({"victim", "suspect"})
#: Fields that never hold personal data (hashes, times, codes); left as they are so
#: that a digest or a timestamp is never mistaken for a phone number.
SAFE_FIELDS = frozenset({
    "id", "event_id", "seq", "event_seq", "kind", "occurred_at", "local_time", "time_zone",
    "time_basis", "precision", "time_flags", "channel", "direction", "direction_basis",
    "exhibit", "parser", "source", "at", "received_at", "datetime", "timestamp",
    "timestamp_desc", "chain", "action", "size", "format", "status", "media_type", "ref",
    "parent", "duplicate_of", "bundle_path", "line", "line_end", "byte_offset", "byte_length",
    "message_id", "json_path", "data_type", "sender_role", "flags", "code",
})
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_WORD = re.compile(r"\w+")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
#: Dates and clock times, which phonenumbers' lenient matcher would take for numbers.
_TIMES = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?Z?"
                    r"|\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
_PHONE_CHARS = re.compile(r"^[+\d\s().-]{7,}$")
_MIN_PHONE_DIGITS = 7


def _is_safe_field(name: str) -> bool:
    return name in SAFE_FIELDS or name.endswith(("sha256", "hash"))


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.casefold() for w in _WORD.findall(text))


@dataclass(frozen=True)
class Parties:
    """Who must stay readable and who must be hidden, for one case."""

    region: str
    protected_ids: frozenset[str]
    protected_names: frozenset[tuple[str, ...]]
    #: A third party's name (as casefolded words) -> the key of its token, so that every
    #: name of one recorded person ("Joanne", "Joanne Witness") gets one token.
    third_names: Mapping[tuple[str, ...], str]
    third_ids: frozenset[str]


def parties_of(session: Session, case: Case) -> Parties:
    protected_ids: set[str] = set()
    protected_names: set[tuple[str, ...]] = set()
    third_names: dict[tuple[str, ...], str] = {}
    third_ids: set[str] = set()
    roles: dict[str, str] = {}
    for person, values in persons_of(session, case):
        keep = person.role in PROTECTED_ROLES
        names = [person.name, *(v[5:] for v in values if v.startswith("name:"))]
        words = [w for w in map(_words, names) if w]
        if keep:
            protected_names.update(words)
        else:
            third_names.update((w, " ".join(_words(person.name))) for w in words)
        for value in values:
            roles[value] = person.role
            if keep:
                protected_ids.add(value)
            elif not value.startswith("name:"):
                third_ids.add(value)
    senders = session.execute(
        select(Event.sender, Event.sender_id).where(Event.case_id == case.id,
                                                    Event.kind != "system").distinct())
    for sender, sender_id in senders:
        role = roles.get(sender_id or "") or (
            roles.get(f"name:{sender.casefold()}") if sender else None)
        if role in PROTECTED_ROLES:
            continue
        if sender_id and "@" not in sender_id and not _looks_like_phone(sender_id):
            third_ids.add(sender_id)
        if sender and "@" not in sender and not _looks_like_phone(sender):
            said = _words(sender)
            if said:
                third_names.setdefault(said, " ".join(said))
    return Parties(case.default_region, frozenset(protected_ids), frozenset(protected_names),
                   {w: k for w, k in third_names.items() if w not in protected_names},
                   frozenset(third_ids - protected_ids))


def _looks_like_phone(text: str) -> bool:
    return bool(_PHONE_CHARS.match(text)) and sum(c.isdigit() for c in text) >= _MIN_PHONE_DIGITS


class Redactor:
    """Replaces third-party data with tokens and counts what it replaced, where."""

    def __init__(self, parties: Parties | None) -> None:
        self.parties = parties
        self._tokens: dict[tuple[str, str], str] = {}
        self._numbers: Counter[str] = Counter()
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self._longest = max((len(n) for n in (*parties.third_names, *parties.protected_names)),
                            default=0) if parties else 0
        metadata = (phonenumbers.PhoneMetadata.metadata_for_region(parties.region)
                    if parties else None)
        self._zero_prefix = metadata is not None and metadata.national_prefix == "0"
        self._ids = (re.compile(r"(?<![\w:])(" + "|".join(
            re.escape(v) for v in sorted(parties.third_ids, key=len, reverse=True))
            + r")(?![\w])", re.IGNORECASE) if parties and parties.third_ids else None)

    @property
    def enabled(self) -> bool:
        return self.parties is not None

    def _token(self, kind: str, key: str, file: str, field: str) -> str:
        token = self._tokens.get((kind, key))
        if token is None:
            self._numbers[kind] += 1
            token = f"[REDACTED-{kind}-{self._numbers[kind]}]"
            self._tokens[(kind, key)] = token
        self.counts[(token, kind, file, field)] += 1
        return token

    # -- single values --------------------------------------------------------

    def _phone_key(self, text: str) -> str | None:
        assert self.parties is not None
        try:
            number = phonenumbers.parse(text, self.parties.region)
        except phonenumbers.NumberParseException:
            return None
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)

    def identifier(self, value: str | None, file: str, field: str) -> str | None:
        """A sender or recipient identifier: kept for the victim and suspect, else a token."""
        if not value or self.parties is None or value in self.parties.protected_ids:
            return value
        if value.startswith("name:"):
            return "name:" + self._token("NAME", self._name_key(value[5:]), file, field)
        if "@" in value:
            return self._token("EMAIL", value.casefold(), file, field)
        if _looks_like_phone(value):
            key = self._phone_key(value)
            if key in self.parties.protected_ids:
                return value
            return self._token("PHONE", key or value, file, field)
        return self._token("ID", value.casefold(), file, field)

    def person(self, value: str | None, role: str | None, file: str, field: str) -> str | None:
        """A display name: kept when it names the victim or suspect."""
        if not value or self.parties is None or role in PROTECTED_ROLES:
            return value
        if "@" in value or _looks_like_phone(value):
            return self.identifier(value, file, field)
        if _words(value) in self.parties.protected_names:
            return value
        return self._token("NAME", self._name_key(value) or value, file, field)

    def text(self, value: str | None, file: str, field: str) -> str | None:
        if not value or self.parties is None:
            return value
        value = _EMAIL.sub(lambda m: self._email(m.group(0), file, field), value)
        if sum(c.isdigit() for c in value) >= _MIN_PHONE_DIGITS:
            value = self._phones(value, file, field)
        if self._ids is not None:
            value = self._ids.sub(lambda m: self._token("ID", m.group(0).casefold(), file,
                                                        field), value)
        if self._longest:
            value = self._names(value, file, field)
        return value

    def _email(self, found: str, file: str, field: str) -> str:
        assert self.parties is not None
        if found.casefold() in self.parties.protected_ids:
            return found
        return self._token("EMAIL", found.casefold(), file, field)

    def _phones(self, text: str, file: str, field: str) -> str:
        assert self.parties is not None
        pieces: list[str] = []
        last = 0
        times = [m.span() for m in _TIMES.finditer(text)]
        for match in phonenumbers.PhoneNumberMatcher(text, self.parties.region,
                                                     leniency=Leniency.POSSIBLE):
            raw = match.raw_string
            if (sum(c.isdigit() for c in raw) < _MIN_PHONE_DIGITS or _DATE_LIKE.match(raw)
                    or not self._plausible(raw)
                    or any(a < match.end and match.start < b for a, b in times)):
                continue
            key = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
            if key in self.parties.protected_ids:
                continue
            pieces.append(text[last:match.start])
            pieces.append(self._token("PHONE", key, file, field))
            last = match.end
        pieces.append(text[last:])
        return "".join(pieces)

    def _name_key(self, name: str) -> str:
        assert self.parties is not None
        words = _words(name)
        return self.parties.third_names.get(words) or " ".join(words)

    def _plausible(self, raw: str) -> bool:
        """A bare run of digits is a phone number only as people write one: with the
        national prefix where the region has "0" (07700900123), and never as long as
        an epoch time in milliseconds."""
        if not raw.isdigit():
            return True
        if len(raw) > 12:
            return False
        return not self._zero_prefix or raw.startswith("0")

    def _names(self, text: str, file: str, field: str) -> str:
        assert self.parties is not None
        spans = [(m.start(), m.end(), m.group(0).casefold()) for m in _WORD.finditer(text)]
        pieces: list[str] = []
        last = 0
        i = 0
        while i < len(spans):
            for length in range(min(self._longest, len(spans) - i), 0, -1):
                key = tuple(s[2] for s in spans[i:i + length])
                if key in self.parties.protected_names:
                    i += length
                    break
                if key in self.parties.third_names and (length > 1 or len(key[0]) >= 3):
                    start, end = spans[i][0], spans[i + length - 1][1]
                    pieces.append(text[last:start])
                    pieces.append(self._token("NAME", self.parties.third_names[key], file,
                                              field))
                    last = end
                    i += length
                    break
            else:
                i += 1
        pieces.append(text[last:])
        return "".join(pieces)

    # -- structures -----------------------------------------------------------

    def value(self, data: Any, file: str, field: str) -> Any:
        """Every string inside plain JSON data, except fields that never hold personal data."""
        if self.parties is None:
            return data
        if isinstance(data, str):
            return self.text(data, file, field)
        if isinstance(data, list):
            return [self.value(item, file, field) for item in data]
        if isinstance(data, dict):
            return {key: item if _is_safe_field(key) else self.value(item, file, key)
                    for key, item in data.items()}
        return data

    def event(self, event: dict[str, Any], file: str) -> dict[str, Any]:
        """A timeline event (the JSON contract of evidence_store.timeline) redacted."""
        if self.parties is None:
            return event
        role = event.get("sender_role")
        out = dict(event)
        out["sender"] = self.person(event["sender"], role, file, "sender")
        out["sender_id"] = (event["sender_id"] if role in PROTECTED_ROLES
                            else self.identifier(event["sender_id"], file, "sender_id"))
        out["sender_person"] = self.person(event["sender_person"], role, file, "sender_person")
        out["recipients"] = [self.identifier(r, file, "recipients") for r in event["recipients"]]
        for key in ("text", "subject"):
            out[key] = self.text(event[key], file, key)
        for key in ("attachments", "locator", "flags", "defects", "extra"):
            out[key] = self.value(event[key], file, key)
        return out

    def cells(self, row: list[str], columns: Iterable[str], file: str,
              skip: Iterable[str] = ()) -> list[str]:
        """A CSV row of plain text cells (``skip``: cells the caller redacted already)."""
        if self.parties is None:
            return row
        left = frozenset(skip)
        return [cell if _is_safe_field(column) or column in left
                else (self.text(cell, file, column) or "")
                for column, cell in zip(columns, row, strict=True)]

    def log_rows(self) -> list[list[str]]:
        return [[token, kind, file, field, str(count)]
                for (token, kind, file, field), count in sorted(self.counts.items(),
                                                                key=_log_order)]


def _log_order(item: tuple[tuple[str, str, str, str], int]) -> tuple[str, str, str, int]:
    (token, kind, file, field), _ = item
    number = int(token.rsplit("-", 1)[1].rstrip("]"))
    return (file, field, kind, number)


LOG_COLUMNS = ("token", "kind", "file", "field", "count")
