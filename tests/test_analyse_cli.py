"""`conduct analyse`, `conduct search` and paged `conduct timeline`, as an officer types them."""

from __future__ import annotations

import hashlib
import json

import pytest

from evidence_store import custody
from evidence_store.store import open_store
from tests.cli_support import conduct, timeline_json
from tests.known_pattern_case import THREAT, open_pattern_case

CHART_NAMES = {f"{name}.{ext}" for name in ("contacts_per_day", "contacts_per_week",
                                            "hour_by_weekday", "escalation", "calls_by_outcome")
               for ext in ("png", "svg")}


@pytest.fixture
def known_case(store_dir, tmp_path):
    open_pattern_case(tmp_path / "files")
    return store_dir


def _analyse_json(*extra):
    result = conduct("analyse", "OP-1", "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _custody(store_dir, action):
    store = open_store(store_dir)
    try:
        with store.session() as session:
            return [e for e in custody.entries_of(session, custody.case_chain("OP-1"))
                    if e.action == action]
    finally:
        store.close()


def test_analyse_merges_copies_runs_the_rules_and_writes_the_same_charts_twice(known_case,
                                                                               tmp_path):
    first = _analyse_json("--charts", str(tmp_path / "one"))
    again = _analyse_json("--charts", str(tmp_path / "two"))
    summary = first["summary"]
    assert (first["duplicates_merged"], summary["occasions"], summary["days"]) == (2, 32, 8)
    assert again["summary"]["occasions"] == 32  # merging again changes nothing
    assert summary["flags"][0]["category"] == "threat"
    assert THREAT in summary["flags"][0]["strongest"][0]["excerpt"]
    assert first["analysis"]["calls"]["by_outcome"] == {
        "rejected": 1, "missed": 2, "voicemail": 1, "answered_or_not_stated": 1}
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}
    assert set(one) == CHART_NAMES
    assert one == two
    assert one["contacts_per_day.png"].startswith(b"\x89PNG")
    assert b"<svg" in one["escalation.svg"] and b"Date" not in one["escalation.svg"]
    logged = _custody(known_case, "analysed")
    assert len(logged) == 2
    charts = json.loads(logged[0].details)["charts"]
    assert {c["file"]: c["sha256"] for c in charts} == {
        name: hashlib.sha256(data).hexdigest() for name, data in one.items()}


def test_the_readable_summary_names_the_numbers(known_case):
    result = conduct("analyse", "OP-1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for expected in ("32 contact events on 8 days", "sms 17", "+447700900461: 22",
                     "2 (at least 5 contacts within 10 minutes)",
                     "11 between 23:00 and 06:00 (34.4%)", "rising", "missed 2", "threat:"):
        assert expected in text, expected


@pytest.mark.parametrize("options, occasions, bursts", [
    (("--burst-count", "3"), 32, 4),
    (("--burst-minutes", "11"), 32, 3),
    (("--person", "Jo Bloggs"), 1, 0),
    (("--inbound",), 35, 2),
])
def test_analyse_options_change_the_scope_and_the_burst_rule(known_case, options, occasions,
                                                             bursts):
    summary = _analyse_json(*options)["summary"]
    assert (summary["occasions"], summary["bursts"]["count"]) == (occasions, bursts)


@pytest.mark.parametrize("options, message", [
    (("--person", "Nobody"), "has no person 'Nobody'"),
    (("--night", "late"), "--night takes FROM-TO"),
    (("--night", "5-5"), "night hours"),
    (("--burst-count", "1"), "at least 2"),
    (("--person", "Jo Bloggs", "--inbound"), "not both"),
])
def test_bad_analyse_options_are_one_line(known_case, options, message):
    result = conduct("analyse", "OP-1", *options)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_search_from_the_command_line(known_case):
    found = conduct("search", "OP-1", "know where", "--json")
    assert found.exit_code == 0, found.output
    results = json.loads(found.stdout)["results"]
    assert [r["exhibit"] for r in results] == ["JS/1", "JS/2"]  # the message and its copy
    assert all(THREAT in r["text"] for r in results)
    shown = conduct("search", "OP-1", "barrage", "--limit", "3")
    assert shown.exit_code == 0
    cursor = shown.stdout.split("--after ")[-1].strip()
    rest = conduct("search", "OP-1", "barrage", "--after", cursor, "--json")
    assert len(json.loads(rest.stdout)["results"]) == 4
    refused = conduct("search", "OP-1", '"*"')
    assert refused.exit_code == 2
    assert refused.stderr.strip() == ("conduct: nothing to search for: give at least one word "
                                      "(letters or digits)")
    assert len(_custody(known_case, "searched")) == 3


def test_timeline_pages_join_up_to_the_whole_timeline(known_case):
    whole = timeline_json("OP-1")
    paged, cursor = [], None
    while True:
        result = conduct("timeline", "OP-1", "--format", "json", "--limit", "9",
                         *(["--after", cursor] if cursor else []))
        assert result.exit_code == 0, result.output
        paged += json.loads(result.stdout)
        if "no more events" in result.stderr:
            break
        cursor = result.stderr.split("--after ")[1].strip()
    assert paged == whole


def test_a_bad_timeline_cursor_is_one_line(known_case):
    result = conduct("timeline", "OP-1", "--after", "nonsense")
    assert result.exit_code == 2
    assert result.stderr.strip() == "conduct: not a cursor from a previous page: 'nonsense'"


def test_analysing_and_searching_are_read_only_access_for_the_export():
    """Like viewing the timeline, they leave the case unchanged, so an export after them
    is the same as one before (merging and flagging log changes of their own)."""
    from exports.bundle import ACCESS_ACTIONS

    assert {"analysed", "searched"} <= ACCESS_ACTIONS
