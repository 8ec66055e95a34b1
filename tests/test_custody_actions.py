"""Every action lands in the case's custody chain, with who, what and how."""

import json

from evidence_store import custody
from evidence_store.store import open_store
from tests.cli_support import conduct, open_case
from tests.test_ingest_cli import CHAT


def _entries(store_dir):
    store = open_store(store_dir)
    with store.session() as session:
        entries = [(e.actor, e.action, e.subject, json.loads(e.details))
                   for e in custody.entries_of(session, "case:OP-1")]
    store.close()
    return entries


def test_receipt_parsing_viewing_verifying_and_export_are_logged(store_dir, tmp_path):
    open_case()
    path = tmp_path / "chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    conduct("ingest", "OP-1", path, "--received-from", "Alex (victim)", "--how", "USB stick")
    conduct("timeline", "OP-1")
    conduct("verify", "OP-1")
    conduct("export", "OP-1", "--out", tmp_path / "b.zip")
    entries = _entries(store_dir)
    assert [(actor, action, subject) for actor, action, subject, _ in entries] == [
        ("Jane Smith", "case_created", "OP-1"),
        ("Jane Smith", "exhibit_received", "JS/1"),
        ("Jane Smith", "parsed", "JS/1"),
        ("test-officer", "timeline_viewed", "OP-1"),
        ("test-officer", "verified", "OP-1"),
        ("test-officer", "exported", "OP-1"),
    ]
    received, parsed = entries[1][3], entries[2][3]
    assert (received["received_from"], received["how_obtained"], received["name"]) == (
        "Alex (victim)", "USB stick", "chat.txt")
    assert (parsed["parser"], parsed["events"], parsed["status"]) == (
        "whatsapp/1.0.0", 4, "parsed")


def test_a_failed_parse_is_logged_with_its_error(store_dir, tmp_path):
    open_case()
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 truncated")
    conduct("ingest", "OP-1", path)
    _, action, subject, details = _entries(store_dir)[-1]
    assert (action, subject, details["status"]) == ("parse_failed", "JS/1", "failed")
    assert details["error"].startswith("not a readable ZIP archive")
