"""Normalisation of the identifiers people are known by (phones, e-mails, handles)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
# Bidi marks and no-break spaces that exports wrap around numbers; stripped for matching only.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u00a0\u202f"), " ")


@lru_cache(maxsize=65536)
def phone_e164(text: str, region: str = "GB") -> str | None:
    """E.164 form of a phone number, or None when the text is not a valid number."""
    cleaned = text.translate(_INVISIBLE).strip()
    if not cleaned or sum(c.isdigit() for c in cleaned) < 5:
        return None
    if re.search(r"[A-Za-z]", cleaned):
        return None
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_id(text: str) -> str | None:
    """Lower-cased address, or None when the text is not an e-mail address."""
    cleaned = text.strip().strip("<>").strip()
    return cleaned.lower() if _EMAIL.match(cleaned) else None


def handle_id(platform: str, handle: str) -> str:
    return f"{platform}:{handle.strip().lstrip('@').lower()}"
