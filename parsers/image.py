"""Screenshots and photos (PNG, JPEG, HEIC/HEIF, WebP) as timeline events.

One image is one event: kind "screenshot" when the name or the metadata says
the picture is a capture of a screen, else "photo". Its time comes, in order,
from EXIF DateTimeOriginal (with OffsetTimeOriginal an instant, without it
device wall-clock time that the store resolves in the case's zone), XMP or PNG
creation times, the file name's convention (parsers/image_names.py), and last
from the file's own modification time when the collector knows it (files
ingested from disk). An image with none of these yields no event: a note says
so and its metadata is still kept as facts.

The event carries no text: what a screenshot shows is added later as facts
(OCR). Facts about the file: "exif", "gps", "png_text", "image_edited" and
"perceptual_hash" (parsers/image_signature.py), from which
evidence_store/near_duplicates.py groups re-saved copies and crops.

EXIF is read by exifread (parsers/image_exif.py) from the bytes in memory:
Pillow decodes the pixels and finds the EXIF block in the container, and
exifread reads that block. Damaged EXIF keeps what could be read, with a note
and the defect "exif_damaged" on the event.

Hostile files: decoding is bounded (Image.MAX_IMAGE_PIXELS, a lower limit for
formats that cannot be decoded at reduced scale), and Pillow's errors for
unidentifiable, truncated or bomb-sized images become DamagedInput after the
metadata that could be read has been yielded.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pillow_heif
from PIL import Image, UnidentifiedImageError

from parsers.base import ParseOptions, Probe, SourceFile
from parsers.errors import DamagedInput
from parsers.image_exif import ExifFound, read_exif
from parsers.image_metadata import (
    Metadata,
    StatedTime,
    exif_time,
    png_text,
    png_time,
    raw_exif,
    xmp_field,
    xmp_text,
    xmp_time,
)
from parsers.image_names import NameInfo, channel_of, read_name
from parsers.image_signature import displayed_grey, signature
from parsers.records import (
    AttachmentRef,
    DerivedFact,
    EventRecord,
    FileNote,
    Kind,
    Locator,
    ParsedItem,
    Precision,
    TimeBasis,
    WallClock,
)

pillow_heif.register_heif_opener()
# Pillow refuses images over twice this many pixels (DecompressionBombError). Its
# default (~179 million) would refuse a 200-megapixel phone photo (16320 x 12240).
Image.MAX_IMAGE_PIXELS = 110_000_000
#: Formats decoded at full size (no JPEG-style reduced decoding) above this are not
#: decoded at all: a tiny PNG can claim enough pixels to exhaust memory.
MAX_FULL_DECODE_PIXELS = 64_000_000
#: An image file larger than this is not read into memory.
MAX_IMAGE_BYTES = 256 * 1024 * 1024

#: Software names that mean a picture went through an editor (lower case, matched
#: as words in EXIF Software, XMP CreatorTool and PNG Software).
EDITORS: dict[str, str] = {
    "photoshop": "Adobe Photoshop", "lightroom": "Adobe Lightroom",
    "adobe express": "Adobe Express", "gimp": "GIMP", "snapseed": "Snapseed",
    "picsart": "PicsArt", "canva": "Canva", "pixelmator": "Pixelmator",
    "affinity photo": "Affinity Photo", "paint.net": "Paint.NET", "facetune": "Facetune",
    "vsco": "VSCO", "photopea": "Photopea", "luminar": "Luminar", "fotor": "Fotor",
    "pixlr": "Pixlr", "inshot": "InShot", "meitu": "Meitu", "airbrush": "AirBrush",
    "photoscape": "PhotoScape", "krita": "Krita", "paintshop": "PaintShop Pro",
    "darktable": "darktable", "rawtherapee": "RawTherapee", "capture one": "Capture One",
    "polarr": "Polarr", "lightx": "LightX", "photodirector": "PhotoDirector",
    "picmonkey": "PicMonkey", "befunky": "BeFunky", "faceapp": "FaceApp",
    "youcam": "YouCam", "photoroom": "PhotoRoom", "acdsee": "ACDSee",
    "corel": "Corel", "dxo": "DxO", "on1 photo": "ON1 Photo", "photos editor": "Photos editor",
}
_EDITOR = re.compile(r"(?<![a-z])(" + "|".join(re.escape(k) for k in EDITORS) + r")(?![a-z])")
#: Software that writes screenshots (PNG Software, EXIF Software, XMP CreatorTool).
SCREENSHOT_TOOLS = (
    "screenshot", "screen shot", "spectacle", "ksnapshot", "greenshot", "sharex",
    "snipping tool", "snip & sketch", "flameshot", "shutter", "lightshot", "skitch",
    "cleanshot", "snagit", "screenshooter", "scrot", "grim",
)

_PNG = b"\x89PNG\r\n\x1a\n"
#: HEIF brands pillow-heif decodes (HEVC-coded); AVIF is left to nobody.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm",
                          b"hevs"})
_HEIF_CONTAINER = frozenset({b"mif1", b"msf1"})
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, TypeError, IndexError,
               KeyError, ZeroDivisionError, OverflowError, RuntimeError, MemoryError,
               AttributeError, Image.DecompressionBombError)
_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "heif": "HEIF", "webp": "WebP"}
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "heif": "image/heic",
                "webp": "image/webp"}


def image_type(head: bytes) -> str | None:
    """"png", "jpeg", "heif" or "webp" from the magic bytes, else None."""
    if head.startswith(_PNG):
        return "png"
    if head[:3] == b"\xff\xd8\xff" and len(head) > 3 and head[3] >= 0xC0:
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and len(head) >= 16:
        (size,) = struct.unpack(">I", head[:4])
        major = head[8:12]
        compatible = {head[i:i + 4] for i in range(16, min(size, len(head), 256) - 3, 4)}
        if major in _HEIF_BRANDS or (
                major in _HEIF_CONTAINER and compatible & _HEIF_BRANDS):
            return "heif"
    return None


@dataclass
class _Look:
    """Everything read from the file, before deciding what the event is."""

    signature_type: str
    metadata: Metadata = field(default_factory=Metadata)
    width: int | None = None
    height: int | None = None
    hashes: dict[str, str | int | list[int]] | None = None
    damage: str | None = None
    exif_problem: str | None = None
    notes: list[FileNote] = field(default_factory=list)


class ImageParser:
    name = "image"
    version = "1.1.0"
    format = "image"

    def detect(self, probe: Probe) -> bool:
        return image_type(probe.head) is not None

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        data = _read_all(source)
        kind = image_type(data[:4096])
        if kind is None:
            raise DamagedInput("not a PNG, JPEG, HEIC or WebP image")
        look = _look(data, kind)
        name = read_name(source.name)
        event = _event(source, look, name)
        yield from look.notes
        if event is not None:
            yield event
            if event.kind == "screenshot":
                yield FileNote("screenshot_rendering",
                               "A screenshot is a rendering of a screen: times shown in it are "
                               "in the display zone of the device that took it.")
        else:
            yield FileNote("no_time", "No time in the image's metadata or its file name, and "
                                      "no file time was given: no timeline event.")
        yield from _facts(source, look)
        if look.damage:
            raise DamagedInput(look.damage)


def _read_all(source: SourceFile) -> bytes:
    if source.size > MAX_IMAGE_BYTES:
        raise DamagedInput(f"larger than {MAX_IMAGE_BYTES} bytes; not read as an image")
    try:
        with source.open() as stream:
            data = stream.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise DamagedInput(f"unreadable: {exc}") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise DamagedInput(f"larger than {MAX_IMAGE_BYTES} bytes; not read as an image")
    return data


def _look(data: bytes, kind: str) -> _Look:
    look = _Look(signature_type=kind)
    label = _FORMAT_NAMES[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            look.damage = f"{label} refused as a possible decompression bomb: {exc}"
            _fallback_exif(data, look)
            return look
        except (UnidentifiedImageError, *_PIL_ERRORS) as exc:
            look.damage = f"damaged {label}: cannot be opened as an image ({_brief(exc)})"
            _fallback_exif(data, look)
            return look
        with image:
            _read_metadata(image, look, data)
            _decode(image, look, label)
    return look


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # Pillow names the stream by its repr, whose address differs on every run:
    # the error recorded on an exhibit must be the same each time it is parsed.
    return _OBJECT_REPR.sub("the file", text)[:200]


_OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


def _fallback_exif(data: bytes, look: _Look) -> None:
    """EXIF of a file Pillow cannot open: the metadata near the start is often intact."""
    _take_exif(look, read_exif(data, raw_exif(data)))


def _take_exif(look: _Look, found: ExifFound) -> None:
    look.metadata.exif, look.metadata.gps = found.exif, found.gps
    if found.problem:
        look.exif_problem = found.problem
        kept = "what could be read is kept" if found.exif or found.gps else "none could be read"
        look.notes.append(FileNote(
            "exif_unreadable", f"The EXIF block is damaged ({found.problem}); {kept}."))


def _read_metadata(image: Image.Image, look: _Look, data: bytes) -> None:
    meta = look.metadata
    _take_exif(look, read_exif(data, _pillow_exif(image) or raw_exif(data)))
    meta.xmp = xmp_text(image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"))
    if image.format == "PNG":
        meta.png_text, meta.png_text_truncated = png_text(_text_chunks(image))
    width, height = image.size
    # Pillow turns the pixels (displayed_grey) by EXIF orientation, or by XMP
    # tiff:Orientation when EXIF has none: the size is measured the same way.
    orientation = meta.exif.get("orientation") or xmp_field(meta.xmp, "tiff:Orientation")
    if str(orientation) in ("5", "6", "7", "8"):
        width, height = height, width
    look.width, look.height = width, height


def _pillow_exif(image: Image.Image) -> bytes | None:
    """The raw EXIF block Pillow found, where Image.getexif() would look for it.

    Only the bytes: exifread reads them. A PNG's eXIf chunk after its pixels is
    not in ``info`` until decoding; raw_exif finds it instead.
    """
    block = image.info.get("exif")
    if isinstance(block, bytes):
        return block
    profile = image.info.get("Raw profile type exif")  # ImageMagick's PNG text chunk
    if isinstance(profile, str):
        try:
            return bytes.fromhex("".join(profile.split("\n")[3:]))
        except ValueError:
            return None
    return None


def _text_chunks(image: Image.Image) -> dict[str, str | bytes]:
    """A PNG's text chunks as Pillow gathered them into ``info`` (binary blocks left out)."""
    return {k: v for k, v in image.info.items() if isinstance(k, str)
            and isinstance(v, str | bytes) and k not in ("exif", "icc_profile", "xmp")}


def _decode(image: Image.Image, look: _Look, label: str) -> None:
    """Decode (at reduced scale where the format allows) and take the signatures."""
    pixels = image.size[0] * image.size[1]
    if image.format != "JPEG" and pixels > MAX_FULL_DECODE_PIXELS:
        look.notes.append(FileNote(
            "not_decoded", f"{image.size[0]} x {image.size[1]} pixels: too large to decode "
                           "safely, so no perceptual hash was taken."))
        return
    try:
        if image.format == "JPEG":
            image.draft("RGB", (512, 512))
        image.load()
        if image.format == "PNG":
            # Text chunks after the image data are read only now.
            look.metadata.png_text, look.metadata.png_text_truncated = png_text(
                _text_chunks(image))
        grey = displayed_grey(image)
    except _PIL_ERRORS as exc:
        look.damage = f"damaged {label}: image data unreadable ({_brief(exc)})"
        return
    if look.width and look.height:
        look.hashes = signature(grey, look.width, look.height)


# -- the event --------------------------------------------------------------


def _event(source: SourceFile, look: _Look, name: NameInfo | None) -> EventRecord | None:
    meta = look.metadata
    screenshot_basis = _screenshot_basis(meta, name, look)
    kind: Kind = "screenshot" if screenshot_basis else "photo"
    stated, problems = _stated_time(meta)
    flags: list[str] = []
    defects = list(problems)
    extra: dict[str, str] = {"image_format": _FORMAT_NAMES[look.signature_type]}
    if look.width and look.height:
        extra["width"], extra["height"] = str(look.width), str(look.height)
    if screenshot_basis:
        extra["screenshot_evidence"] = screenshot_basis
    if name is not None:
        extra["file_name_convention"] = name.convention
        for key, value in (("app", name.app), ("app_hash", name.app_hash)):
            if value:
                extra[key] = value
    for key in ("make", "model"):
        camera = meta.exif.get(key)
        if isinstance(camera, str):
            extra[f"camera_{key}"] = camera
    if _editor(meta) is not None:
        flags.append("edited_by_software")
    if look.exif_problem:
        defects.append("exif_damaged")
    if look.damage:
        defects.append("image_data_damaged")

    clock: WallClock
    basis: TimeBasis
    locator = Locator(member=source.name)
    taken: TimeBasis = "screenshot_taken" if kind == "screenshot" else "photo_taken"
    if stated is not None:
        clock = _clock(stated.text, stated.local, stated.instant, stated.precision)
        basis = taken
        locator.json_path = stated.source
        extra["time_source"] = stated.source
        if name is not None and name.has_time:
            extra["file_name_time"] = name.text
            if _disagree(stated, name):
                flags.append("file_name_time_differs")
    elif name is not None and name.has_time:
        clock = _clock(name.text, name.local, name.instant, name.precision)
        basis = name.time_basis or taken
        locator.json_path = "file_name"
        extra["time_source"] = "file_name"
    elif source.modified is not None:
        clock = WallClock(text=source.modified.isoformat(), instant=source.modified,
                          precision="second")
        basis = "file_modified"
        flags.append("time_from_file_modified")
        locator.json_path = "file_modified"
        extra["time_source"] = "file_modified"
    else:
        return None
    if basis == "file_modified":
        look.notes.append(FileNote(
            "time_from_file_modified",
            "No time in the image's metadata or name: the event's time is the file's "
            "modification time on the disk it was ingested from, which copying can change."))
    return EventRecord(
        kind=kind, time=clock, time_basis=basis, channel=_channel(kind, name),
        locator=locator, text=None,
        attachments=(AttachmentRef(source.name, source.sha256,
                                   _MEDIA_TYPES[look.signature_type]),),
        flags=tuple(flags), defects=tuple(defects), extra=extra,
    )


def _clock(text: str, local: datetime | None, instant: datetime | None,
           precision: str) -> WallClock:
    chosen: Precision = precision if precision in ("second", "minute", "day", "subsecond") \
        else "second"  # type: ignore[assignment]
    if instant is not None:
        return WallClock(text=text, instant=instant, precision=chosen)
    return WallClock(text=text, local=local, precision=chosen)


def _stated_time(meta: Metadata) -> tuple[StatedTime | None, list[str]]:
    """The best time the metadata states, and what was wrong with better ones."""
    problems: list[str] = []
    candidates = [exif_time(meta.exif, "original"), exif_time(meta.exif, "digitized"),
                  xmp_time(meta.xmp), png_time(meta.png_text)]
    for stated in candidates:
        if stated is None:
            continue
        if stated.local is None and stated.instant is None:
            problems.append(f"unreadable_time:{stated.source}")
            continue
        if stated.problem:
            problems.append(f"unreadable_offset:{stated.source}")
        return stated, problems
    return None, problems


def _disagree(stated: StatedTime, name: NameInfo) -> bool:
    """Both are device wall-clock times: more than a minute apart is worth a flag."""
    if stated.local is None or name.local is None or name.precision == "day":
        return False
    return abs((stated.local - name.local).total_seconds()) > 60


def _screenshot_basis(meta: Metadata, name: NameInfo | None, look: _Look) -> str | None:
    if name is not None and name.screenshot:
        return "file_name"
    for where, value in meta.text_fields():
        lowered = value.lower()
        if where.endswith(("user_comment", "UserComment")) and lowered.strip() == "screenshot":
            return where
        names_software = "software" in where.lower() or "creatortool" in where.lower()
        if names_software and any(tool in lowered for tool in SCREENSHOT_TOOLS):
            return where
    # iOS saves screenshots as PNG and camera pictures as HEIC/JPEG with the
    # camera's make and model: an IMG_#### PNG without them is a screenshot.
    if (name is not None and name.convention == "ios_camera_roll"
            and look.signature_type == "png" and "make" not in meta.exif
            and "model" not in meta.exif):
        return "ios_png_without_camera_exif"
    return None


def _channel(kind: str, name: NameInfo | None) -> str:
    if name is not None:
        known = name.channel or channel_of(name.app)
        if known:
            return known[:30]
    return "screenshot" if kind == "screenshot" else "photo"


def _editor(meta: Metadata) -> tuple[str, str, str] | None:
    """(where, software as written, editor) when editing software is named."""
    for where, value in meta.text_fields():
        if "comment" in where.lower():
            continue
        match = _EDITOR.search(value.lower())
        if match is not None:
            return where, value, EDITORS[match.group(1)]
    return None


# -- facts ------------------------------------------------------------------


def _facts(source: SourceFile, look: _Look) -> Iterator[DerivedFact]:
    meta = look.metadata
    if meta.exif:
        yield DerivedFact("exif", dict(meta.exif), Locator(member=source.name, json_path="exif"),
                          about="file")
    if meta.gps:
        yield DerivedFact("gps", dict(meta.gps), Locator(member=source.name,
                                                         json_path="exif:GPSInfo"), about="file")
    if meta.png_text:
        value: dict[str, object] = {"chunks": dict(meta.png_text)}
        if meta.png_text_truncated:
            value["truncated"] = list(meta.png_text_truncated)
        yield DerivedFact("png_text", value,  # type: ignore[arg-type]
                          Locator(member=source.name, json_path="png:text"), about="file")
    editor = _editor(meta)
    if editor is not None:
        where, software, name = editor
        yield DerivedFact("image_edited", {"editor": name, "software": software, "field": where},
                          Locator(member=source.name, json_path=where), about="file")
    if look.hashes is not None:
        yield DerivedFact("perceptual_hash", dict(look.hashes),  # type: ignore[arg-type]
                          Locator(member=source.name), about="file")


PARSER = ImageParser()
