"""Reading the text of screenshots: real OCR on small generated chat screenshots
(tests/fixtures/screenshots, made by make_screenshots.py there)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from collector import ocr_engine
from collector.ocr_engine import OcrEngine, OcrUnavailable, check_image, engine_version
from evidence_store import cases, custody
from evidence_store.facts import iter_case_facts
from evidence_store.fuzzy_match import match_text
from evidence_store.store import open_store
from parsers import registry
from tests.cli_support import conduct, ingest_json, open_case

SCREENSHOTS = Path(__file__).parent / "fixtures" / "screenshots"
KNOWN = SCREENSHOTS / "Screenshot_20240312-221503_WhatsApp.png"
CONTACTS = SCREENSHOTS / "Screenshot_20240405-183000_WhatsApp.png"
# What make_screenshots.py drew on those two.
KNOWN_SENTENCES = ["I know where you live now, Alex.",
                   "Please stop messaging me or I will call the police."]
CONTACT_SENTENCES = ["Ring me on 07700 900461 tonight", "or mail zoe.ashford@example.org",
                     "Look at @sam_t and www.example.com/profile"]


def _squeezed(text: str) -> str:
    # OCR may lose a space between words ("wasparked"); compare without them.
    return match_text(text).replace(" ", "")


def _facts(store_dir: Path) -> list[dict]:
    store = open_store(store_dir)
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        facts = list(iter_case_facts(session, case.id))
    store.close()
    return facts


def _custody(store_dir: Path) -> list[tuple[str, str, dict]]:
    store = open_store(store_dir)
    with store.session() as session:
        entries = [(e.action, e.subject, json.loads(e.details))
                   for e in custody.entries_of(session, "case:OP-1")]
    store.close()
    return entries


def _of(facts: list[dict], exhibit: str, kind: str) -> list[dict]:
    return [f for f in facts if f["exhibit"] == exhibit and f["kind"] == kind]


def test_ingested_screenshots_are_read_and_what_they_show_is_kept(store_dir):
    open_case()
    code, report = ingest_json("OP-1", KNOWN, CONTACTS)
    assert code == 0, report
    assert report["ocr"]["read"] == 2 and report["ocr"]["failed"] == []
    facts = _facts(store_dir)
    source = f"rapidocr/{engine_version()}"

    [text] = _of(facts, "JS/1", "ocr_text")
    for sentence in KNOWN_SENTENCES:
        assert _squeezed(sentence) in _squeezed(text["value"]["text"])
    assert (text["source"], text["event_seq"]) == (source, None)
    assert text["value"]["engine"].startswith("rapidocr-onnxruntime")
    [words] = _of(facts, "JS/1", "ocr_words")
    assert len(words["value"]["lines"]) == len(text["value"]["text"].splitlines())
    first = words["value"]["lines"][0]
    assert len(first["box"]) == 4 and 0 < first["confidence"] <= 1

    times = {f["value"]["raw"] for f in _of(facts, "JS/1", "visible_time")}
    assert {"22:14", "22:15", "12 March 2024"} <= times
    [day] = [f for f in _of(facts, "JS/1", "visible_time") if f["value"]["raw"] == "12 March 2024"]
    assert day["value"]["date"] == "2024-03-12"
    [header] = _of(facts, "JS/1", "visible_name")
    assert (header["value"]["raw"], header["value"]["role"]) == ("Sam Taylor", "chat_header")

    [other] = _of(facts, "JS/2", "ocr_text")
    for sentence in CONTACT_SENTENCES:
        assert _squeezed(sentence) in _squeezed(other["value"]["text"])
    assert [f["value"]["e164"] for f in _of(facts, "JS/2", "visible_phone")] == ["+447700900461"]
    assert [f["value"]["address"] for f in _of(facts, "JS/2", "visible_email")] == [
        "zoe.ashford@example.org"]
    assert [f["value"]["handle"] for f in _of(facts, "JS/2", "visible_handle")] == ["sam_t"]
    assert [f["value"]["url"] for f in _of(facts, "JS/2", "visible_url")] == [
        "https://www.example.com/profile"]
    # The accent of "Zoë" is lost by OCR; the name is kept as read.
    assert [f["value"]["folded"] for f in _of(facts, "JS/2", "visible_name")] == ["zoe ashford"]

    ocr_entries = [(subject, details) for action, subject, details in _custody(store_dir)
                   if action == "ocr"]
    assert [subject for subject, _ in ocr_entries] == ["JS/1", "JS/2"]
    assert all(details["engine"] == source and details["lines"] > 5
               for _, details in ocr_entries)

    # Running it again reads nothing twice and writes nothing new.
    again = conduct("ocr", "OP-1", "--json")
    assert again.exit_code == 0, again.output
    assert (json.loads(again.stdout)["read"], json.loads(again.stdout)["already_read"]) == (0, 2)
    assert len(_facts(store_dir)) == len(facts)
    assert [a for a, _, _ in _custody(store_dir)].count("ocr") == 2


def test_visible_names_and_numbers_name_the_persons_of_the_case(store_dir):
    open_case()
    assert conduct("person", "add", "OP-1", "Sam Taylor", "--role", "suspect",
                   "--id", "07700 900461", "--id", "instagram:sam_t").exit_code == 0
    code, _ = ingest_json("OP-1", CONTACTS, extra=("--no-ocr",))
    assert code == 0
    assert _of(_facts(store_dir), "JS/1", "ocr_text") == []
    # A person recorded after the screenshot was read is matched on the next run.
    assert conduct("ocr", "OP-1").exit_code == 0
    assert conduct("person", "add", "OP-1", "Zoë Ashford", "--role", "witness",
                   "--id", "zoe.ashford@example.org").exit_code == 0
    assert conduct("ocr", "OP-1").exit_code == 0
    matches = {(f["value"]["person"], f["value"]["via"], f["value"]["identifier"])
               for f in _of(_facts(store_dir), "JS/1", "visible_person")}
    assert matches == {
        ("Sam Taylor", "phone", "+447700900461"),
        ("Sam Taylor", "handle", "instagram:sam_t"),
        ("Zoë Ashford", "email", "zoe.ashford@example.org"),
        ("Zoë Ashford", "name", None),  # "Zoe Ashford" in the header, accent lost
    }


def test_images_no_parser_claims_are_read_too_and_a_broken_one_is_one_line(
        store_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "PARSERS",
                        tuple(p for p in registry.PARSERS if p.name != "image"))
    broken = tmp_path / "broken.png"
    # A sound header (so it is taken for a PNG) and pixel data cut short.
    broken.write_bytes(_png_header(200, 300) + b"\x00\x00\x01\x00IDAT" + b"\x78\x9c" * 20)
    open_case()
    result = conduct("ingest", "OP-1", KNOWN, broken)
    assert "OCR: 1 image(s) read, 1 unreadable" in result.stdout
    assert "JS/2: OCR: not a readable image" in result.stdout
    facts = _facts(store_dir)
    assert _of(facts, "JS/1", "ocr_text")
    [failed] = _of(facts, "JS/2", "ocr_failed")
    assert failed["value"]["error"].startswith("not a readable image")
    actions = [(a, s) for a, s, _ in _custody(store_dir)]
    assert ("ocr", "JS/1") in actions and ("ocr_failed", "JS/2") in actions
    # A failure is not retried on every run.
    assert json.loads(conduct("ocr", "OP-1", "--json").stdout)["already_read"] == 2


# -- the engine itself ---------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    return OcrEngine()


def test_the_engine_opens_only_models_shipped_inside_its_package():
    import rapidocr_onnxruntime

    package = Path(rapidocr_onnxruntime.__file__).resolve().parent
    paths = ocr_engine.model_paths()
    assert set(paths) == {"det", "rec"}
    assert all(path.is_file() and package in path.parents for path in paths.values())


def test_a_missing_model_is_an_error_not_a_download(monkeypatch):
    monkeypatch.setitem(ocr_engine._MODELS, "rec", "not_shipped.onnx")
    with pytest.raises(OcrUnavailable, match=r"not_shipped\.onnx"):
        OcrEngine()


def test_a_photo_turned_by_its_exif_orientation_is_read_upright(engine):
    upright = Image.open(KNOWN).convert("RGB")
    # Stored on its side, as a camera does, with the tag saying how to turn it back.
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", quality=95, exif=exif)
    text = engine.read(buffer.getvalue()).text
    for sentence in KNOWN_SENTENCES:
        assert _squeezed(sentence) in _squeezed(text)


def test_lines_come_in_reading_order_with_boxes_in_original_pixels(engine):
    result = engine.read(KNOWN.read_bytes())
    assert (result.width, result.height) == (540, 1000)
    texts = [_squeezed(line.text) for line in result.lines]
    # As drawn: the status bar (clock left, battery right), the header, the date,
    # then each bubble and its time.
    drawn = ["22:15", "87%", "Sam Taylor", "online", "12 March 2024", "I know where you live",
             "22:14", "Please stop messaging", "call the police", "22:15", "Message"]
    positions = []
    for want in map(_squeezed, drawn):
        start = positions[-1] + 1 if positions else 0
        positions.append(next(i for i in range(start, len(texts)) if want in texts[i]))
    assert positions == sorted(positions)
    assert all(0 <= x <= 540 and 0 <= y <= 1000 for line in result.lines for x, y in line.box)
    # The battery sits right of the clock on the same row.
    clock, battery = result.lines[positions[0]], result.lines[positions[1]]
    assert abs(clock.top - battery.top) < clock.bottom - clock.top < battery.left - clock.left


def _png_header(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize(("side", "says"), [(8_000, "too large to read"),
                                            (30_000, "DecompressionBombError")])
def test_an_image_claiming_huge_dimensions_is_refused_before_decoding(tmp_path, side, says):
    bomb = tmp_path / "bomb.png"
    # 100 bytes on disk that would decode to gigabytes.
    bomb.write_bytes(_png_header(side, side) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + _chunk(b"IEND", b""))
    problem = check_image(bomb)
    assert problem is not None and says in problem


def test_without_its_model_the_stage_says_so_in_one_line_and_reads_nothing(
        store_dir, monkeypatch):
    open_case()
    assert ingest_json("OP-1", KNOWN, extra=("--no-ocr",))[0] == 0
    monkeypatch.setitem(ocr_engine._MODELS, "det", "not_shipped.onnx")
    result = conduct("ocr", "OP-1")
    assert result.exit_code == 1
    assert result.stdout.startswith("OCR not run: OCR model missing from the installed package")
    assert "Traceback" not in result.output
    assert [f for f in _facts(store_dir) if f["kind"].startswith("ocr_")] == []
