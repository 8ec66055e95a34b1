"""Android "SMS Backup & Restore" (SyncTech) call log file: ``<calls>`` of ``<call>``.

Reading, surrogate repair and file notes are shared with the messages file in
parsers.synctech_xml. Missed, rejected and blocked calls matter as much as
answered ones in a stalking case, so every call type becomes a record with a
flag saying what happened; withheld numbers are kept as "withheld", not dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.records import Direction, EventRecord, FileNote, Locator, ParsedItem
from parsers.synctech_xml import (
    NULL,
    UNKNOWN_CONTACT,
    BackupKind,
    PartyIds,
    display_name,
    epoch_clock,
    looks_like_backup,
    read_backup,
)

KIND = BackupKind(
    root="calls",
    records=frozenset({"call"}),
    noun="call",
    scope_note=(
        "An SMS Backup & Restore call file holds the phone's call log as it was when the "
        "backup ran: calls deleted from the log, or dropped by the phone's own limit on its "
        "length, are not in it, and calls made through other apps are not in it. Archive and "
        "incremental backups overlap. contact_name is the victim's address-book name, not an "
        "identity."
    ),
)

# Android CallLog.Calls types: direction and a flag for what happened to the call.
_TYPES: dict[str, tuple[Direction, tuple[str, ...]]] = {
    "1": ("incoming", ()),
    "2": ("outgoing", ()),
    "3": ("incoming", ("missed",)),
    "4": ("incoming", ("voicemail",)),
    "5": ("incoming", ("rejected",)),
    "6": ("incoming", ("blocked",)),
    "7": ("incoming", ("answered_externally",)),
}
# CallLog.Calls.PRESENTATION_RESTRICTED: the caller withheld the number.
_RESTRICTED = "2"
# PRESENTATION_PAYPHONE, and the number Android writes for it: no number either.
_PAYPHONE = "4"
_PAYPHONE_NUMBER = "-3"
# What Android and the app write in place of a number that was not given.
_NO_NUMBER = frozenset({"", NULL, "-1", "-2", "-3", "unknown", "private", "withheld",
                        "anonymous", "restricted"})
WITHHELD = "withheld"

_EXTRA = ("type", "number", "contact_name", "readable_date", "presentation",
          "subscription_id", "post_dial_digits")


class _Builder:
    """Builds the call records of one file."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._ids = PartyIds("call", self.region)

    def begin(self, name: str, attributes: dict[str, str],
              locator: Locator) -> list[ParsedItem] | None:
        return self._call(attributes, locator)

    def child(self, name: str, attributes: dict[str, str], locator: Locator) -> None:
        """Never called: begin() returns every call's items, and a <call> has no children."""

    def end(self) -> list[ParsedItem]:
        return []

    def _call(self, attributes: dict[str, str], locator: Locator) -> list[ParsedItem]:
        clock, problem = epoch_clock(attributes.get("date"))
        if clock is None:
            return [FileNote(
                code="no_date",
                message=f"The call at {locator.json_path} (byte {locator.byte_offset}) has "
                        f"no usable date ({problem}), so it has no timeline event; it is kept "
                        "in the stored original.",
            )]
        defects: list[str] = []
        direction, flags = _TYPES.get(attributes.get("type", ""), ("unknown", ()))
        if direction == "unknown":
            defects.append("unknown_type")
        number = (attributes.get("number") or "").strip()
        withheld = (attributes.get("presentation") == _RESTRICTED
                    or number.lower() in _NO_NUMBER)
        party = None if withheld else self._ids[number]
        if withheld:
            flags += ("withheld",)
            if number == _PAYPHONE_NUMBER or attributes.get("presentation") == _PAYPHONE:
                flags += ("payphone",)
            if direction == "outgoing":
                defects.append("missing_number")
        contact = attributes.get("contact_name")
        if contact == UNKNOWN_CONTACT:
            flags += ("not_in_contacts",)
        extra = {key: value for key in _EXTRA
                 if (value := attributes.get(key)) and value != NULL}
        duration = attributes.get("duration")
        if duration is not None and duration.isascii() and duration.isdigit():
            extra["duration_seconds"] = duration
        else:
            defects.append("missing_duration" if duration in (None, "", NULL) else "bad_duration")
            if duration:
                extra["duration"] = duration
        incoming = direction == "incoming"
        sender = None
        if incoming:
            sender = WITHHELD if withheld else (display_name(contact) or number)
        return [EventRecord(
            kind="call",
            time=clock,
            time_basis="call_started",
            channel="call",
            locator=locator,
            sender=sender,
            sender_id=party if incoming else None,
            recipients=(party,) if party and direction == "outgoing" else (),
            direction=direction,
            flags=flags,
            defects=tuple(defects),
            extra=extra,
            conversation=party,
            participants=(party,) if party else (),
        )]


class CallLogBackupParser:
    name = "call_log_backup"
    version = "1.0.0"
    format = "call_log_backup_xml"

    def detect(self, probe: Probe) -> bool:
        """The root element is <calls> with the app's count attribute or its <call> records."""
        return looks_like_backup(probe.head, KIND.root, (b"<call ",))

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        return read_backup(source.open, KIND, _Builder(options.default_region))


PARSER = CallLogBackupParser()
