"""Derived facts travel from a parser's records to the store, the event detail and the bundle."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from collector.intake import IngestOptions, Ingestor
from evidence_store import cases
from evidence_store.facts import iter_case_facts
from evidence_store.timeline import event_detail, iter_events
from exports.bundle import export_case
from parsers.base import ParseOptions, Probe, SourceFile
from parsers.records import DerivedFact, EventRecord, Locator, ParsedItem, WallClock


class _FactParser:
    name, version, format = "facts_test", "1", "facts_test"

    def detect(self, probe: Probe) -> bool:
        return probe.name.endswith(".facts")

    def parse(self, source: SourceFile, options: ParseOptions) -> Iterator[ParsedItem]:
        yield DerivedFact("file_summary", {"lines": 2}, about="file")
        for n, who in enumerate(("+447700900001", "+447700900002"), start=1):
            yield EventRecord(
                kind="message", time=WallClock("t", instant=datetime(2024, 1, n, tzinfo=UTC)),
                time_basis="sent", channel="sms", locator=Locator(line=n), sender_id=who,
                text=f"message {n}", conversation=who, participants=(who,))
            yield DerivedFact("received_hop", {"host": f"mx{n}.example", "hop": n},
                              Locator(line=n))


@pytest.fixture
def fact_store(store, monkeypatch, tmp_path):
    monkeypatch.setattr("collector.intake.find_parser",
                        lambda probe: _FactParser() if probe.name.endswith(".facts") else None)
    with store.session() as session:
        cases.create_case(session, "OP-1", "Facts", "DC Jo Smith", "JS")
    path = tmp_path / "two.facts"
    path.write_bytes(b"two records\n")
    return store, path


def _ingest(store, path, **options):
    Ingestor(store, "OP-1", IngestOptions(received_by="DC Jo Smith", **options)
             ).ingest_paths([path])


def test_each_fact_is_tied_to_the_record_before_it_or_to_the_file(fact_store):
    store, path = fact_store
    _ingest(store, path)
    with store.session() as session:
        facts = list(iter_case_facts(session, cases.get_case(session, "OP-1").id))
    assert [(f["kind"], f["event_seq"], f["source"]) for f in facts] == [
        ("file_summary", None, "facts_test/1"),
        ("received_hop", 1, "facts_test/1"),
        ("received_hop", 2, "facts_test/1"),
    ]


def test_event_detail_shows_the_facts_about_that_event_and_its_file(fact_store):
    store, path = fact_store
    _ingest(store, path)
    with store.session() as session:
        case = cases.get_case(session, "OP-1")
        second = list(iter_events(session, case))[1]
        detail = event_detail(session, case, second["id"])
    assert [(f["kind"], f["value"]) for f in detail["facts"]] == [
        ("file_summary", {"lines": 2}), ("received_hop", {"host": "mx2.example", "hop": 2})]


def test_facts_of_a_record_left_out_of_scope_are_left_out_too(fact_store):
    store, path = fact_store
    _ingest(store, path, only_with=frozenset({"+447700900002"}))
    with store.session() as session:
        facts = list(iter_case_facts(session, cases.get_case(session, "OP-1").id))
    assert [(f["kind"], f["event_seq"]) for f in facts] == [
        ("file_summary", None), ("received_hop", 1)]
    assert facts[1]["value"]["host"] == "mx2.example"


def test_the_bundle_lists_every_fact_with_its_provenance(fact_store, tmp_path):
    store, path = fact_store
    _ingest(store, path)
    with store.session() as session:
        export_case(session, store, cases.get_case(session, "OP-1"), tmp_path / "b.zip",
                    "DC Jo Smith")
    rows = list(csv.DictReader(io.StringIO(
        zipfile.ZipFile(tmp_path / "b.zip").read("facts.csv").decode())))
    assert [(r["exhibit"], r["event_seq"], json.loads(r["value"]).get("host")) for r in rows] == [
        ("JS/1", "", None), ("JS/1", "1", "mx1.example"), ("JS/1", "2", "mx2.example")]
