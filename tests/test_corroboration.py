"""Screenshots checked against the exports: linked to the very messages they show,
or shown as uncorroborated (and kept) when no export holds the conversation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from collector.intake import IngestOptions, Ingestor
from collector.ocr_engine import OcrLine, OcrResult
from collector.ocr_stage import ocr_facts
from evidence_store import cases, custody
from evidence_store.corroboration import (
    CorroborationSettings,
    Window,
    _Screen,
    corroborate_case,
    windows,
)
from evidence_store.facts import FactWriter, iter_case_facts
from evidence_store.models import Exhibit
from evidence_store.store import open_store
from parsers import registry
from tests.cli_support import conduct, ingest_json, open_case, timeline_json

SCREENSHOTS = Path(__file__).parent / "fixtures" / "screenshots"
KNOWN = SCREENSHOTS / "Screenshot_20240312-221503_WhatsApp.png"
UNKNOWN = SCREENSHOTS / "Screenshot_20240401-090000_Messages.png"

# The export that two of KNOWN's messages come from. The first line says the same
# words eleven days earlier: only the one of the day the screenshot shows is linked.
CHAT = (
    "01/03/2024, 20:00 - Sam Taylor: I know where you live now, Alex.\n"
    "12/03/2024, 22:10 - Sam Taylor: Did you get home from the station?\n"
    "12/03/2024, 22:14 - Sam Taylor: I know where you live now, Alex.\n"
    "12/03/2024, 22:15 - Alex: Please stop messaging me or I will call the police.\n"
    "12/03/2024, 22:20 - Sam Taylor: You won't.\n"
)


def _chat(tmp_path: Path, text: str = CHAT, name: str = "chat.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _facts(store_dir: Path, exhibit: str) -> list[dict]:
    store = open_store(store_dir)
    with store.session() as session:
        facts = [f for f in iter_case_facts(session, cases.get_case(session, "OP-1").id)
                 if f["exhibit"] == exhibit]
    store.close()
    return facts


def _actions(store_dir: Path) -> list[tuple[str, str]]:
    store = open_store(store_dir)
    with store.session() as session:
        entries = [(e.action, e.subject) for e in custody.entries_of(session, "case:OP-1")]
    store.close()
    return entries


def test_a_screenshot_is_linked_to_exactly_the_exported_messages_it_shows(store_dir, tmp_path):
    open_case()
    # Screenshots first: nothing to compare them with yet.
    code, report = ingest_json("OP-1", KNOWN, UNKNOWN)
    assert code == 0, report
    assert report["ocr"]["corroboration"]["uncorroborated"] == 2
    # The export arrives later; the earlier screenshot is checked again.
    code, report = ingest_json("OP-1", _chat(tmp_path))
    assert code == 0, report
    assert report["ocr"]["corroboration"] == {
        "screenshots": 2, "corroborated": 1, "partly_corroborated": 0, "uncorroborated": 1}

    events = {e["text"]: e for e in timeline_json() if e["exhibit"] == "JS/3"}
    shown = [events["I know where you live now, Alex."],
             events["Please stop messaging me or I will call the police."]]
    assert [e["occurred_at"] for e in shown] == ["2024-03-12T22:14:00Z", "2024-03-12T22:15:00Z"]
    links = [f["value"] for f in _facts(store_dir, "JS/1") if f["kind"] == "corroborated_by"]
    assert [link["event_id"] for link in links] == [e["id"] for e in shown]
    assert all(link["exhibit"] == "JS/3" and link["channel"] == "whatsapp" and
               link["score"] >= 90 and link["time_agrees"] for link in links)
    assert [link["locator"]["line"] for link in links] == [3, 4]
    assert [[seg["text"] for seg in link["ocr_lines"]] for link in links] == [
        ["I know where you live now, Alex."],
        ["Please stop messaging me or I will call the police."]]
    [verdict] = [f["value"] for f in _facts(store_dir, "JS/1") if f["kind"] == "corroboration"]
    assert (verdict["verdict"], verdict["unmatched"]) == ("corroborated", [])

    unknown = {f["kind"]: f["value"] for f in _facts(store_dir, "JS/2")}
    assert unknown["uncorroborated"]["reason"] == "no export contains this conversation"
    assert unknown["corroboration"]["verdict"] == "uncorroborated"
    assert "corroborated_by" not in unknown
    # Kept, not dropped: the exhibit and everything read from it stay in the case.
    assert "How do you know what car I drive?" in unknown["ocr_text"]["text"]

    # Idempotent: nothing changed, so nothing is rewritten or logged again.
    before = _actions(store_dir)
    assert conduct("ocr", "OP-1").exit_code == 0
    assert _actions(store_dir) == before
    assert before.count(("corroborated", "JS/1")) == 2  # uncorroborated, then corroborated


# -- matching rules, on OCR results written by hand (no OCR needed) -----------------------


@pytest.fixture
def case_store(store, monkeypatch):
    # No parser for images here: the screenshots' capture time is then unknown, and
    # the windows come from the dates they show.
    monkeypatch.setattr(registry, "PARSERS",
                        tuple(p for p in registry.PARSERS if p.name != "image"))
    with store.session() as session:
        cases.create_case(session, "OP-1", "Screens", "DC Jo Smith", "JS")
    return store


def _ingest(store, *paths: Path) -> None:
    Ingestor(store, "OP-1", IngestOptions(received_by="DC Jo Smith")).ingest_paths(list(paths))


def _screenshot(store, tmp_path: Path, name: str, lines: list[str]) -> str:
    """An image exhibit whose OCR reading is ``lines``, one per row, 40 px apart."""
    path = tmp_path / name
    Image.new("RGB", (60, 60), (len(name) * 7 % 255, 200, 10)).save(path)
    _ingest(store, path)
    ocr_lines = []
    y = 300
    for text in lines:
        ocr_lines.append(OcrLine(text, ((40, y), (500, y), (500, y + 30), (40, y + 30)), 0.98))
        y += 40 if text.endswith("\u2026") else 70  # a wrapped line continues its bubble
    result = OcrResult(tuple(ocr_lines), "rapidocr", "test", 1080, 2340, 0.5)
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        exhibit = session.query(Exhibit).filter_by(case_id=case.id, original_name=name).one()
        writer = FactWriter(session, case.id, exhibit.id, "rapidocr/test")
        writer.add_all(ocr_facts(result, "rapidocr test", "GB"), None)
        writer.flush()
        return exhibit.ref


def _corroborate(store, **settings):
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        return corroborate_case(session, case, "DC Jo Smith", CorroborationSettings(**settings))


def _kinds(store, ref: str) -> dict[str, list[dict]]:
    with store.session() as session:
        found: dict[str, list[dict]] = {}
        for fact in iter_case_facts(session, cases.get_case(session, "OP-1").id):
            if fact["exhibit"] == ref:
                found.setdefault(fact["kind"], []).append(fact["value"])
        return found


def _event_ids(store) -> dict[tuple[str, str], int]:
    from evidence_store.timeline import iter_events

    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        return {(e["occurred_at"], e["text"]): e["id"] for e in iter_events(session, case)}


def test_ocr_misreadings_and_wrapped_bubbles_still_match(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path))
    ref = _screenshot(case_store, tmp_path, "a.png", [
        "12 March 2024",
        "I knovv where you Iive now, AIex.",         # typical OCR slips
        "22:14",
        "Please stop messaging me or I wi11\u2026",   # wrapped over two lines
        "call the po1ice.",
        "22:15",
    ])
    report = _corroborate(case_store)
    assert (report.corroborated, report.changed) == (1, 1)
    ids = _event_ids(case_store)
    links = _kinds(case_store, ref)["corroborated_by"]
    assert [link["event_id"] for link in links] == [
        ids[("2024-03-12T22:14:00Z", "I know where you live now, Alex.")],
        ids[("2024-03-12T22:15:00Z", "Please stop messaging me or I will call the police.")]]
    assert links[1]["ocr_lines"][0]["lines"] == [3, 4]


def test_lines_no_export_holds_make_a_screenshot_only_partly_corroborated(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path))
    ref = _screenshot(case_store, tmp_path, "b.png", [
        "12 March 2024",
        "I know where you live now, Alex.",
        "22:14",
        "And I know where your sister works too.",
        "22:16",
    ])
    report = _corroborate(case_store)
    assert report.partly == 1
    facts = _kinds(case_store, ref)
    assert facts["corroboration"][0]["verdict"] == "partly_corroborated"
    assert [u["text"] for u in facts["corroboration"][0]["unmatched"]] == [
        "And I know where your sister works too."]
    assert len(facts["corroborated_by"]) == 1 and "uncorroborated" not in facts


def test_a_bubble_saying_less_than_the_exported_message_is_not_a_link(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path))
    ref = _screenshot(case_store, tmp_path, "h.png", [
        "12 March 2024",
        "I know where you live now, Alex.",
        "22:14",
        "Please stop messaging me",  # the export says "... or I will call the police."
        "22:15",
        "Did you get home from the station?",
        "22:16",
    ])
    _corroborate(case_store)
    facts = _kinds(case_store, ref)
    assert facts["corroboration"][0]["verdict"] == "partly_corroborated"
    [unmatched] = facts["corroboration"][0]["unmatched"]
    assert unmatched["text"] == "Please stop messaging me"
    ids = _event_ids(case_store)
    assert [d["event_id"] for d in unmatched["differs_from"]] == [
        ids[("2024-03-12T22:15:00Z", "Please stop messaging me or I will call the police.")]]
    assert len(facts["corroborated_by"]) == 2


def test_short_lines_alone_prove_nothing(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path))
    ref = _screenshot(case_store, tmp_path, "c.png", ["You won't.", "22:20"])
    report = _corroborate(case_store)
    assert report.screenshots == 0
    assert not {"corroboration", "corroborated_by", "uncorroborated"} & set(
        _kinds(case_store, ref))


def test_a_message_weeks_before_the_dates_shown_is_still_found(case_store, tmp_path):
    # The message sits above the first date chip: sent days before it.
    _ingest(case_store, _chat(tmp_path, "20/02/2024, 09:00 - Sam: Meet me at the Red Lion "
                                          "after work on Friday.\n"
                                          "20/02/2024, 09:01 - Sam: Answer me\n"))
    ref = _screenshot(case_store, tmp_path, "d.png", [
        "Meet me at the Red Lion after work on Friday.", "09:00", "12 March 2024"])
    _corroborate(case_store)
    [summary] = _kinds(case_store, ref)["corroboration"]
    assert summary["verdict"] == "corroborated"
    assert [w["basis"] for w in summary["windows"]] == ["visible_dates", "visible_dates"]


def test_messages_outside_the_window_do_not_corroborate(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path, "20/12/2023, 09:00 - Sam: Meet me at the Red Lion "
                                          "after work on Friday.\n"
                                          "20/12/2023, 09:01 - Sam: Answer me\n"))
    ref = _screenshot(case_store, tmp_path, "e.png", [
        "12 March 2024", "Meet me at the Red Lion after work on Friday.", "09:00"])
    _corroborate(case_store)
    facts = _kinds(case_store, ref)
    assert facts["uncorroborated"][0]["reason"] == "no export contains this conversation"
    # ...and a wider window, when the officer asks for one, finds it.
    _corroborate(case_store, before=timedelta(days=120))
    assert _kinds(case_store, ref)["corroboration"][0]["verdict"] == "corroborated"


def test_only_the_named_channels_are_searched(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path))
    ref = _screenshot(case_store, tmp_path, "f.png", [
        "12 March 2024", "I know where you live now, Alex.", "22:14"])
    _corroborate(case_store, channels=("sms",))
    assert "corroborated_by" not in _kinds(case_store, ref)
    _corroborate(case_store, channels=("whatsapp",))
    assert len(_kinds(case_store, ref)["corroborated_by"]) == 1


def test_a_rerun_with_nothing_new_changes_nothing(case_store, tmp_path):
    _ingest(case_store, _chat(tmp_path))
    _screenshot(case_store, tmp_path, "g.png", ["12 March 2024",
                                                "I know where you live now, Alex.", "22:14"])
    assert _corroborate(case_store).changed == 1
    assert _corroborate(case_store).changed == 0


def test_the_capture_time_sets_the_window_when_the_screen_shows_no_date():
    received = datetime(2024, 6, 1, tzinfo=UTC)
    exhibit = Exhibit(received_at=received)
    capture = datetime(2024, 3, 12, 22, 15, tzinfo=UTC)
    settings = CorroborationSettings()
    narrow, wide = windows(_Screen(exhibit, [], capture=capture), settings)
    assert narrow is None
    assert wide == Window(capture - timedelta(days=30), capture + timedelta(days=1),
                          "capture_time")
    # Unknown capture time: anything sent before the screenshot was handed over.
    narrow, wide = windows(_Screen(exhibit, []), settings)
    assert (narrow, wide.basis, wide.end) == (None, "received_at", received + timedelta(days=1))
    assert json.dumps(wide.as_json())  # plain JSON, as facts must be
