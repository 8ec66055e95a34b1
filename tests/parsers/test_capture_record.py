"""The record of a live capture: one capture event at the retrieval time, the exchange as a fact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from parsers import capture_record
from parsers.errors import DamagedInput
from parsers.records import AttachmentRef, DerivedFact
from tests.parsers.support import FIXTURES, events, parse_all, probe_of

RECORD_FILE = FIXTURES / "web" / "capture_record.json"
RECORD = json.loads(RECORD_FILE.read_text(encoding="utf-8"))


def encoded(record: dict) -> bytes:
    return (json.dumps(record, sort_keys=True, indent=2) + "\n").encode()


def test_detects_conduct_capture_records_only() -> None:
    assert capture_record.PARSER.detect(probe_of(RECORD_FILE.read_bytes()))
    assert capture_record.PARSER.detect(probe_of(json.dumps(RECORD, sort_keys=True).encode()))
    assert not capture_record.PARSER.detect(probe_of(b'{"messages": [], "_format": 1}'))
    assert not capture_record.PARSER.detect(probe_of(b'{"_format": "conduct-capture/2"}'))


def test_the_capture_event_is_at_the_moment_the_final_response_arrived() -> None:
    items = parse_all(capture_record.PARSER, RECORD_FILE.read_bytes())
    [event] = events(items)
    assert (event.kind, event.time_basis, event.channel) == ("capture", "captured", "web")
    assert event.time.instant == datetime(2026, 11, 25, 19, 3, 1, 250000, tzinfo=UTC)
    assert (event.time.text, event.time.precision) == ("2026-11-25T19:03:01.250000Z",
                                                       "subsecond")
    assert event.text == ("Captured https://www.example.org/u/sam_t: HTTP 200, 1911 bytes, "
                          f"sha256 {'cd' * 32}\nNote: profile named by the victim")
    assert event.flags == ("live_capture", "redirected")
    assert event.attachments == (AttachmentRef(
        "capture-www.example.org-2026-11-25T190301Z.html", "cd" * 32,
        "text/html; charset=utf-8"),)
    assert event.extra == {
        "request_url": "https://www.example.org/sam",
        "final_url": "https://www.example.org/u/sam_t", "status": "200",
        "body_sha256": "cd" * 32, "peer_ip": "93.184.215.14", "captured_by": "Jane Smith"}


def test_the_whole_exchange_is_kept_as_a_fact_about_the_event() -> None:
    items = parse_all(capture_record.PARSER, RECORD_FILE.read_bytes())
    [fact] = [i for i in items if isinstance(i, DerivedFact)]
    assert (fact.kind, fact.about) == ("capture_http", "record")
    expected = dict(RECORD)
    del expected["_format"]
    assert fact.value == expected
    assert items.index(fact) == 1


def test_a_cut_body_and_an_unverified_certificate_are_flagged() -> None:
    record = dict(RECORD, tls_verified=False, redirects=[],
                  body=dict(RECORD["body"], truncated=True,
                            truncated_reason="size limit of 1000 bytes reached"))
    [event] = events(parse_all(capture_record.PARSER, encoded(record)))
    assert event.flags == ("live_capture", "truncated", "tls_not_verified")
    assert "(cut short: size limit of 1000 bytes reached)" in event.text


@pytest.mark.parametrize(("change", "message"), [
    ({"response_at": "2026-11-25T19:03:01"}, "has no offset"),
    ({"response_at": "yesterday"}, "is not an ISO time"),
    ({"status": "200"}, "body or status is malformed"),
    ({"body": None}, "body or status is malformed"),
])
def test_a_damaged_record_is_damaged_input(change: dict, message: str) -> None:
    with pytest.raises(DamagedInput, match=message):
        parse_all(capture_record.PARSER, encoded(dict(RECORD, **change)))


def test_a_record_missing_fields_or_holding_non_json_numbers_is_damaged_input() -> None:
    record = dict(RECORD)
    del record["final_url"]
    with pytest.raises(DamagedInput, match="lacks final_url"):
        parse_all(capture_record.PARSER, encoded(record))
    with pytest.raises(DamagedInput, match="not valid JSON"):
        parse_all(capture_record.PARSER,
                  encoded(RECORD).replace(b'"size": 1911', b'"size": NaN'))
