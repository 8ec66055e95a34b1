"""Near-duplicate images: re-saved copies and crops grouped, different screens kept apart."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import func, select

from evidence_store import cases, custody
from evidence_store.models import Blob, Exhibit, Fact
from evidence_store.near_duplicates import (
    FACT_KIND,
    SOURCE,
    near_duplicate_groups,
    record_near_duplicates,
)
from evidence_store.store import open_store
from tests.cli_support import conduct, ingest_json, open_case, timeline_json
from tests.parsers.support import FIXTURES

NEAR = FIXTURES / "images" / "near_duplicates"
ORIGINAL = "Screenshot_20240312-221503.png"
SENT_ON = "IMG-20240313-WA0007.jpg"  # the same screen, smaller and re-compressed
TRIMMED = "Screenshot_20240312-221503~2.png"  # top and bottom cut off in the phone's editor
ONE_FEWER = "Screenshot_20240312-221650.png"  # the same chat with one message fewer
OTHER = "Screenshot_20240312-221710.png"  # a different conversation


def _ingest(tmp_path, names, folder="batch"):
    target = tmp_path / folder
    target.mkdir()
    for name in names:
        shutil.copyfile(NEAR / name, target / name)
    code, report = ingest_json("OP-1", target, extra=("--no-ocr",))
    assert code == 0
    return {e["name"]: e["ref"] for e in report["exhibits"]}


@pytest.fixture
def opened(store_dir):
    open_case()
    store = open_store(store_dir)
    yield store
    store.close()


def _groups(store):
    with store.session() as session:
        return near_duplicate_groups(session, cases.get_case(session, "OP-1"), store.blobs)


def _facts(store):
    with store.session() as session:
        rows = session.execute(select(Fact.exhibit_id, Fact.value).where(
            Fact.kind == FACT_KIND, Fact.source == SOURCE)).all()
    return [(exhibit_id, json.loads(value)) for exhibit_id, value in rows]


def test_a_resaved_copy_and_a_crop_are_grouped_and_other_screens_are_not(opened, tmp_path):
    refs = _ingest(tmp_path, (ORIGINAL, SENT_ON, TRIMMED, ONE_FEWER, OTHER))
    [group] = _groups(opened)
    assert set(group.exhibits) == {refs[ORIGINAL], refs[SENT_ON], refs[TRIMMED]}
    links = {(link.first, link.second): link for link in group.links}
    copy = links[(refs[ORIGINAL], refs[SENT_ON])]
    assert copy.relation == "near_duplicate"
    assert copy.phash_distance <= 8 and copy.differing <= 0.005
    crop = links[(refs[ORIGINAL], refs[TRIMMED])]
    assert crop.relation == "crop"
    assert crop.box == (0, 150, 360, 410)  # where make_images.py cut it
    assert crop.score is not None and crop.score > 0.99


def test_the_links_are_recorded_as_facts_on_both_exhibits(opened, tmp_path):
    refs = _ingest(tmp_path, (ORIGINAL, SENT_ON, TRIMMED, OTHER))
    relations = {(v["relation"], v["with"]) for _, v in _facts(opened)}
    assert relations == {
        ("near_duplicate", refs[SENT_ON]), ("near_duplicate", refs[ORIGINAL]),
        ("has_crop", refs[TRIMMED]), ("crop_of", refs[ORIGINAL]),
    }
    crop_of = next(v for _, v in _facts(opened) if v["relation"] == "crop_of")
    assert crop_of["box_in_original"] == [0, 150, 360, 410]
    # The officer sees them with the original's event.
    [event] = [e for e in timeline_json() if e["exhibit"] == refs[ORIGINAL]]
    detail = json.loads(conduct("event", "OP-1", str(event["id"])).stdout)
    shown = {(f["value"]["relation"], f["value"]["with"], f["source"])
             for f in detail["facts"] if f["kind"] == FACT_KIND}
    assert shown == {("near_duplicate", refs[SENT_ON], SOURCE),
                     ("has_crop", refs[TRIMMED], SOURCE)}


def test_recording_twice_adds_nothing_and_logs_once(opened, tmp_path):
    _ingest(tmp_path, (ORIGINAL, SENT_ON, TRIMMED))
    before = _facts(opened)
    with opened.session() as session:
        case = cases.get_case(session, "OP-1")
        assert record_near_duplicates(session, case, opened.blobs, "test-officer") == 0
    with opened.session() as session:
        logged = [e for e in custody.entries_of(session, "case:OP-1")
                  if e.action == "near_duplicates_found"]
    assert _facts(opened) == before and len(before) == 4
    assert len(logged) == 1


def test_a_later_batch_adds_only_the_new_links(opened, tmp_path):
    _ingest(tmp_path, (TRIMMED, OTHER), folder="first")
    assert _facts(opened) == []
    # The original arrives after its crop: the old crop is compared with it.
    refs = _ingest(tmp_path, (ORIGINAL,), folder="second")
    assert {v["relation"] for _, v in _facts(opened)} == {"crop_of", "has_crop"}
    _ingest(tmp_path, (SENT_ON,), folder="third")
    with opened.session() as session:
        count = session.scalar(select(func.count()).select_from(Fact).where(
            Fact.kind == FACT_KIND))
    assert count == 4
    assert {v["with"] for _, v in _facts(opened) if v["relation"] == "near_duplicate"} == {
        refs[ORIGINAL], "JS/4"}


def test_without_the_originals_only_thumbnail_matches_are_reported(opened, tmp_path):
    _ingest(tmp_path, (ORIGINAL, SENT_ON, TRIMMED))
    with opened.session() as session:
        [group] = near_duplicate_groups(session, cases.get_case(session, "OP-1"))
    assert {link.relation for link in group.links} == {"near_duplicate"}


def _chat_like(rng):
    """A 24 x 52 thumbnail of a chat screen: header, low-contrast bubbles left and
    right on a beige background, as a phone's chat app draws them."""
    thumb = np.full((52, 24), 229, dtype=np.int16)
    thumb[:5] = 40
    y = 6
    while y < 48:
        height, width = int(rng.integers(2, 4)), int(rng.integers(6, 22))
        left = rng.random() < 0.6
        x = 1 if left else 23 - width
        thumb[y:y + height, x:x + width] = (250 if left else 236) - rng.integers(
            0, 25, (height, width))
        y += height + int(rng.integers(1, 3))
    thumb[49:] = 245
    return thumb


def _signature(thumb, phash, width=1170, height=2532):
    pixels = np.clip(thumb, 0, 255).astype(np.uint8)
    return {
        "phash": f"{phash:016x}", "dhash": f"{phash:016x}", "width": width, "height": height,
        "thumb_size": [24, pixels.shape[0]],
        "thumb": base64.b64encode(pixels.tobytes()).decode("ascii"),
    }


def test_thousands_of_signatures_find_exactly_the_planted_copies(opened):
    """1,500 chat screens of one phone, all within a few bits of pHash of each other
    (one aspect bucket and every pair a candidate: the hardest case), and 20 planted
    re-saved copies: every copy found, nothing else."""
    rng = np.random.default_rng(7)
    base = int(rng.integers(0, 2**62))
    with opened.session() as session:
        case = cases.get_case(session, "OP-1")
        originals = []
        for number in range(1, 1521):
            sha = f"{number:064x}"
            session.add(Blob(sha256=sha, size=1, media_type="image/png",
                             stored_at=datetime.now(UTC)))
            exhibit = Exhibit(case_id=case.id, ref=f"JS/{number}", sha256=sha,
                              original_name=f"{number}.png", size=1, media_type="image/png",
                              status="parsed", received_by="t", received_at=datetime.now(UTC),
                              description="test", notes="[]")
            session.add(exhibit)
            session.flush()
            if number <= 1500:
                phash = base ^ (1 << int(rng.integers(0, 64))) ^ (1 << int(rng.integers(0, 64)))
                thumb = _chat_like(rng)
                originals.append((thumb, phash))
                value = _signature(thumb, phash)
            else:
                thumb, phash = originals[number - 1501]
                value = _signature(thumb + rng.integers(-3, 4, thumb.shape), phash ^ 1,
                                   width=739, height=1599)
            session.add(Fact(case_id=case.id, exhibit_id=exhibit.id, event_seq=None,
                             kind="perceptual_hash", value=json.dumps(value), locator="{}",
                             source="image/1.0.0"))
    with opened.session() as session:
        groups = near_duplicate_groups(session, cases.get_case(session, "OP-1"))
    assert sorted(g.exhibits for g in groups) == sorted(
        (f"JS/{n}", f"JS/{n + 1500}") for n in range(1, 21))


def _chat_screenshot(layout_seed, text_seed, size=(360, 760)):
    """A chat screen as a phone draws it: dark header, bubbles left and right on a
    beige background, lines of dark 'words' in them. The same ``layout_seed`` gives the
    same bubbles; ``text_seed`` decides what is written in them."""
    from PIL import Image, ImageDraw

    layout, text = np.random.default_rng(layout_seed), np.random.default_rng(text_seed)
    width, height = size
    screen = Image.new("RGB", size, (236, 229, 221))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, width, 56), fill=(7, 94, 84))
    y = 70
    while y < height - 60:
        lines = int(layout.integers(1, 4))
        bubble_width = int(layout.integers(120, width - 70))
        left = layout.random() < 0.55
        x = 12 if left else width - 12 - bubble_width
        bottom = y + 14 + 18 * lines
        draw.rounded_rectangle((x, y, x + bubble_width, bottom), radius=8,
                               fill=(255, 255, 255) if left else (220, 248, 198))
        for line in range(lines):
            word_x = x + 10
            while word_x < x + bubble_width - 40:
                word = int(text.integers(12, 45))
                draw.rectangle((word_x, y + 10 + 18 * line, word_x + word,
                                y + 20 + 18 * line), fill=(40, 40, 40))
                word_x += word + 7
        y = bottom + int(layout.integers(8, 20))
    draw.rectangle((0, height - 50, width, height), fill=(245, 245, 245))
    return screen


def _write_screens(folder, screens):
    folder.mkdir()
    for name, image in screens.items():
        if name.endswith(".jpg"):
            image.save(folder / name, quality=80)
        else:
            image.save(folder / name)


def _ingest_screens(tmp_path, screens):
    _write_screens(tmp_path / "screens", screens)
    code, report = ingest_json("OP-1", tmp_path / "screens", extra=("--no-ocr",))
    assert code == 0
    return {e["name"]: e["ref"] for e in report["exhibits"]}


SIDE_BOX = (40, 130, 260, 430)  # x, y, width, height in the original


def _cut(image, box):
    x, y, width, height = box
    return image.crop((x, y, x + width, y + height))


def test_a_crop_trimmed_on_all_four_sides_is_found_where_it_was_cut(opened, tmp_path):
    screen = _chat_screenshot(1, 1)
    refs = _ingest_screens(tmp_path, {
        "Screenshot_20240401-101500.png": screen,
        "Screenshot_20240401-101500~2.png": _cut(screen, SIDE_BOX),
        "IMG-20240401-WA0003.jpg": _cut(screen, SIDE_BOX),  # the crop, sent on as JPEG
    })
    [group] = _groups(opened)
    assert set(group.exhibits) == set(refs.values())
    links = {(link.first, link.second): link for link in group.links}
    original = refs["Screenshot_20240401-101500.png"]
    for name in ("Screenshot_20240401-101500~2.png", "IMG-20240401-WA0003.jpg"):
        crop = links[(original, refs[name])]
        assert (crop.relation, crop.crop, crop.box) == ("crop", "sides", SIDE_BOX)
        assert crop.score is not None and crop.score > 0.99
    crop_of = [v for _, v in _facts(opened) if v["relation"] == "crop_of"]
    assert {(v["with"], tuple(v["box_in_original"]), v["crop"]) for v in crop_of} == {
        (original, SIDE_BOX, "sides")}
    assert len(crop_of) == 2


def test_a_side_crop_of_another_screen_of_the_same_layout_is_not_linked(opened, tmp_path):
    # The same bubbles, other words in them: the thumbnails agree, the pixels do not.
    _ingest_screens(tmp_path, {
        "Screenshot_20240401-101500.png": _chat_screenshot(1, 1),
        "Screenshot_20240401-101730~2.png": _cut(_chat_screenshot(1, 2), SIDE_BOX),
    })
    assert _groups(opened) == []


def test_a_narrow_strip_is_too_little_to_link(opened, tmp_path):
    screen = _chat_screenshot(1, 1)
    _ingest_screens(tmp_path, {
        "Screenshot_20240401-101500.png": screen,
        "Screenshot_20240401-101500~3.png": _cut(screen, (20, 130, 130, 430)),
    })
    assert _groups(opened) == []
