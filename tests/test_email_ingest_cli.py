"""An mbox handed over by the victim, through the real CLI."""

import hashlib
import shutil
from pathlib import Path

from tests.cli_support import ingest_json, open_case, timeline_json

FIXTURE = Path(__file__).parent / "fixtures" / "email" / "sample.mbox"


def _sample(tmp_path):
    target = tmp_path / "All mail Including Spam and Trash.mbox"
    shutil.copyfile(FIXTURE, target)
    return target


def test_attachments_become_child_exhibits_with_their_own_hash(store_dir, tmp_path):
    open_case()
    code, report = ingest_json("OP-1", _sample(tmp_path))
    [top] = report["exhibits"]
    assert (code, top["format"], top["status"]) == (0, "mbox", "parsed")
    assert top["children"], "the sample mbox carries attachments"
    for n, child in enumerate(top["children"], 1):
        assert child["ref"] == f"JS/1/{n}"
        blob = next((store_dir / "blobs").rglob(child["sha256"]))
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == child["sha256"]


def test_each_email_event_points_back_to_its_bytes_and_attachments(store_dir, tmp_path):
    open_case()
    path = _sample(tmp_path)
    _, report = ingest_json("OP-1", path)
    data = path.read_bytes()
    children = {c["sha256"] for c in report["exhibits"][0]["children"]}
    emails = [e for e in timeline_json() if e["exhibit"] == "JS/1"]
    assert len(emails) == report["exhibits"][0]["events"]
    for event in emails:
        offset = event["locator"]["byte_offset"]
        assert data[offset:offset + 5] == b"From "
        assert event["occurred_at"].endswith("Z")
        assert all(a["sha256"] in children for a in event["attachments"])
    assert any(e["attachments"] for e in emails)


def test_an_attached_email_is_parsed_as_its_own_child_exhibit(store_dir, tmp_path):
    open_case()
    _, report = ingest_json("OP-1", _sample(tmp_path))
    attached = [c for c in report["exhibits"][0]["children"] if c["format"] == "eml"]
    assert [(c["status"], c["events"]) for c in attached] == [("parsed", 1)]
    assert [e["exhibit"] for e in timeline_json()].count(attached[0]["ref"]) == 1


def test_scoping_an_inbox_keeps_only_mail_with_the_named_address(store_dir, tmp_path):
    open_case()
    _, report = ingest_json("OP-1", _sample(tmp_path), extra=("--only-with", "Carol@example.org"))
    top = report["exhibits"][0]
    senders = {e["sender_id"] for e in timeline_json() if e["exhibit"] == "JS/1"}
    assert senders == {"carol@example.org"}
    assert top["scope"]["left_out_events"] == top["scope"]["kept_events"] + 3


def test_scoping_takeout_works_by_gmail_thread(store_dir, tmp_path):
    open_case()
    target = tmp_path / "takeout.mbox"
    shutil.copyfile(FIXTURE.parent / "takeout.mbox", target)
    _, report = ingest_json("OP-1", target, extra=("--only-with", "stalker@example.com"))
    thread = [e["extra"]["gmail_thread_id"] for e in timeline_json()]
    assert thread == ["1793160934412345678", "1793160934412345678", "1793160934412345680"]
    assert report["exhibits"][0]["scope"]["kept_conversations"] == 2
