"""The one explicit list of parsers. Order matters: the first that claims a file wins."""

from __future__ import annotations

from parsers import (
    call_log_backup,
    capture_record,
    diary_csv,
    diary_xlsx,
    discord_messages,
    discord_messages_csv,
    eml,
    generic_csv,
    google_chat,
    hangouts,
    image,
    ios_sms_db,
    mbox,
    meta_e2ee_json,
    meta_html,
    meta_json,
    mhtml,
    outlook_msg,
    pst,
    sms_backup,
    snapchat,
    telegram,
    telegram_html,
    web_page,
    whatsapp,
    x_dms,
)
from parsers.base import Parser, Probe

PARSERS: tuple[Parser, ...] = (
    whatsapp.PARSER,
    mbox.PARSER,
    mhtml.PARSER,  # before eml: a saved page is a MIME message too
    eml.PARSER,
    outlook_msg.PARSER,
    pst.PARSER,
    capture_record.PARSER,
    meta_json.PARSER,
    meta_e2ee_json.PARSER,
    meta_html.PARSER,
    telegram_html.PARSER,  # Telegram Desktop's HTML chat pages
    web_page.PARSER,  # after meta_html and telegram_html, whose pages are HTML too
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
    image.PARSER,  # by magic bytes; screenshots and photos
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
