"""Screenshots and photos: detection by content, kind, time, channel, facts, damage."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from evidence_store import canonical_json
from parsers import image
from parsers.base import ParseOptions
from parsers.errors import DamagedInput
from parsers.image_names import read_name
from parsers.records import DerivedFact, EventRecord, ParsedItem
from tests.parsers.support import FIXTURES, events, notes, parse_all, probe_of, source_of

IMAGES = FIXTURES / "images"


def items_of(name: str, data: bytes | None = None, modified: datetime | None = None
             ) -> tuple[list[ParsedItem], DamagedInput | None]:
    """Everything the parser yields before it stops, and the damage it stopped for."""
    data = (IMAGES / name).read_bytes() if data is None else data
    source = source_of(data, name)
    if modified is not None:
        source = type(source)(name=source.name, sha256=source.sha256, size=source.size,
                              media_type=source.media_type, open=source.open,
                              modified=modified)
    found: list[ParsedItem] = []
    try:
        for item in image.PARSER.parse(source, ParseOptions()):
            found.append(item)
    except DamagedInput as exc:
        return found, exc
    return found, None


def the_event(name: str) -> EventRecord:
    found, damage = items_of(name)
    assert damage is None
    [record] = events(found)
    return record


def facts(items: list[ParsedItem]) -> dict[str, dict]:
    found = {i.kind: i.value for i in items if isinstance(i, DerivedFact)}
    assert all(i.about == "file" for i in items if isinstance(i, DerivedFact))
    return found


def jpeg_bytes(size: tuple[int, int] = (40, 30), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "JPEG", **save)
    return out.getvalue()


# -- detection -------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "Screenshot_20240312-221503_Instagram.jpg", "IMG_1234.PNG", "IMG_0042.HEIC",
    "STK-20240313-WA0003.webp", "truncated.jpg", "huge_dimensions.png",
])
def test_images_are_claimed_by_their_magic_bytes_whatever_their_name(name: str) -> None:
    data = (IMAGES / name).read_bytes()
    assert image.PARSER.detect(probe_of(data, "exhibit-7.dat"))


@pytest.mark.parametrize("data", [
    b"not a picture at all, though named like one",
    b"GIF89a\x01\x00\x01\x00",
    b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",  # an MP4 video
    b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",  # AVIF: nothing here decodes it
    b"\xff\xd8",
])
def test_other_bytes_named_like_images_are_not_claimed(data: bytes) -> None:
    assert not image.PARSER.detect(probe_of(data, "Screenshot_20240312-221503.png"))


def test_heif_is_claimed_by_its_brand() -> None:
    assert image.image_type(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic") == "heif"
    assert image.image_type(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "heif"


# -- screenshots -------------------------------------------------------------------


def test_an_android_screenshot_takes_its_time_and_app_from_its_name() -> None:
    record = the_event("Screenshot_20240312-221503_Instagram.jpg")
    assert (record.kind, record.time_basis, record.channel) == (
        "screenshot", "screenshot_taken", "instagram")
    assert (record.time.local, record.time.instant, record.time.precision) == (
        datetime(2024, 3, 12, 22, 15, 3), None, "second")
    assert record.time.text == "20240312-221503"
    assert record.extra["app"] == "Instagram"
    assert record.extra["screenshot_evidence"] == "file_name"
    assert record.locator.json_path == "file_name"
    assert record.text is None


def test_a_xiaomi_screenshot_name_gives_milliseconds_and_the_package() -> None:
    record = the_event("Screenshot_2024-03-12-22-15-03-123_com.whatsapp.jpg")
    assert record.time.local == datetime(2024, 3, 12, 22, 15, 3, 123000)
    assert record.time.precision == "subsecond"
    assert (record.channel, record.extra["app"]) == ("whatsapp", "com.whatsapp")


def test_the_event_refers_to_the_image_itself() -> None:
    data = (IMAGES / "Screenshot 2024-03-12 221503.png").read_bytes()
    record = the_event("Screenshot 2024-03-12 221503.png")
    [attachment] = record.attachments
    assert (attachment.name, attachment.media_type) == (
        "Screenshot 2024-03-12 221503.png", "image/png")
    assert attachment.sha256 == source_of(data).sha256
    assert record.locator.member == "Screenshot 2024-03-12 221503.png"


@pytest.mark.parametrize(("name", "local"), [
    ("Screenshot 2024-03-12 at 22.15.03.png", datetime(2024, 3, 12, 22, 15, 3)),
    ("Screenshot 2024-03-12 221503.png", datetime(2024, 3, 12, 22, 15, 3)),
])
def test_desktop_screenshots_are_screenshots_of_no_known_app(name: str, local: datetime) -> None:
    record = the_event(name)
    assert (record.kind, record.channel, record.time.local) == ("screenshot", "screenshot", local)


def test_an_ios_screenshot_is_known_by_apples_metadata_and_timed_by_its_xmp() -> None:
    found, _ = items_of("IMG_1234.PNG")
    [record] = events(found)
    assert (record.kind, record.time_basis, record.channel) == (
        "screenshot", "screenshot_taken", "screenshot")
    assert record.extra["screenshot_evidence"] == "exif:user_comment"
    assert (record.time.local, record.time.text) == (
        datetime(2024, 3, 13, 7, 1, 9), "2024-03-13T07:01:09")
    assert record.locator.json_path == "xmp:photoshop:DateCreated"
    assert facts(found)["exif"] == {"user_comment": "Screenshot"}
    assert "screenshot_rendering" in {n.code for n in notes(found)}


def test_screenshot_software_in_png_text_makes_a_screenshot_and_its_creation_time_counts() -> None:
    found, _ = items_of("desktop capture.png")
    [record] = events(found)
    assert (record.kind, record.extra["screenshot_evidence"]) == ("screenshot", "png:Software")
    assert record.time.instant == datetime(2024, 3, 12, 22, 15, 3, tzinfo=UTC)
    assert facts(found)["png_text"] == {"chunks": {
        "Software": "gnome-screenshot", "Creation Time": "Tue, 12 Mar 2024 22:15:03 +0000"}}


def test_an_iphone_png_without_any_time_yields_no_event_but_keeps_its_facts() -> None:
    found, damage = items_of("IMG_5678.PNG")
    assert damage is None and events(found) == []
    assert "no_time" in {n.code for n in notes(found)}
    signature = facts(found)["perceptual_hash"]
    assert (signature["width"], signature["height"]) == (120, 260)


def test_with_the_files_own_time_an_untimed_image_becomes_a_flagged_event() -> None:
    modified = datetime(2024, 3, 14, 9, 0, 5, tzinfo=UTC)
    found, _ = items_of("IMG_5678.PNG", modified=modified)
    [record] = events(found)
    assert (record.kind, record.time_basis, record.time.instant) == (
        "screenshot", "file_modified", modified)
    assert record.extra["screenshot_evidence"] == "ios_png_without_camera_exif"
    assert "time_from_file_modified" in record.flags
    assert "time_from_file_modified" in {n.code for n in notes(found)}


def test_a_name_or_metadata_time_beats_the_files_own_time() -> None:
    found, _ = items_of("Screenshot 2024-03-12 221503.png",
                        modified=datetime(2025, 1, 1, tzinfo=UTC))
    [record] = events(found)
    assert record.time_basis == "screenshot_taken"
    assert "time_from_file_modified" not in record.flags


# -- photos ------------------------------------------------------------------------


def test_exif_original_time_with_offset_and_subseconds_is_an_instant() -> None:
    found, _ = items_of("IMG_20240714_093012.jpg")
    [record] = events(found)
    assert (record.kind, record.time_basis, record.channel) == ("photo", "photo_taken", "photo")
    assert record.time.instant == datetime(2024, 7, 14, 9, 30, 12, 250000,
                                           tzinfo=timezone(timedelta(hours=1)))
    assert (record.time.precision, record.time.text) == (
        "subsecond", "2024:07:14 09:30:12.250 +01:00")
    assert record.locator.json_path == "exif:DateTimeOriginal"
    assert (record.extra["camera_make"], record.extra["camera_model"]) == ("Google", "Pixel 7")
    exif = facts(found)["exif"]
    assert (exif["datetime_original"], exif["offset_time_original"],
            exif["subsec_time_original"]) == ("2024:07:14 09:30:12", "+01:00", "250")
    assert "edited_by_software" not in record.flags  # HDR+ is the camera, not an editor


def test_gps_is_read_as_decimal_degrees_with_its_utc_fix_time() -> None:
    found, _ = items_of("IMG_20240714_093012.jpg")
    assert facts(found)["gps"] == {
        "latitude": 51.5014, "longitude": -0.1419, "altitude_m": 11.5,
        "timestamp_utc": "2024-07-14T08:30:12Z"}


def test_exif_time_without_offset_is_wall_clock_for_the_case_zone() -> None:
    record = the_event("holiday.jpg")
    assert (record.time.local, record.time.instant) == (datetime(2024, 1, 20, 14, 5, 9), None)


def test_an_editor_named_in_software_is_a_fact_and_a_flag() -> None:
    found, _ = items_of("edited.jpg")
    [record] = events(found)
    assert "edited_by_software" in record.flags
    assert facts(found)["image_edited"] == {
        "editor": "GIMP", "software": "GIMP 2.10.36", "field": "exif:software"}


def test_a_heic_photo_is_read_with_its_offset_west_of_utc() -> None:
    record = the_event("IMG_0042.HEIC")
    assert record.time.instant is not None
    assert record.time.instant.astimezone(UTC) == datetime(2024, 3, 11, 1, 45, 0, 31000,
                                                           tzinfo=UTC)
    assert (record.kind, record.attachments[0].media_type) == ("photo", "image/heic")


def test_whatsapp_media_is_a_photo_of_the_day_whatsapp_stored_it() -> None:
    record = the_event("IMG-20240312-WA0001.jpg")
    assert (record.kind, record.channel, record.time_basis) == ("photo", "whatsapp", "received")
    assert (record.time.local, record.time.precision) == (datetime(2024, 3, 12), "day")


def test_a_webp_sticker_from_whatsapp_is_read_too() -> None:
    record = the_event("STK-20240313-WA0003.webp")
    assert (record.channel, record.time.local, record.extra["image_format"]) == (
        "whatsapp", datetime(2024, 3, 13), "WebP")


def test_a_name_that_disagrees_with_exif_is_flagged_and_exif_wins() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:03:12 23:40:00"
    record = events(parse_all(image.PARSER, jpeg_bytes(exif=exif.tobytes()),
                              "IMG_20240312_221503.jpg"))[0]
    assert record.time.local == datetime(2024, 3, 12, 23, 40)
    assert "file_name_time_differs" in record.flags
    assert record.extra["file_name_time"] == "20240312_221503"


def test_an_impossible_exif_time_is_a_defect_and_the_name_is_used() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    record = events(parse_all(image.PARSER, jpeg_bytes(exif=exif.tobytes()),
                              "IMG_20240312_221503.jpg"))[0]
    assert record.time.local == datetime(2024, 3, 12, 22, 15, 3)
    assert "unreadable_time:exif:DateTimeOriginal" in record.defects


def test_a_rotated_photo_is_hashed_and_measured_as_displayed() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    found = parse_all(image.PARSER, jpeg_bytes((40, 30), exif=exif.tobytes()), "a.jpg")
    signature = facts(found)["perceptual_hash"]
    assert (signature["width"], signature["height"]) == (30, 40)
    assert signature["thumb_size"] == [24, 32]
    assert len(base64.b64decode(signature["thumb"])) == 24 * 32


def test_every_fact_is_plain_canonical_json() -> None:
    for path in sorted(IMAGES.rglob("*")):
        if path.suffix == ".py" or not path.is_file():
            continue
        found, _ = items_of(path.name, path.read_bytes())
        for fact in (i for i in found if isinstance(i, DerivedFact)):
            canonical_json.dumps(fact.value)


def test_png_text_is_bounded() -> None:
    info = PngInfo()
    info.add_text("Comment", "x" * 5000)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    value = facts(parse_all(image.PARSER, out.getvalue(), "note.png"))["png_text"]
    assert len(value["chunks"]["Comment"]) == 2000
    assert value["truncated"] == ["Comment"]


# -- damage ------------------------------------------------------------------------


def test_a_truncated_jpeg_keeps_its_exif_event_then_is_damaged() -> None:
    found, damage = items_of("truncated.jpg")
    assert damage is not None and "truncated" in str(damage)
    [record] = events(found)
    assert record.time.instant == datetime(2024, 3, 14, 8, 0, tzinfo=UTC)
    assert "image_data_damaged" in record.defects
    assert facts(found)["exif"]["model"] == "SM-S911B"
    assert "perceptual_hash" not in facts(found)


def test_a_decompression_bomb_is_refused_without_decoding() -> None:
    found, damage = items_of("huge_dimensions.png")
    assert damage is not None and "decompression bomb" in str(damage)
    assert events(found) == []


def test_bytes_that_only_start_like_a_jpeg_are_damaged_but_the_name_still_dates_them() -> None:
    found, damage = items_of("IMG-20240312-WA0001.jpg", b"\xff\xd8\xff\xe0 pretend jpeg")
    assert damage is not None and str(damage).startswith("damaged JPEG")
    [record] = events(found)
    assert (record.time.local, record.defects) == (datetime(2024, 3, 12), ("image_data_damaged",))


def test_exif_is_read_from_a_jpeg_pillow_cannot_open() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"
    whole = jpeg_bytes(exif=exif.tobytes())
    start_of_frame = whole.index(b"\xff\xc0")
    broken = whole[:start_of_frame] + b"\xff\xc0\x00\x02"  # a frame header with no frame
    found, damage = items_of("photo.jpg", broken)
    assert damage is not None
    assert events(found)[0].time.local == datetime(2024, 5, 1, 10, 0)


def test_a_png_larger_than_safe_to_decode_is_kept_without_a_hash() -> None:
    header = struct.pack(">IIBBBBB", 10_000, 8_000, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"")
            + chunk(b"IEND", b""))
    found, damage = items_of("Screenshot_20240312-221503.png", data)
    assert damage is None
    assert "not_decoded" in {n.code for n in notes(found)}
    assert events(found)[0].kind == "screenshot"
    assert "perceptual_hash" not in facts(found)


# -- file-name conventions ---------------------------------------------------------


@pytest.mark.parametrize(("name", "convention", "local", "channel", "screenshot"), [
    ("Screenshot_20240312-221503.png", "android_screenshot",
     datetime(2024, 3, 12, 22, 15, 3), None, True),
    ("Screenshot_20240720_020223_Jerboa.png", "android_screenshot",
     datetime(2024, 7, 20, 2, 2, 23), "jerboa", True),
    ("Screenshot_20240312-221503_WhatsApp~2.jpg", "android_screenshot",
     datetime(2024, 3, 12, 22, 15, 3), "whatsapp", True),
    ("Screenshot_2024-03-12-22-15-03-123_com.instagram.android.jpg", "android_screenshot",
     datetime(2024, 3, 12, 22, 15, 3, 123000), "instagram", True),
    ("Screenshot_2024-03-12-22-15-03-12_965bbf4d18d205f782c6b8409c5773a4.jpg",
     "android_screenshot", datetime(2024, 3, 12, 22, 15, 3, 120000), None, True),
    ("Screen Shot 2019-03-12 at 10.15.03 PM.png", "macos_screenshot",
     datetime(2019, 3, 12, 22, 15, 3), None, True),
    ("Screenshot 2023-03-12 at 10.15.03\u202fAM.png", "macos_screenshot",
     datetime(2023, 3, 12, 10, 15, 3), None, True),
    ("Bildschirmfoto 2024-03-12 um 22.15.03.png", "macos_screenshot",
     datetime(2024, 3, 12, 22, 15, 3), None, True),
    ("Screenshot 2024-03-12 221503 (2).png", "windows_screenshot",
     datetime(2024, 3, 12, 22, 15, 3), None, True),
    ("Screenshot from 2024-03-12 22-15-03.png", "linux_screenshot",
     datetime(2024, 3, 12, 22, 15, 3), None, True),
    ("Screenshot (12).png", "screenshot_without_time", None, None, True),
    ("Screenshot_20241399-221503.png", "screenshot_without_time", None, None, True),
    ("00000012-PHOTO-2024-03-12-22-16-05.jpg", "whatsapp_ios_media",
     datetime(2024, 3, 12, 22, 16, 5), "whatsapp", False),
    ("WhatsApp Image 2024-10-01 at 10.06.47 AM.jpeg", "whatsapp_desktop_media",
     datetime(2024, 10, 1, 10, 6, 47), "whatsapp", False),
    ("photo_1@12-03-2024_22-15-03.jpg", "telegram_export_media",
     datetime(2024, 3, 12, 22, 15, 3), "telegram", False),
    ("photo_2024-03-12_22-15-03.jpg", "telegram_media",
     datetime(2024, 3, 12, 22, 15, 3), "telegram", False),
    ("signal-2024-03-12-221503.jpg", "signal_media",
     datetime(2024, 3, 12, 22, 15, 3), "signal", False),
    ("received_123456789012345.jpeg", "messenger_media", None, "messenger", False),
    ("IMG_20240312_221503.jpg", "android_camera", datetime(2024, 3, 12, 22, 15, 3), None, False),
    ("20240312_221503.jpg", "samsung_camera", datetime(2024, 3, 12, 22, 15, 3), None, False),
    ("IMG_1234.HEIC", "ios_camera_roll", None, None, False),
])
def test_file_name_conventions(name: str, convention: str, local: datetime | None,
                               channel: str | None, screenshot: bool) -> None:
    info = read_name(name)
    assert info is not None
    assert (info.convention, info.local, info.channel, info.screenshot) == (
        convention, local, channel, screenshot)


def test_epoch_names_are_instants() -> None:
    facebook = read_name("FB_IMG_1710281703123.jpg")
    pixel = read_name("PXL_20240312_221503123.MP.jpg")
    assert facebook is not None and pixel is not None
    assert facebook.instant == datetime(2024, 3, 12, 22, 15, 3, 123000, tzinfo=UTC)
    assert pixel.instant == datetime(2024, 3, 12, 22, 15, 3, 123000, tzinfo=UTC)


@pytest.mark.parametrize("name", ["holiday.jpg", "Screenshots are fun.png", "IMG_12345.jpg"])
def test_other_names_follow_no_convention(name: str) -> None:
    assert read_name(name) is None

