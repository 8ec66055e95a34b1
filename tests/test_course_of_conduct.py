"""The course-of-conduct summary of the known case (tests/known_pattern_case.py):
every number traceable to the events it counts, copies counted once, contact
after notice, and the strongest flagged events with where they sit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from evidence_store import cases
from evidence_store.behaviour import evaluate_flags
from evidence_store.course_of_conduct import summarise
from evidence_store.notices import record_notice
from evidence_store.occurrences import merge_duplicates
from evidence_store.persons import persons_of
from evidence_store.timeline import iter_events
from tests.known_pattern_case import THREAT, built_case

WARNING_AT = datetime(2024, 4, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def summary_and_timeline(tmp_path_factory):
    """The case after the steps `conduct analyse` runs, with a police warning recorded
    (built once for the module; the tests only read it)."""
    with built_case(tmp_path_factory.mktemp("known")) as store:
        with store.session() as session:
            case = cases.get_case(session, "OP-1")
            merge_duplicates(session, case)
            evaluate_flags(session, case)
            suspect = next(p.id for p, _ in persons_of(session, case) if p.role == "suspect")
            record_notice(session, case, "warning", WARNING_AT, "PC Jane Smith", person=suspect)
        with store.session() as session:
            case = cases.get_case(session, "OP-1")
            yield summarise(session, case), list(iter_events(session, case))


def _suspects_originals(timeline):
    """The suspect's contacts as the timeline shows them, without the second backup's
    copies (exhibit JS/2 repeats two messages of JS/1)."""
    return [e for e in timeline if e["sender_person"] == "Sam Taylor" and e["exhibit"] != "JS/2"]


def test_occasions_days_span_channels_and_identifiers(summary_and_timeline):
    summary, timeline = summary_and_timeline
    originals = _suspects_originals(timeline)
    assert (summary.occasions, summary.days) == (32, 8)
    assert sorted(summary.occasion_event_ids) == sorted(e["id"] for e in originals)
    assert summary.channels == {"sms": 17, "whatsapp": 6, "call": 5, "email": 4}
    assert [(v, n) for v, n, _, _ in summary.identifiers] == [
        ("+447700900461", 22), ("name:sam taylor", 6), ("sam.t@example.com", 4)]
    first, last = summary.first, summary.last
    assert (first.event_id, first.local_time, first.channel) == (
        originals[0]["id"], "2023-10-29T00:30:00+01:00", "email")
    assert (last.event_id, last.exhibit, last.excerpt) == (originals[-1]["id"], "JS/1",
                                                           "barrage 6")
    assert last.locator == originals[-1]["locator"]


def test_contact_after_notice_counts_the_suspects_later_contacts_once(summary_and_timeline):
    summary, timeline = summary_and_timeline
    later = [e["id"] for e in _suspects_originals(timeline)
             if e["occurred_at"] > "2024-04-03T00:00:00Z"]
    assert len(later) == 17
    assert summary.after_notice is not None
    assert sorted(summary.after_notice.event_ids) == sorted(later)
    assert list(summary.after_notice.by_notice.values()) == [17]


def test_flags_rank_threats_first_and_cite_the_original_not_its_copy(summary_and_timeline):
    summary, timeline = summary_and_timeline
    [threat_event] = [e for e in timeline if THREAT in (e["text"] or "") and e["exhibit"] == "JS/1"]
    threats = summary.categories[0]
    assert threats.category == "threat"
    # The copy in JS/2 was flagged too; merged, it is the same event.
    assert threats.event_ids == (threat_event["id"],)
    [strongest] = threats.strongest
    assert (strongest.event_id, strongest.exhibit, strongest.locator) == (
        threat_event["id"], "JS/1", threat_event["locator"])
    assert THREAT in strongest.excerpt
    assert strongest.local_time == "2024-03-31T13:00:00+01:00"


def test_bursts_night_and_escalation_are_in_the_summary(summary_and_timeline):
    summary, _ = summary_and_timeline
    assert [b.count for b in summary.bursts] == [5, 7]
    assert summary.burst_rule == (5, 10)
    assert (summary.night_count, summary.night_hours) == (11, (23, 6))
    assert summary.night_share == pytest.approx(11 / 32)
    assert summary.escalation == "rising"
    assert summary.notes == []


def test_the_summary_is_plain_json_naming_its_events(summary_and_timeline):
    summary, _ = summary_and_timeline
    data = json.loads(json.dumps(summary.as_json()))
    assert data["occasions"] == len(data["occasion_event_ids"]) == 32
    assert data["after_notice"]["count"] == len(data["after_notice"]["event_ids"]) == 17
    assert all(len(b["event_ids"]) == b["count"] for b in data["bursts"]["items"])
    assert data["flags"][0]["strongest"][0]["exhibit"] == "JS/1"
    assert "occasion_event_ids" not in summary.as_json(event_ids=False)
