"""Outlook .msg and PST files handed over by the victim, through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

from tests.cli_support import conduct, ingest_json, open_case, timeline_json

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(tmp_path: Path, folder: str, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(FIXTURES / folder / name, target)
    return target


def test_a_msg_becomes_an_event_whose_detail_shows_its_attribution(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", _copy(tmp_path, "email_msg", "received.msg"))
    [top] = report["exhibits"]
    assert (code, top["format"], top["status"], top["events"]) == (0, "msg", "parsed", 1)
    assert [c["name"] for c in top["children"]] == ["logo.png", "statement.pdf", "Earlier.msg"]
    attached = [c for c in top["children"] if c["format"] == "msg"]
    assert [(c["status"], c["events"]) for c in attached] == [("parsed", 1)]

    [event] = [e for e in timeline_json() if e["exhibit"] == top["ref"]]
    assert event["extra"]["originating_ip"] == "203.0.113.77"
    assert event["extra"]["auth"] == "spf=pass dkim=pass dmarc=fail"

    shown = conduct("event", "OP-1", str(event["id"]))
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    kinds = [f["kind"] for f in detail["facts"]]
    assert kinds.count("received_hop") == 2
    assert {"originating_ip", "sender_mismatch", "message_id_domain",
            "authentication_results", "attachment"} <= set(kinds)
    hops = [f for f in detail["facts"] if f["kind"] == "received_hop"]
    assert [(h["value"]["index"], h["value"]["from_ip"]) for h in hops] == [
        (1, "198.51.100.41"), (2, "203.0.113.77")]
    assert all(h["source"].startswith("outlook_msg/") for h in hops)
    assert hops[0]["locator"]["message_id"] == "20240312221500.4F2A@smtp.sender-mail.example"


def test_the_timeline_csv_and_the_bundle_carry_the_attribution(store_dir, tmp_path):
    open_case()
    ingest_json("OP-1", _copy(tmp_path, "email_msg", "received.msg"))
    timeline = conduct("timeline", "OP-1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(timeline.stdout)))
    [row] = [r for r in rows if r["exhibit"] == "JS/1"]
    assert json.loads(row["extra"])["sender_mismatch"] == "Return-Path:domain Reply-To:domain"

    bundle = tmp_path / "OP-1.zip"
    exported = conduct("export", "OP-1", "--out", str(bundle))
    assert exported.exit_code == 0, exported.output
    facts = list(csv.DictReader(io.StringIO(
        zipfile.ZipFile(bundle).read("facts.csv").decode())))
    hops = [f for f in facts if f["exhibit"] == "JS/1" and f["kind"] == "received_hop"]
    assert [json.loads(f["value"])["from_ip"] for f in hops] == ["198.51.100.41", "203.0.113.77"]
    assert {f["event_seq"] for f in hops} == {"1"}


def test_a_pst_is_walked_folder_by_folder_with_attachments_as_children(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", _copy(tmp_path, "email_pst", "mailbox.pst"))
    [top] = report["exhibits"]
    assert (code, top["format"], top["status"], top["events"]) == (0, "pst", "parsed", 4)
    assert len(top["children"]) == 2
    folders = [e["extra"]["folder"] for e in timeline_json() if e["exhibit"] == "JS/1"]
    assert sorted(folders) == [
        "Top of Personal Folders/Inbox", "Top of Personal Folders/Inbox/Harassment",
        "Top of Personal Folders/Inbox/Harassment", "Top of Personal Folders/Sent Items"]


def test_a_damaged_pst_is_reported_in_one_line_and_the_batch_goes_on(store_dir, tmp_path):
    open_case()
    damaged = tmp_path / "broken.pst"
    data = (FIXTURES / "email_pst" / "mailbox.pst").read_bytes()
    damaged.write_bytes(data[:len(data) // 2])
    sent = _copy(tmp_path, "email_msg", "sent.msg")
    code, report = ingest_json("OP-1", damaged, sent)
    assert code != 0
    statuses = {e["name"]: (e["status"], e.get("error")) for e in report["exhibits"]}
    status, error = statuses["broken.pst"]
    assert status == "failed" and "PST/OST store" in error and "\n" not in error
    assert statuses["sent.msg"][0] == "parsed"
