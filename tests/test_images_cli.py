"""Screenshots and photos through the real CLI: stored, parsed, in the timeline in UTC."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

from tests.cli_support import conduct, ingest_json, open_case, timeline_json
from tests.parsers.support import FIXTURES

IMAGES = FIXTURES / "images"
NAMES = (
    "Screenshot_20240312-221503_Instagram.jpg", "IMG_1234.PNG", "IMG_20240714_093012.jpg",
    "IMG_0042.HEIC", "holiday.jpg", "edited.jpg", "IMG-20240312-WA0001.jpg",
    "desktop capture.png",
)


def _folder(tmp_path, names=NAMES):
    folder = tmp_path / "phone"
    folder.mkdir()
    for name in names:
        shutil.copyfile(IMAGES / name, folder / name)
    return folder


def _by_name(events):
    return {e["attachments"][0]["name"]: e for e in events}


def test_images_become_timeline_events_in_utc(store_dir, tmp_path):
    open_case(timezone="Europe/London")
    code, report = ingest_json("OP-1", _folder(tmp_path), extra=("--no-ocr",))
    assert code == 0
    assert {(e["format"], e["status"], e["events"]) for e in report["exhibits"]} == {
        ("image", "parsed", 1)}
    events = _by_name(timeline_json())
    expected = {
        "Screenshot_20240312-221503_Instagram.jpg": (
            "2024-03-12T22:15:03Z", "screenshot", "instagram", "Europe/London"),
        "IMG_1234.PNG": ("2024-03-13T07:01:09Z", "screenshot", "screenshot", "Europe/London"),
        "IMG_20240714_093012.jpg": (
            "2024-07-14T08:30:12.250000Z", "photo", "photo", "UTC+01:00"),
        "IMG_0042.HEIC": ("2024-03-11T01:45:00.031000Z", "photo", "photo", "UTC-04:00"),
        "holiday.jpg": ("2024-01-20T14:05:09Z", "photo", "photo", "Europe/London"),
        "edited.jpg": ("2024-02-02T18:00:00Z", "photo", "photo", "UTC+00:00"),
        "IMG-20240312-WA0001.jpg": ("2024-03-12T00:00:00Z", "photo", "whatsapp", "Europe/London"),
        "desktop capture.png": ("2024-03-12T22:15:03Z", "screenshot", "screenshot", "UTC+00:00"),
    }
    assert {name: (e["occurred_at"], e["kind"], e["channel"], e["time_zone"])
            for name, e in events.items()} == expected
    assert events["IMG-20240312-WA0001.jpg"]["precision"] == "day"
    assert "day_precision" in events["IMG-20240312-WA0001.jpg"]["time_flags"]
    assert events["edited.jpg"]["flags"] == ["edited_by_software"]
    assert events["IMG_20240714_093012.jpg"]["local_time"] == "2024:07:14 09:30:12.250 +01:00"
    assert all(e["text"] is None and e["parser"] == "image/1.1.0" for e in events.values())


def test_wall_clock_times_follow_the_case_zone(store_dir, tmp_path):
    open_case(timezone="America/New_York")
    ingest_json("OP-1", _folder(tmp_path, ("holiday.jpg", "IMG_0042.HEIC")),
                extra=("--no-ocr",))
    events = _by_name(timeline_json())
    # EXIF without an offset is New York wall-clock time; a stated offset is kept.
    assert events["holiday.jpg"]["occurred_at"] == "2024-01-20T19:05:09Z"
    assert events["IMG_0042.HEIC"]["occurred_at"] == "2024-03-11T01:45:00.031000Z"


def test_an_untimed_image_from_disk_is_dated_by_its_file_and_says_so(store_dir, tmp_path):
    open_case()
    folder = _folder(tmp_path, ("IMG_5678.PNG",))
    moment = datetime(2024, 3, 14, 9, 0, 5, tzinfo=UTC).timestamp()
    os.utime(folder / "IMG_5678.PNG", (moment, moment))
    code, _ = ingest_json("OP-1", folder, extra=("--no-ocr",))
    assert code == 0
    [event] = timeline_json()
    assert (event["occurred_at"], event["time_basis"], event["kind"]) == (
        "2024-03-14T09:00:05Z", "file_modified", "screenshot")
    assert "time_from_file_modified" in event["flags"]


def test_an_untimed_image_inside_an_archive_has_no_event_but_its_facts(store_dir, tmp_path):
    open_case()
    archive = shutil.make_archive(str(tmp_path / "upload"), "zip",
                                  _folder(tmp_path, ("IMG_5678.PNG",)))
    code, report = ingest_json("OP-1", archive, extra=("--no-ocr",))
    [child] = report["exhibits"][0]["children"]
    assert (code, child["format"], child["status"], child["events"]) == (0, "image", "parsed", 0)
    assert timeline_json() == []


def test_a_damaged_image_fails_alone_and_keeps_what_could_be_read(store_dir, tmp_path):
    open_case()
    folder = _folder(tmp_path, ("truncated.jpg", "huge_dimensions.png", "holiday.jpg"))
    code, report = ingest_json("OP-1", folder, extra=("--no-ocr",))
    assert code == 1
    status = {e["name"]: (e["status"], e["events"]) for e in report["exhibits"]}
    # The bomb is never decoded; its only time is the file's own.
    assert status == {"truncated.jpg": ("failed", 1), "huge_dimensions.png": ("failed", 1),
                      "holiday.jpg": ("parsed", 1)}
    errors = {e["name"]: e["error"] for e in report["exhibits"]}
    assert "truncated" in errors["truncated.jpg"]
    assert "decompression bomb" in errors["huge_dimensions.png"]
    assert "\n" not in errors["huge_dimensions.png"]
    by_exhibit = {e["exhibit"]: e for e in timeline_json()}
    assert by_exhibit["JS/3"]["defects"] == ["image_data_damaged"]  # truncated.jpg
    assert by_exhibit["JS/2"]["time_basis"] == "file_modified"  # huge_dimensions.png


def test_the_event_view_shows_the_images_facts(store_dir, tmp_path):
    open_case()
    ingest_json("OP-1", _folder(tmp_path, ("IMG_20240714_093012.jpg",)), extra=("--no-ocr",))
    [event] = timeline_json()
    detail = json.loads(conduct("event", "OP-1", str(event["id"])).stdout)
    kinds = {f["kind"]: f for f in detail["facts"]}
    assert {"exif", "gps", "perceptual_hash"} <= set(kinds)
    assert kinds["gps"]["value"]["latitude"] == 51.5014
    assert kinds["exif"]["locator"] == {"json_path": "exif", "member": "IMG_20240714_093012.jpg"}
    assert kinds["exif"]["source"] == "image/1.1.0"
