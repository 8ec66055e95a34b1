"""The one explicit list of parsers. Order matters: the first that claims a file wins."""

from __future__ import annotations

from parsers import (
    call_log_backup,
    diary_csv,
    diary_xlsx,
    discord_messages,
    discord_messages_csv,
    eml,
    generic_csv,
    google_chat,
    hangouts,
    ios_sms_db,
    mbox,
    meta_e2ee_json,
    meta_html,
    meta_json,
    sms_backup,
    snapchat,
    telegram,
    whatsapp,
    x_dms,
)
from parsers.base import Parser, Probe

PARSERS: tuple[Parser, ...] = (
    whatsapp.PARSER,
    mbox.PARSER,
    eml.PARSER,
    meta_json.PARSER,
    meta_e2ee_json.PARSER,
    meta_html.PARSER,
    telegram.PARSER,
    ios_sms_db.PARSER,
    sms_backup.PARSER,
    call_log_backup.PARSER,
    x_dms.PARSER,
    snapchat.PARSER,
    discord_messages.PARSER,
    discord_messages_csv.PARSER,
    google_chat.PARSER,
    hangouts.PARSER,
    # Victim-written logs come after every service's own format.
    diary_xlsx.PARSER,
    diary_csv.PARSER,
    # Never claims a file by content; chosen when the officer gives --csv-map.
    generic_csv.PARSER,
)


def find_parser(probe: Probe) -> Parser | None:
    for parser in PARSERS:
        if parser.detect(probe):
            return parser
    return None


def by_name(name: str) -> Parser:
    for parser in PARSERS:
        if parser.name == name:
            return parser
    raise KeyError(name)
