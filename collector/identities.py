"""Identifiers typed by an officer, normalised the way parsers normalise them."""

from __future__ import annotations

import re

from parsers.identifiers import email_id, handle_id, phone_e164

_PLATFORM = re.compile(r"^([a-z][a-z0-9_]*):(.+)$")


class BadIdentifier(ValueError):
    pass


def normalise_identifier(text: str, region: str = "GB") -> str:
    """+44 7700 900461 -> +447700900461; Sam@Example.COM -> sam@example.com;
    telegram:User123 -> telegram:user123; name:Sam Taylor -> name:sam taylor."""
    value = text.strip()
    if value.lower().startswith("name:"):
        name = value[5:].strip()
        if name:
            return f"name:{name.casefold()}"
    elif "@" in value and not value.startswith("@") and (address := email_id(value)):
        return address
    elif match := _PLATFORM.match(value):
        return handle_id(match.group(1), match.group(2))
    elif phone := phone_e164(value, region):
        return phone
    raise BadIdentifier(
        f"{text!r} is not an identifier: give a phone number, an e-mail address, "
        "platform:handle (e.g. instagram:sam_t) or name:Display Name"
    )
