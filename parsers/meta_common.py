"""What the Meta parsers share: mojibake repair, thread folders, service choice, media, notices.

Facebook Messenger and Instagram "Download your information" exports (JSON and
HTML) and the separate end-to-end-encrypted Messenger download differ in
layout but share these facts; section 2 of the format field notes explains them.
"""

from __future__ import annotations

import codecs
import json
import mimetypes
import re
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote

import ijson

from parsers.base import SourceFile
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, EventRecord, FileNote, Kind, ParsedItem, WallClock

FACEBOOK = "facebook"
INSTAGRAM = "instagram"

BOM = b"\xef\xbb\xbf"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Before Facebook existed: a time this early is a seconds value written as ms.
_PLAUSIBLE_FROM = datetime(2004, 1, 1, tzinfo=UTC)


# -- reading JSON -----------------------------------------------------------------


def load_whole(source: SourceFile, limit: int) -> tuple[Any, int | None] | None:
    """(document, offset of the first invalid UTF-8 byte or None), or None to stream instead.

    Thread files are small, and the json module reads them several times faster
    than a streaming parser. Streaming is for files over ``limit`` bytes and for
    broken JSON, where it keeps the messages before the damage.
    """
    try:
        with source.open() as stream:
            raw = stream.read(limit + 1)
    except OSError as exc:
        raise DamagedInput(f"{source.name}: unreadable: {exc}") from exc
    if len(raw) > limit:
        return None
    bad_utf8 = None
    bom = len(BOM) if raw.startswith(BOM) else 0
    raw = bytes(raw[bom:])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", "replace")
        bad_utf8 = bom + exc.start  # an offset in the file as stored
    try:
        return json.loads(text), bad_utf8
    except (ValueError, RecursionError):
        return None


class CleanUtf8:
    """A byte reader for ijson that always gives valid UTF-8.

    A leading byte order mark (which ijson rejects) is dropped and invalid
    bytes become U+FFFD, as the whole-file reader does; ``first_bad`` keeps
    the offset of the first invalid byte for the file's note.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")
        self.offset = 0
        self.first_bad: int | None = None

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson reads 0 bytes to learn whether the stream gives bytes or text
            return b""
        while True:
            chunk = bytes(self.raw.read(size))
            text = self.decoder.decode(chunk, not chunk)
            if self.first_bad is None and text.count("\ufffd") > chunk.count(b"\xef\xbf\xbd"):
                self._note_bad(chunk)
            self.offset += len(chunk)
            # An empty result for a non-empty chunk is a character cut by the chunk's end.
            if text or not chunk:
                return text.encode("utf-8")

    def _note_bad(self, chunk: bytes) -> None:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.first_bad = self.offset + exc.start
        else:
            self.first_bad = self.offset


def first_line(exc: BaseException) -> str:
    """One line of a parser error's message (yajl's span several, with a caret drawing)."""
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def clock_from_ms(value: Any, defects: list[str]) -> WallClock | None:
    """The instant of a UTC epoch-milliseconds value, or None when there is none."""
    if type(value) is int:
        ms = value
    elif isinstance(value, float) and value.is_integer():
        ms = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        ms = int(value)
        defects.append("timestamp_as_text")
    else:
        return None
    try:
        instant = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return None
    if instant < _PLAUSIBLE_FROM:
        defects.append("implausible_time")
    return WallClock(str(value), instant=instant,
                     precision="subsecond" if ms % 1000 else "second")


def invalid_utf8_note(offset: int) -> FileNote:
    return FileNote("invalid_utf8",
                    f"The file is not valid UTF-8 (first bad byte at offset {offset}); invalid "
                    "bytes were read as U+FFFD and records holding one carry the defect "
                    "invalid_utf8.")


def listed_paths(indexes: list[int], limit: int = 10) -> str:
    """ "messages[2], messages[7], ..." for a note."""
    shown = ", ".join(f"messages[{i}]" for i in indexes[:limit])
    return shown + (", ..." if len(indexes) > limit else "")


def reactions_json(reactions: Any, fix: Any, defects: list[str]) -> str | None:
    """Reactions as JSON text ([{"reaction", "actor", "timestamp"}]), or None when none."""
    if reactions is None:
        return None
    if not isinstance(reactions, list):
        defects.append("reactions_not_list")
        return None
    kept: list[dict[str, Any]] = []
    for reaction in reactions:
        if not isinstance(reaction, dict) or not isinstance(reaction.get("reaction"), str):
            if "bad_reaction" not in defects:
                defects.append("bad_reaction")
            continue
        entry: dict[str, Any] = {"reaction": fix(reaction["reaction"])}
        actor = reaction.get("actor")
        if isinstance(actor, str):
            entry["actor"] = fix(actor)
        stamp = reaction.get("timestamp")
        if isinstance(stamp, int) and not isinstance(stamp, bool):
            entry["timestamp"] = stamp
        kept.append(entry)
    return json.dumps(kept, ensure_ascii=False) if kept else None


def names_of(people: Any, fix: Any) -> list[str] | None:
    """Display names from a list of {"name": ...} objects or of plain strings."""
    if not isinstance(people, list):
        return None
    names = []
    for person in people:
        name = person.get("name") if isinstance(person, dict) else person
        if isinstance(name, str):
            names.append(fix(name))
    return names


# -- mojibake ------------------------------------------------------------------

KEPT, REPAIRED, FAILED = 0, 1, 2
# C1 control characters: legitimate text practically never holds them, while
# Meta's per-byte escaping of UTF-8 produces them for many continuation bytes.
_C1 = re.compile("[\u0080-\u009f]")


def repair(value: str) -> tuple[str, int]:
    """(text, outcome) for one string of a Meta export (field notes 2.3).

    Meta writes every UTF-8 byte as its own code point. The repair is applied
    only when the string is all U+0000-U+00FF AND those bytes decode as UTF-8;
    anything else is kept as it is. FAILED means the string still looks like
    escaped bytes (C1 controls) yet is not valid UTF-8, so it stays unrepaired.
    """
    if value.isascii():
        return value, KEPT
    try:
        return value.encode("latin-1").decode("utf-8"), REPAIRED
    except UnicodeEncodeError:  # a character above U+00FF: never byte-escaped
        return value, KEPT
    except UnicodeDecodeError:
        return value, FAILED if _C1.search(value) else KEPT


@dataclass(slots=True)
class Mojibake:
    """Repairs strings and keeps both per-record and per-file counts."""

    repaired: int = 0
    failed: int = 0
    records_repaired: int = 0
    records_failed: int = 0
    # Outcome for the record being built; reset by take().
    _record: int = KEPT

    def fix(self, value: str) -> str:
        if value.isascii():  # the common case, without a call
            return value
        fixed, outcome = repair(value)
        if outcome == REPAIRED:
            self.repaired += 1
            self._record |= REPAIRED
        elif outcome == FAILED:
            self.failed += 1
            self._record |= FAILED
        return fixed

    @property
    def pending(self) -> bool:
        """Whether a string of the record being built was repaired or failed."""
        return self._record != KEPT

    def discard(self) -> None:
        """Forget the outcome of strings that belong to no record (thread header fields)."""
        self._record = KEPT

    def take(self) -> int:
        """The outcome bits for the record just built, counted per record."""
        outcome, self._record = self._record, KEPT
        if outcome & REPAIRED:
            self.records_repaired += 1
        if outcome & FAILED:
            self.records_failed += 1
        return outcome

    def mark(self, extra: dict[str, str], outcome: int) -> None:
        if outcome & REPAIRED:
            extra["mojibake_repaired"] = "true"
        if outcome & FAILED:
            extra["mojibake_fix"] = "failed"

    def notes(self) -> list[FileNote]:
        found = []
        if self.repaired:
            found.append(FileNote(
                "mojibake_repaired",
                f"Meta wrote each UTF-8 byte as its own character; {self.repaired} string(s) in "
                f"{self.records_repaired} record(s) were repaired (latin-1 bytes decoded as "
                "UTF-8) and those records are marked mojibake_repaired. The stored original "
                "bytes stay authoritative."))
        if self.failed:
            found.append(FileNote(
                "mojibake_fix_failed",
                f"{self.failed} string(s) in {self.records_failed} record(s) look byte-escaped "
                "but are not valid UTF-8; they were kept exactly as written and marked "
                "mojibake_fix=failed."))
        return found


# -- thread paths and folders ------------------------------------------------

#: Sibling folders of inbox/ that a download may hold (field notes 2.1).
FOLDERS = ("inbox", "message_requests", "filtered_threads", "archived_threads", "e2ee_cutover")
_FOLDER_MEANING = {
    "message_requests": "message requests (usually from people who are not friends or "
                        "followers)",
    "filtered_threads": "filtered threads (messages Meta's spam filter set aside)",
    "archived_threads": "archived threads (hidden from the inbox by the account holder)",
    "e2ee_cutover": "threads converted to end-to-end encryption (only the messages from before "
                    "the switch)",
}
# A media path names its thread: ".../messages/<folder>/<thread>/photos/x.jpg".
_THREAD_IN_URI = re.compile(r"(?:^|/)messages/(" + "|".join(FOLDERS) + r")/([^/]+)/")


def folder_of(thread_path: str | None) -> str | None:
    """The export folder a thread_path names ("inbox/x_1" -> "inbox"), when known."""
    if not thread_path:
        return None
    head = thread_path.replace("\\", "/").strip("/").split("/", 1)[0]
    return head if head in FOLDERS else None


def thread_id_of(thread_path: str | None) -> str | None:
    """The id after the last "_" of the thread folder: the key to merge split threads on."""
    if not thread_path:
        return None
    leaf = thread_path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    _, sep, ident = leaf.rpartition("_")
    return ident if sep and ident else None


def thread_path_in_uri(uri: str) -> str | None:
    """ "inbox/x_1" from "messages/inbox/x_1/photos/1.jpg", when a media path names it."""
    m = _THREAD_IN_URI.search(uri.replace("\\", "/"))
    return f"{m.group(1)}/{m.group(2)}" if m else None


def folder_note(folder: str | None, thread_path: str) -> FileNote | None:
    if folder is None or folder == "inbox":
        return None
    return FileNote(
        "thread_folder",
        f"This thread ({thread_path}) sits in {folder}/: {_FOLDER_MEANING[folder]}. Every record "
        f"carries folder={folder}.")


# -- which service --------------------------------------------------------------

_FACEBOOK_ROOTS = ("your_facebook_activity", "your_activity_across_facebook", "facebook")
_INSTAGRAM_ROOTS = ("your_instagram_activity", "instagram")


def _service_of_root(uri: str) -> str | None:
    """The service a media path's first folder names, if any.

    Only the first folder is read: later ones are thread folders named after
    people, and a person called "instagramfan" says nothing about the export.
    """
    if is_remote(uri):
        return None
    root = uri.replace("\\", "/").lstrip("./").split("/", 1)[0].lower()
    # Download folders are named like "instagram-sam.t.1990-2024-03-12" or "facebook-100001".
    stem = re.split(r"[-_]\d|-", root, maxsplit=1)[0]
    if root.startswith(_INSTAGRAM_ROOTS[0]) or stem == "instagram":
        return INSTAGRAM
    if root in _FACEBOOK_ROOTS[:2] or stem == "facebook":
        return FACEBOOK
    return None


@dataclass(frozen=True, slots=True)
class ServiceChoice:
    channel: str
    reason: str

    def note(self) -> FileNote:
        return FileNote("meta_service", f"Service {self.channel}: {self.reason}.")


def choose_service(uris: Iterable[str], messenger_keys: Iterable[str] = (),
                   links: Iterable[str] = ()) -> ServiceChoice:
    """Messenger or Instagram, from the strongest evidence the file holds.

    Media paths come first (they name the export's own layout), then keys only
    Messenger writes, then links to shared posts; otherwise Facebook is assumed
    and the note says so.
    """
    for uri in uris:
        service = _service_of_root(uri)
        if service is not None:
            return ServiceChoice(service, f"a media path reads {uri!r}")
    for key in messenger_keys:
        return ServiceChoice(FACEBOOK, f"the file has the key {key!r}, written by Messenger "
                                       "exports only")
    instagram_links = [link for link in links if "instagram.com/" in link.lower()]
    if instagram_links and not any("facebook.com/" in link.lower() for link in links):
        return ServiceChoice(INSTAGRAM, f"shared links point to Instagram only "
                                        f"({instagram_links[0]!r}); the layout itself does not "
                                        "say which service wrote it")
    return ServiceChoice(FACEBOOK, "nothing in the file names the service (no media path, key or "
                                   "link tells Messenger from Instagram), so Facebook Messenger "
                                   "was assumed; check where the file came from")


# -- media ----------------------------------------------------------------------

#: The Meta message keys that list media, and what they hold.
MEDIA_KEYS = ("photos", "videos", "audio_files", "gifs", "files")
_MEDIA_FALLBACK_TYPE = {"photos": "image/jpeg", "videos": "video/mp4", "audio_files": "audio/mp4",
                        "gifs": "image/gif"}


def _guess_type(name: str, key: str | None) -> str | None:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if key == "audio_files" and guessed is not None and guessed.startswith("video/"):
        # Voice clips are written as .mp4: the container is MPEG-4, the content audio.
        return "audio/" + guessed.partition("/")[2]
    if guessed is None and key is not None and "." not in name.rsplit("/", 1)[-1]:
        # Meta names some media by number only, without an extension.
        return _MEDIA_FALLBACK_TYPE.get(key)
    return guessed


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "//"))


@dataclass(slots=True)
class Media:
    """Links media paths to delivered files and counts what was not delivered."""

    siblings: Mapping[str, str]
    found: int = 0
    missing: list[str] = field(default_factory=list)
    remote: int = 0

    def ref(self, uri: str, key: str | None = None, raw: str | None = None) -> AttachmentRef:
        """The attachment for a media path as written (``raw``: before a mojibake repair)."""
        if is_remote(uri):
            self.remote += 1
            return AttachmentRef(uri, None, _guess_type(uri.split("?", 1)[0], key))
        sha = self._lookup(uri)
        if sha is None and uri.startswith("./"):  # the e2ee download writes "./media/x"
            sha = self._lookup(uri[2:])
        if sha is None and raw is not None and raw != uri:
            sha = self._lookup(raw)
        if sha is None and "%" in uri:  # HTML pages percent-encode names
            sha = self._lookup(unquote(uri))
        if sha is None:
            self.missing.append(uri)
        else:
            self.found += 1
        return AttachmentRef(uri, sha, _guess_type(uri, key))

    def _lookup(self, uri: str) -> str | None:
        try:
            return self.siblings.get(uri)
        except (KeyError, ValueError, TypeError):  # a hostile path must not stop the parse
            return None

    def notes(self) -> list[FileNote]:
        found = []
        if self.missing:
            shown = ", ".join(repr(m) for m in self.missing[:5])
            more = ", ..." if len(self.missing) > 5 else ""
            found.append(FileNote(
                "media_not_delivered",
                f"{len(self.missing)} media file(s) named by the export were not among the "
                f"files handed over (their attachments have no sha256): {shown}{more}."))
        if self.remote:
            found.append(FileNote(
                "media_remote",
                f"{self.remote} attachment(s) are web addresses, not files of the export; they "
                "were not fetched."))
        return found


# -- notices, calls and placeholders ------------------------------------------------

# What Meta writes after the actor's name in place of content ("Sam sent an
# attachment."): the item itself is elsewhere or gone. English only; other
# locales stay plain messages.
_PLACEHOLDER_TAIL = re.compile(
    r"(?:sent|shared) (?:an? |\d+ )?(?:attachment|photo|video|voice message|audio clip|GIF"
    r"|gif|sticker|link|location|file|story|post|reel|live location)s?(?: from [^.]{1,80})?\.?",
)
_UNSENT_TAIL = re.compile(r"unsent a message\.?")
# Group and thread notices, anchored on the sender's own name so a message
# that merely says "I left the group." is not taken for one.
_NOTICE_TAIL = re.compile(
    r"(?:added .{1,400} to the group|removed .{1,400} from the group|left the group"
    r"|joined the group|joined the video chat|joined the call"
    r"|named the group .{0,400}|removed the group name|changed the group photo"
    r"|created the group|created a group.{0,80}|set the nickname for .{1,400} to .{0,400}"
    r"|set (?:his|her|their|your) (?:own )?nickname to .{0,400}|cleared the nickname for .{1,200}"
    r"|cleared (?:his|her|their|your) (?:own )?nickname|changed the (?:chat )?theme.{0,200}"
    r"|set the (?:quick reaction|emoji) to .{1,40}|changed the emoji.{0,80}"
    r"|made .{1,200} an admin|removed .{1,200} as an admin"
    r"|pinned a message|unpinned a message)\.?",
    re.DOTALL,
)
# Call summaries. JSON marks calls with call_duration, so these serve the HTML
# pages only, where the text is all there is.
_CALL = re.compile(
    r"(?:.{1,200} called you|You called .{1,200}|.{1,200} started (?:a |an )?(?:audio |video )?"
    r"call|You started (?:a |an )?(?:audio |video )?call|The (?:video |audio )?(?:call|chat) "
    r"ended|(?:Video|Audio) (?:call|chat) ended|You missed (?:a |an )?(?:audio |video )?call "
    r"from .{1,200}|.{1,200} missed (?:a |an |your )?(?:audio |video )?call(?: from .{1,200})?)\.?",
    re.DOTALL,
)
# Instagram writes reactions as messages of their own.
_REACTION_TEXT = re.compile(r"Liked a message|Reacted .{1,40} to your message\s*", re.DOTALL)


@dataclass(slots=True)
class TextClass:
    """What a content text says about its record."""

    kind: Kind = "message"
    flags: tuple[str, ...] = ()
    cue: str | None = None


PLAIN = TextClass()


def _after_actor(text: str, sender: str | None) -> int | None:
    """Where the text goes on after its actor ("Sam Taylor " or "You "), if it starts with one."""
    if sender and text.startswith(sender) and text[len(sender):len(sender) + 1] == " ":
        return len(sender) + 1
    if text.startswith("You "):
        return 4
    return None


def classify_text(text: str | None, sender: str | None, *, calls: bool = False) -> TextClass:
    """Tell notices, call summaries and placeholders from what a person wrote.

    ``calls``: also read call summaries from the text (HTML pages, which have
    no call fields).
    """
    if not text or len(text) > 1000:
        return PLAIN
    if calls and _CALL.fullmatch(text):
        flags = ("missed",) if "missed" in text.lower() else ()
        return TextClass("call", flags, "call_text")
    if _REACTION_TEXT.fullmatch(text):
        return TextClass("message", ("reaction_notice",), "reaction_text")
    start = _after_actor(text, sender)
    if start is None:
        return PLAIN
    if _PLACEHOLDER_TAIL.fullmatch(text, start):
        return TextClass("message", ("attachment_placeholder",), "placeholder_text")
    if _UNSENT_TAIL.fullmatch(text, start):
        return TextClass("message", ("unsent",), "unsent_text")
    if _NOTICE_TAIL.fullmatch(text, start):
        return TextClass("system", (), "notice_text")
    return PLAIN


# -- what no file of these exports can hold -------------------------------------------


def limits_note(channel: str) -> FileNote:
    if channel == INSTAGRAM:
        cannot = ("messages deleted or unsent before the download, disappearing (vanish-mode) "
                  "messages, view-once media")
    else:
        cannot = ("end-to-end-encrypted chats (they come from the separate secure-storage "
                  "download), messages deleted or unsent before the download, disappearing "
                  "messages")
    return FileNote(
        "export_limits",
        f"Meta exports name people by display name only (no account ids), so senders carry no "
        f"sender_id and the direction of each message is unknown; two people with the same name "
        f"cannot be told apart. This export cannot contain: {cannot}.")


def skipped_notes(time_field: str, untimed: list[int], not_objects: list[int],
                  unknown_keys: Mapping[str, int]) -> Iterator[FileNote]:
    """What a thread file held that did not become records, said once per file."""
    if untimed:
        yield FileNote("messages_without_time",
                       f"{len(untimed)} message(s) have no usable {time_field} and were "
                       f"not turned into records: {listed_paths(untimed)}.")
    if not_objects:
        yield FileNote("messages_not_objects",
                       f"{len(not_objects)} item(s) of the messages list are not JSON "
                       f"objects and were skipped: {listed_paths(not_objects)}.")
    if unknown_keys:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(unknown_keys.items()))
        yield FileNote("unknown_message_keys",
                       f"Message keys this parser does not read, kept only in the stored "
                       f"original: {listed}.")


class ThreadReader(Protocol):
    def record(self, index: int, message: Any) -> EventRecord | None: ...
    def closing_notes(self) -> Iterator[FileNote]: ...


def streamed_records(source: SourceFile, thread: ThreadReader
                     ) -> Generator[ParsedItem, None, int]:
    """Each message of a thread file, read with ijson; damage keeps what came before,
    says what the file held, then raises DamagedInput naming where it broke.
    Returns how many messages the list held."""
    index = -1
    try:
        with source.open() as stream:
            items = ijson.items(CleanUtf8(stream), "messages.item", use_float=True)
            for index, message in enumerate(items):
                built = thread.record(index, message)
                if built is not None:
                    yield built
    except (ijson.JSONError, ValueError, RecursionError) as exc:
        yield from thread.closing_notes()
        where = "before the first message" if index < 0 else f"after messages[{index}]"
        raise DamagedInput(f"{source.name}: the JSON breaks off {where}: "
                           f"{first_line(exc)}") from exc
    except OSError as exc:
        yield from thread.closing_notes()
        raise DamagedInput(f"{source.name}: unreadable: {exc}") from exc
    return index + 1
