"""Android "SMS Backup & Restore" (SyncTech) messages file: ``<smses>`` of sms and mms.

Reading, surrogate repair and file notes are shared with the call log in
parsers.synctech_xml; this module turns one ``<sms>`` or ``<mms>`` element into
records. Section 4 of the format notes describes the attributes.

Who is who: the file is the victim's phone. ``address`` is the other party (for
an MMS, ``<addr>`` children give everyone, type 137 the sender), so an incoming
message has the address as its sender and an outgoing one has it as recipient,
the sender being the phone's owner (None). ``contact_name`` comes from the
victim's address book: it is shown as the sender's name, never used as an id.

Choices worth knowing when reading the records:

* ``date`` is epoch milliseconds (precision "subsecond"); for a received
  message it is when the phone received it, so time_basis is "received". Without
  a usable ``date``, ``date_sent`` is used as the sending time, with a defect.
* Drafts, outbox, failed and queued messages are the owner's ("outgoing") with a
  flag saying they may never have been delivered.
* Bodies are kept exactly, including a body that is the word "null"; for the
  other attributes "null" means missing.
* Short codes and alphanumeric senders ("BANK") are ``sms:`` handles, not
  phone numbers. An MMS conversation is its ``address`` attribute (group
  threads join their numbers with "~"), each number normalised.
* MMS media parts become EmbeddedFile children (the SMIL layout part is not
  content and is skipped); text/plain parts are joined with newlines.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.records import (
    AttachmentRef,
    Direction,
    EmbeddedFile,
    EventRecord,
    FileNote,
    Locator,
    ParsedItem,
    TimeBasis,
    WallClock,
)
from parsers.synctech_xml import (
    NULL,
    OWN_ADDRESS_PLACEHOLDER,
    UNKNOWN_CONTACT,
    BackupKind,
    PartyIds,
    display_name,
    epoch_clock,
    looks_like_backup,
    present,
    read_backup,
)

KIND = BackupKind(
    root="smses",
    records=frozenset({"sms", "mms"}),
    noun="message",
    scope_note=(
        "An SMS Backup & Restore file holds only the SMS and MMS that were on the phone when "
        "the backup ran: messages deleted before then, and chats of other apps, are not in it. "
        "Archive and incremental backups overlap, so the same message in several files is "
        "normal. contact_name is the victim's address-book name, not an identity."
    ),
)

# The message box (sms type, mms msg_box): direction, what the date means, and a
# flag for messages that were never delivered as far as the phone knows.
_BOXES: dict[str, tuple[Direction, TimeBasis, tuple[str, ...]]] = {
    "1": ("incoming", "received", ()),
    "2": ("outgoing", "sent", ()),
    "3": ("outgoing", "sent", ("draft",)),
    "4": ("outgoing", "sent", ("outbox",)),
    "5": ("outgoing", "sent", ("failed",)),
    "6": ("outgoing", "sent", ("queued",)),
}
_UNKNOWN_BOX: tuple[Direction, TimeBasis, tuple[str, ...]] = ("unknown", "received", ())

# Kept short: this is built for every sms, and the original keeps every attribute.
_SMS_EXTRA = ("type", "address", "contact_name", "readable_date", "date_sent",
              "service_center")
_MMS_EXTRA = ("msg_box", "address", "contact_name", "readable_date", "date_sent", "read",
              "m_type", "text_only")

# <addr type>: PduHeaders FROM, and the ones that receive the message.
_FROM = "137"
_RECEIVING = frozenset({"151", "130", "129"})  # TO, CC, BCC
_SMIL = "application/smil"


def _extra(attributes: dict[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    return {key: value for key in keys
            if (value := attributes.get(key)) and value != NULL}


def _dedupe(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _decode_base64(data: str, defects: list[str]) -> bytes | None:
    """The part's bytes; characters outside base64 are skipped only with a defect saying so."""
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        content = binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        defects.append("undecodable_part_data")
        return None
    defects.append("part_data_not_strict_base64")
    return content


@dataclass(slots=True)
class _Mms:
    """One ``<mms>`` while its parts and addresses arrive."""

    attributes: dict[str, str]
    locator: Locator
    texts: list[str] = field(default_factory=list)
    files: list[EmbeddedFile] = field(default_factory=list)
    attachments: list[AttachmentRef] = field(default_factory=list)
    addresses: list[tuple[str, str]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parts: int = 0


class _Builder:
    """Builds the records of one file (a parse gets a builder of its own)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._ids = PartyIds("sms", self.region)
        self._mms: _Mms | None = None

    # -- the RecordBuilder protocol ----------------------------------------------

    def begin(self, name: str, attributes: dict[str, str],
              locator: Locator) -> list[ParsedItem] | None:
        if name == "sms":
            return self._sms(attributes, locator)
        self._mms = _Mms(attributes, locator)
        return None

    def child(self, name: str, attributes: dict[str, str], locator: Locator) -> None:
        mms = self._mms
        if mms is None:
            return
        if name == "part":
            self._part(mms, attributes, locator)
        elif name == "addr":
            mms.addresses.append((attributes.get("address") or "", attributes.get("type") or ""))

    def end(self) -> list[ParsedItem]:
        mms, self._mms = self._mms, None
        return [] if mms is None else self._finish_mms(mms)

    # -- shared ----------------------------------------------------------------

    @staticmethod
    def _fallback_clock(attributes: dict[str, str], problem: str | None,
                        defects: tuple[str, ...],
                        ) -> tuple[WallClock | None, TimeBasis, tuple[str, ...]]:
        """Without a usable ``date``, ``date_sent`` gives the sending time."""
        clock, _ = epoch_clock(attributes.get("date_sent"))
        if clock is not None:
            clock.flags += ("from_date_sent",)
        return clock, "sent", (*defects, f"date_{problem}")

    @staticmethod
    def _no_date(noun: str, locator: Locator) -> FileNote:
        return FileNote(
            code="no_date",
            message=f"The {noun} at {locator.json_path} (byte {locator.byte_offset}) has no "
                    "usable date or date_sent, so it has no timeline event; it is kept in the "
                    "stored original.",
        )

    # -- sms -------------------------------------------------------------------

    def _sms(self, attributes: dict[str, str], locator: Locator) -> list[ParsedItem]:
        # Runs for every sms of files with a million of them: lookups are bound
        # locally and the record is built positionally (see _Reader's docstring).
        get = attributes.get
        defects: tuple[str, ...] = ()
        box = _BOXES.get(get("type", ""))
        if box is None:
            box = _UNKNOWN_BOX
            defects += ("unknown_type",)
        direction, basis, flags = box
        clock, problem = epoch_clock(get("date"))
        if clock is None:
            clock, basis, defects = self._fallback_clock(attributes, problem, defects)
            if clock is None:
                return [self._no_date("sms", locator)]
        address = get("address")
        party = None
        participants: tuple[str, ...] = ()
        if address and address != NULL:
            party = self._ids[address]
            participants = (party,)
        else:
            defects += ("missing_address",)
        contact = get("contact_name")
        if contact == UNKNOWN_CONTACT:
            flags += ("not_in_contacts",)
        sender = sender_id = None
        recipients: tuple[str, ...] = ()
        if direction == "incoming":
            sender = contact if contact and contact != UNKNOWN_CONTACT and contact != NULL \
                else party and address
            sender_id = party
        elif direction == "outgoing":
            recipients = participants
        subject = get("subject")
        return [EventRecord(
            "message", clock, basis, "sms", locator,
            sender, sender_id, recipients, direction,
            get("body"), subject if subject and subject != NULL else None,
            (),  # attachments
            flags, defects,
            {key: value for key in _SMS_EXTRA if (value := get(key)) and value != NULL},
            party, participants,  # conversation, participants
        )]

    # -- mms -------------------------------------------------------------------

    def _part(self, mms: _Mms, attributes: dict[str, str], locator: Locator) -> None:
        """A text part joins the text; a media part becomes an embedded file.

        The base64 is decoded here, part by part, so at most one part's data is
        held twice while a large MMS is read.
        """
        index = mms.parts
        mms.parts += 1
        content_type = attributes.get("ct") or ""
        plain = content_type.lower()
        if plain == _SMIL:
            return  # the slide layout, not content
        text = attributes.get("text")
        data = present(attributes.get("data"))
        if plain.startswith("text/plain") and text is not None and (data is None or text != NULL):
            mms.texts.append(text)
            return
        name = next((value for key in ("cl", "name", "fn")
                     if (value := present(attributes.get(key)))), f"part-{index}")
        media_type = present(content_type)
        if data is None:
            mms.attachments.append(AttachmentRef(name, None, media_type))
            mms.defects.append("part_without_data")
            return
        content = _decode_base64(data, mms.defects)
        if content is None:
            mms.attachments.append(AttachmentRef(name, None, media_type))
            return
        digest = hashlib.sha256(content).hexdigest()
        mms.files.append(EmbeddedFile(name, content, digest, locator, media_type))
        mms.attachments.append(AttachmentRef(name, digest, media_type))

    def _finish_mms(self, mms: _Mms) -> list[ParsedItem]:
        attributes, locator, defects = mms.attributes, mms.locator, mms.defects
        locator.message_id = present(attributes.get("m_id"))
        box = _BOXES.get(attributes.get("msg_box", ""))
        if box is None:
            box = _UNKNOWN_BOX
            defects.append("unknown_msg_box")
        direction, basis, flags = box
        clock, problem = epoch_clock(attributes.get("date"))
        if clock is None:
            clock, basis, found = self._fallback_clock(attributes, problem, ())
            defects += found
            if clock is None:
                return [*mms.files, self._no_date("mms", locator)]
        thread = [address for address in (attributes.get("address") or "").split("~")
                  if present(address)]
        thread_ids = [self._ids[address] for address in thread]
        from_address = next((address for address, kind in mms.addresses if kind == _FROM), None)
        listed = [(address, kind) for address, kind in mms.addresses
                  if present(address) and address != OWN_ADDRESS_PLACEHOLDER]
        receiving = _dedupe([self._ids[address] for address, kind in listed
                             if kind in _RECEIVING])
        participants = _dedupe([self._ids[address] for address, _ in listed] + thread_ids)
        if not participants:
            defects.append("missing_address")
        sender = sender_id = None
        if direction == "incoming":
            sender, sender_id = self._mms_sender(attributes, from_address, thread, defects)
        if direction == "outgoing" and not receiving:
            receiving = tuple(thread_ids)
        contact = attributes.get("contact_name")
        if contact == UNKNOWN_CONTACT:
            flags += ("not_in_contacts",)
        extra = _extra(attributes, _MMS_EXTRA)
        if from_address:
            extra["from_address"] = from_address
        record = EventRecord(
            kind="message",
            time=clock,
            time_basis=basis,
            channel="mms",
            locator=locator,
            sender=sender,
            sender_id=sender_id,
            recipients=receiving,
            direction=direction,
            text="\n".join(mms.texts) if mms.texts else None,
            subject=present(attributes.get("sub")),
            attachments=tuple(mms.attachments),
            flags=flags,
            defects=tuple(defects),
            extra=extra,
            conversation="~".join(thread_ids) or "~".join(participants) or None,
            participants=participants,
        )
        return [*mms.files, record]

    def _mms_sender(self, attributes: dict[str, str], from_address: str | None,
                    thread: list[str], defects: list[str]) -> tuple[str | None, str | None]:
        """The 137 (From) address; in a one-to-one thread the thread address will do."""
        address = present(from_address)
        if address is None or address == OWN_ADDRESS_PLACEHOLDER:
            if len(thread) != 1:
                defects.append("missing_sender")
                return None, None
            address = thread[0]
            defects.append("sender_from_thread_address")
        # contact_name lists the whole thread's names: only one-to-one says who sent.
        name = display_name(attributes.get("contact_name")) if len(thread) == 1 else None
        return name or address, self._ids[address]


class SmsBackupParser:
    name = "sms_backup"
    version = "1.0.0"
    format = "sms_backup_xml"

    def detect(self, probe: Probe) -> bool:
        """The root element is <smses> (after the app's declaration, comment and stylesheet)."""
        return looks_like_backup(probe.head, KIND.root, (b"<sms ", b"<mms ", b"<mms>"))

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        return read_backup(source.open, KIND, _Builder(options.default_region))


PARSER = SmsBackupParser()
