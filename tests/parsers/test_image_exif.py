"""EXIF read by exifread: the tags read back exactly, damaged and crafted blocks kept quiet."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import exifread
import pytest
from PIL import Image

from parsers import image, image_exif
from tests.parsers.support import events, notes, parse_all
from tests.parsers.test_image import facts, items_of

NAME = "IMG_20240312_221503.jpg"  # the name dates the photo when its EXIF cannot


def camera_exif() -> Image.Exif:
    """A phone's EXIF: camera, editor, a time with offset and sub-seconds, a GPS fix."""
    exif = Image.Exif()
    exif[0x010F] = "Google"
    exif[0x0110] = "Pixel 8 café".encode()  # UTF-8, as phones write it
    exif[0x0131] = "Snapseed 2.22"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:03:12 22:40:05"
    sub[0x9011] = "-05:00"
    sub[0x9291] = "042"
    sub[0x9286] = b"ASCII\x00\x00\x00taken at the bus stop"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (53.0, 28.0, 48.6)
    gps[3], gps[4] = "W", (2.0, 14.0, 43.2)
    gps[5], gps[6] = b"\x01", 3.5  # below sea level
    gps[7], gps[29] = (3.0, 40.0, 5.0), "2024:03:13"
    return exif


def jpeg_with(exif_block: bytes, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "JPEG", exif=exif_block)
    return out.getvalue()


def tiff_of(exif: Image.Exif) -> bytes:
    block = exif.tobytes()
    assert block.startswith(b"Exif\x00\x00")
    return block[6:]


# -- read back -----------------------------------------------------------------------


def test_exifread_reads_time_offset_gps_and_software_exactly(monkeypatch) -> None:
    seen: list[str] = []
    real = exifread.process_file

    def spy(*args, **kwargs):
        tags = real(*args, **kwargs)
        seen.extend(tags)
        return tags

    monkeypatch.setattr(image_exif.exifread, "process_file", spy)
    found = parse_all(image.PARSER, jpeg_with(b"Exif\x00\x00" + tiff_of(camera_exif())), NAME)

    assert {"EXIF OffsetTimeOriginal", "GPS GPSLatitude", "Image Software"} <= set(seen)
    [record] = events(found)
    assert record.time.instant == datetime(2024, 3, 12, 22, 40, 5, 42000,
                                           tzinfo=timezone(timedelta(hours=-5)))
    assert record.time.text == "2024:03:12 22:40:05.042 -05:00"
    assert record.locator.json_path == "exif:DateTimeOriginal"
    assert "edited_by_software" in record.flags
    assert record.defects == ()
    # Pillow decodes EXIF text as Latin-1 ("cafÃ©"); exifread as UTF-8.
    assert (record.extra["camera_make"], record.extra["camera_model"]) == (
        "Google", "Pixel 8 café")
    value = facts(found)
    assert value["exif"] == {
        "make": "Google", "model": "Pixel 8 café", "software": "Snapseed 2.22",
        "datetime_original": "2024:03:12 22:40:05", "offset_time_original": "-05:00",
        "subsec_time_original": "042", "user_comment": "taken at the bus stop"}
    assert value["gps"] == {
        "latitude": 53.4801667, "longitude": -2.2453333, "altitude_m": -3.5,
        "timestamp_utc": "2024-03-13T03:40:05Z"}
    assert value["image_edited"]["software"] == "Snapseed 2.22"


def test_exif_that_exifreads_own_search_misses_is_read_from_the_block_pillow_finds() -> None:
    """WebP keeps bare TIFF in its EXIF chunk; a big ICC profile pushes a JPEG's APP1 far in."""
    exif = camera_exif()
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, "WEBP", exif=exif.tobytes())
    webp = out.getvalue()
    assert exifread.process_file(io.BytesIO(webp), details=False) == {}

    plain = jpeg_with(exif.tobytes())
    icc = b"\xff\xe2" + struct.pack(">H", 6002) + b"ICC_PROFILE\x00\x01\x01" + bytes(5986)
    app1 = plain.index(b"\xff\xe1")
    late_app1 = plain[:app1] + icc + plain[app1:]
    assert exifread.process_file(io.BytesIO(late_app1), details=False) == {}

    for data, name in ((webp, "sticker.webp"), (late_app1, "photo.jpg")):
        found = parse_all(image.PARSER, data, name)
        assert facts(found)["exif"]["offset_time_original"] == "-05:00"
        assert facts(found)["gps"]["latitude"] == 53.4801667


# -- damage --------------------------------------------------------------------------


def _cut_in_exif_ifd(tiff: bytes) -> bytes:
    (exif_ifd,) = struct.unpack(">I", tiff[tiff.index(b"\x87\x69\x00\x04") + 8:][:4])
    return tiff[:exif_ifd + 2 + 12 + 5]  # the second entry of the Exif IFD cut in two


def _exif_ifd_far_away(tiff: bytes) -> bytes:
    entry = tiff.index(b"\x87\x69\x00\x04")
    return tiff[:entry + 8] + struct.pack(">I", 0x7FFF_0000) + tiff[entry + 12:]


def _exif_ifd_pointer_without_value(tiff: bytes) -> bytes:
    entry = tiff.index(b"\x87\x69\x00\x04")
    return tiff[:entry + 4] + struct.pack(">I", 0) + tiff[entry + 8:]


@pytest.mark.parametrize(("damage", "problem"), [
    (_cut_in_exif_ifd, "is cut short by the end of the EXIF block"),
    (_exif_ifd_far_away, "lies outside the EXIF block"),
    (_exif_ifd_pointer_without_value, "exifread failed: IndexError"),
])
def test_damaged_exif_keeps_the_photo_and_records_the_defect(damage, problem, capfd) -> None:
    simple = Image.Exif()
    simple[0x010F] = "Samsung"
    simple.get_ifd(0x8769)[0x9003] = "2024:03:12 23:59:00"
    simple.get_ifd(0x8769)[0x9011] = "+00:00"
    data = jpeg_with(b"Exif\x00\x00" + damage(tiff_of(simple)))

    found, damaged = items_of(NAME, data)

    assert damaged is None  # the picture itself is fine
    [record] = events(found)
    assert "exif_damaged" in record.defects
    assert record.time.local == datetime(2024, 3, 12, 22, 15, 3)  # from the name
    [note] = [n for n in notes(found) if n.code == "exif_unreadable"]
    assert problem in note.message
    assert "perceptual_hash" in facts(found)
    assert capfd.readouterr() == ("", "")  # exifread's warnings are not printed


def test_a_value_cut_off_by_the_end_of_the_block_is_dropped_not_kept_truncated() -> None:
    simple = Image.Exif()
    simple[0x010F] = "Samsung"
    simple[0x0131] = "Snapseed 2.22"
    tiff = tiff_of(simple)
    found = image_exif.read_exif(b"", b"Exif\x00\x00" + tiff[:tiff.index(b"Snapseed") + 3])
    assert found.exif == {"make": "Samsung"}
    assert found.problem is not None and "Image tag 0x0131 points outside" in found.problem


def test_a_block_that_is_not_tiff_is_a_problem_not_an_error() -> None:
    found = image_exif.read_exif(b"", b"Exif\x00\x00not a tiff header at all")
    assert (found.exif, found.problem) == (
        {}, "the EXIF block is not a TIFF structure (no TIFF header)")


def test_a_crafted_block_cannot_keep_exifread_busy() -> None:
    many = 5000  # entries of 999 rationals each, all pointing at the same bytes
    table = b"".join(struct.pack(">HHII", 0x0131, 5, 999, 8) for _ in range(many))
    tiff = b"MM\x00*" + struct.pack(">IH", 8, many) + table + bytes(4)
    started = time.monotonic()
    found = image_exif.read_exif(b"", tiff)
    assert time.monotonic() - started < 10
    assert found.problem is not None and found.problem.startswith("exifread stopped")


def test_a_maker_note_exifread_chokes_on_costs_only_the_maker_note() -> None:
    """A Canon maker note claiming four billion bytes: read again without details."""
    make = b"Canon\x00"
    ifd0 = (struct.pack(">H", 2) + struct.pack(">HHII", 0x010F, 2, len(make), 38)
            + struct.pack(">HHII", 0x8769, 4, 1, 44) + bytes(4))
    exif_ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0x927C, 7, 0xFFFF_FFFF, 0) + bytes(4)
    tiff = b"MM\x00*" + struct.pack(">I", 8) + ifd0 + make + exif_ifd
    found = image_exif.read_exif(b"", tiff)
    assert found.exif == {"make": "Canon"}
    assert found.problem is not None and found.problem.startswith("exifread stopped")


def test_exifreads_warnings_never_reach_the_terminal() -> None:
    """Without a handler Python prints warnings to stderr; exifread warns on bad files."""
    script = (
        "from parsers.image_exif import read_exif\n"
        "found = read_exif(b'', b'MM\\x00*\\x00\\x00\\x00\\x08\\x00\\x03' + bytes(13))\n"
        "assert found.problem and 'Unexpected slice length' in found.problem\n"
        "read_exif(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(40))  # 'PNG file does not have exif'\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).parents[2], timeout=120, check=False)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_every_fixture_reads_as_before() -> None:
    """The fixtures' EXIF facts, as Pillow's reader gave them before exifread."""
    expected = {
        "IMG_0042.HEIC": {"make": "Apple", "model": "iPhone 15", "software": "17.4.1",
                          "datetime_original": "2024:03:10 21:45:00",
                          "datetime_digitized": "2024:03:10 21:45:00",
                          "offset_time_original": "-04:00", "offset_time_digitized": "-04:00",
                          "subsec_time_original": "031"},
        "holiday.jpg": {"make": "Canon", "model": "Canon EOS 2000D",
                        "datetime_original": "2024:01:20 14:05:09",
                        "datetime_digitized": "2024:01:20 14:05:09"},
        "truncated.jpg": {"make": "Samsung", "model": "SM-S911B",
                          "datetime_original": "2024:03:14 08:00:00",
                          "datetime_digitized": "2024:03:14 08:00:00",
                          "offset_time_original": "+00:00", "offset_time_digitized": "+00:00"},
    }
    for name, exif in expected.items():
        found, _ = items_of(name)
        assert facts(found)["exif"] == exif
        assert "exif_unreadable" not in {n.code for n in notes(found)}
        assert "exif_damaged" not in events(found)[0].defects
    found, _ = items_of("IMG_1234.PNG")  # a PNG eXIf chunk
    assert facts(found)["exif"] == {"user_comment": "Screenshot"}
