"""A large file parsed in a child process gives exactly what parsing in-process gives."""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

import pytest

from collector.archives import ArchiveLimits
from collector.intake import IngestOptions, Ingestor
from evidence_store import cases
from evidence_store.database import scratch_schema
from evidence_store.facts import iter_case_facts
from evidence_store.store import init_store
from evidence_store.timeline import iter_events
from tests.test_ingest_cli import write_chat_zip

FIXTURES = Path(__file__).parent / "fixtures"


def _ingest(root: Path, path: Path, offload: bool,
            limits: ArchiveLimits | None = None) -> dict[str, object]:
    base = os.environ.get("CONDUCT_DATABASE_URL")
    with scratch_schema(base, prefix="o") if base else nullcontext(None) as url:
        return _ingest_into(root, url, path, offload, limits or ArchiveLimits())


def _ingest_into(root: Path, url: str | None, path: Path, offload: bool,
                 limits: ArchiveLimits) -> dict[str, object]:
    store = init_store(root, url)
    try:
        with store.session() as session:
            cases.create_case(session, "OP-1", "Offload", "DC Jo Smith", "JS")
        ingestor = Ingestor(store, "OP-1", IngestOptions(received_by="DC Jo Smith",
                                                         limits=limits))
        ingestor.offload_from = 0 if offload else 1 << 62
        [outcome] = ingestor.ingest_paths([path])
        with store.session() as session:
            case = cases.get_case(session, "OP-1")
            events = [{k: v for k, v in e.items() if k != "id"} for e in iter_events(session, case)]
            exhibits = [(e.ref, e.status, e.error, e.event_count, e.sha256, e.notes)
                        for e in cases.exhibits_of(session, case)]
            facts = list(iter_case_facts(session, case.id))
        return {"events": events, "exhibits": exhibits, "facts": facts,
                "linked": outcome.linked, "status": outcome.status, "error": outcome.error}
    finally:
        store.close()


@pytest.mark.parametrize("name", [
    "sms_backup/messages.xml",   # MMS media become child exhibits
    "sms_backup/truncated.xml",  # damaged: the records before the cut are kept
    "email/sample.mbox",         # attachments, and facts about each message
    "whatsapp/ios_group.txt",
])
def test_offloaded_parsing_matches_in_process_parsing(tmp_path, name):
    here = _ingest(tmp_path / "here", FIXTURES / name, offload=False)
    there = _ingest(tmp_path / "there", FIXTURES / name, offload=True)
    assert there == here
    assert here["events"]


def test_offloaded_chat_links_its_media_by_name(tmp_path):
    chat = write_chat_zip(tmp_path / "chat.zip")
    here = _ingest(tmp_path / "here", chat, offload=False)
    there = _ingest(tmp_path / "there", chat, offload=True)
    assert there == here
    chat_media = [a for e in here["events"] if e["parser"].startswith("whatsapp")
                  for a in e["attachments"]]
    assert [a["sha256"] is not None for a in chat_media] == [True]


def test_a_parser_failure_in_the_child_is_one_line_on_the_exhibit(tmp_path):
    result = _ingest(tmp_path / "s", FIXTURES / "sms_backup/truncated.xml", offload=True)
    assert result["status"] == "failed"
    assert "\n" not in result["error"] and "Traceback" not in result["error"]


def test_past_the_nesting_limit_the_child_keeps_no_extracted_files(tmp_path):
    limits = ArchiveLimits(max_depth=0)
    backup = FIXTURES / "sms_backup/messages.xml"
    here = _ingest(tmp_path / "here", backup, offload=False, limits=limits)
    there = _ingest(tmp_path / "there", backup, offload=True, limits=limits)
    assert there == here
    assert [ref for ref, *_ in here["exhibits"]] == ["JS/1"]
    stored = [p for p in (tmp_path / "there" / "blobs").rglob("*")
              if p.is_file() and p.parent.name != "tmp"]
    assert len(stored) == 1  # the backup itself, not its MMS media
