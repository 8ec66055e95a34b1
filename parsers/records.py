"""Typed records that every parser emits.

These are format-neutral: the evidence store derives timeline events from them
without knowing which parser produced them, so this module must stay free of
any format knowledge (the import-direction test allows evidence_store to import
only this module from parsers/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias

Kind = Literal["message", "call", "email", "screenshot", "photo", "incident", "capture", "system"]
TimeBasis = Literal[
    "sent", "received", "call_started", "screenshot_taken", "photo_taken",
    "file_modified", "captured", "reported",
]
Precision = Literal["second", "minute", "day", "subsecond"]
Direction = Literal["incoming", "outgoing", "unknown"]


# WallClock and Locator are built once per record, hundreds of thousands of times
# per file; frozen dataclasses cost several times more to construct, so these two
# are plain slotted dataclasses that nothing mutates after creation.
@dataclass(slots=True)
class WallClock:
    """A time as the source wrote it.

    Exactly one of ``local`` (naive wall-clock time, zone unknown to the source)
    or ``instant`` (an aware datetime, when the source states its own offset or
    an epoch) is set. Resolution to UTC happens in the evidence store, with the
    case's zone, so the assumption is recorded in one place.
    """

    text: str
    local: datetime | None = None
    instant: datetime | None = None
    precision: Precision = "second"
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.local is None) == (self.instant is None):
            raise ValueError("WallClock needs exactly one of local or instant")
        if self.local is not None and self.local.tzinfo is not None:
            raise ValueError("WallClock.local must be naive wall-clock time")
        if self.instant is not None and self.instant.tzinfo is None:
            raise ValueError("WallClock.instant must be timezone-aware")


@dataclass(slots=True)
class Locator:
    """Where a record sits inside its original, precise enough to find it by hand."""

    line: int | None = None
    line_end: int | None = None
    byte_offset: int | None = None
    byte_length: int | None = None
    json_path: str | None = None
    message_id: str | None = None
    member: str | None = None

    def as_dict(self) -> dict[str, str | int]:
        return {
            k: v
            for k in ("line", "line_end", "byte_offset", "byte_length", "json_path",
                      "message_id", "member")
            if (v := getattr(self, k)) is not None
        }


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """A file a record refers to; sha256 is None when the file was not handed over."""

    name: str
    sha256: str | None = None
    media_type: str | None = None


@dataclass(slots=True)
class EventRecord:
    """One thing that happened, as one source tells it."""

    kind: Kind
    time: WallClock
    time_basis: TimeBasis
    channel: str
    locator: Locator
    sender: str | None = None
    sender_id: str | None = None
    recipients: tuple[str, ...] = ()
    direction: Direction = "unknown"
    text: str | None = None
    subject: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    # Per-record markers (edited, deleted, media_omitted, not_in_contacts, ...):
    # facts about the record, as opposed to defects.
    flags: tuple[str, ...] = ()
    # Per-record defects: the record is kept and carries what was wrong with it.
    defects: tuple[str, ...] = ()
    # Format-specific facts worth keeping (labels, thread ids, raw sender text).
    extra: Mapping[str, str] = field(default_factory=dict)
    # The conversation this record belongs to, stable within the file (an SMS
    # address, a thread folder, a Telegram chat id); None when the file is one chat.
    conversation: str | None = None
    # Normalised identifiers of everyone in that conversation, as far as the file
    # says; scoping (ingest --only-with) keeps a record when any of these, the
    # sender_id or a recipient is one of the named identifiers.
    participants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EmbeddedFile:
    """A file carried inside the original (an e-mail attachment, an MMS part).

    The collector stores it as a child exhibit; records that mention it refer to
    it by sha256 and are yielded after it.
    """

    name: str
    data: bytes
    sha256: str
    locator: Locator
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class FileNote:
    """A fact about the whole file (assumed date order, BOM present, a likely export cap)."""

    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


#: What a fact's value may hold: plain JSON, so it can be hashed and exported as is.
JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"


@dataclass(frozen=True, slots=True)
class DerivedFact:
    """Something derived from the original that is not itself an event.

    EXIF fields, an e-mail's Received hops and authentication results, OCR text
    and word boxes, a perceptual hash. ``about="record"`` attaches the fact to the
    last EventRecord yielded before it (dropped with that record when scoping
    leaves it out); ``about="file"`` attaches it to the exhibit as a whole.
    """

    kind: str
    value: dict[str, JSONValue]
    locator: Locator = field(default_factory=Locator)
    about: Literal["record", "file"] = "record"


ParsedItem = EventRecord | EmbeddedFile | FileNote | DerivedFact
