"""Frequency measures on a multi-source case whose answers are known by hand
(tests/known_pattern_case.py): counts per local day across both DST changes,
ISO weeks, the hour-by-weekday grid, night share, bursts, escalation, calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence_store import cases
from evidence_store.cases import CaseError
from evidence_store.contact_scope import ContactScope
from evidence_store.frequency import AnalysisOptions, analyse, local_seconds
from evidence_store.occurrences import merge_duplicates
from evidence_store.store import open_store
from tests.known_pattern_case import built_case, open_pattern_case

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.fixture(scope="module")
def case_store(tmp_path_factory):
    """Built once for the module; the tests only read it."""
    with built_case(tmp_path_factory.mktemp("known")) as store:
        with store.session() as session:
            merge_duplicates(session, cases.get_case(session, "OP-1"))
        yield store


@contextmanager
def opened_case(store) -> Iterator[tuple]:
    with store.session() as session:
        yield session, cases.get_case(session, "OP-1")


def report_of(store, **options):
    with opened_case(store) as (session, case):
        return analyse(session, case, AnalysisOptions(**options))


def test_contacts_per_local_day_follow_the_case_zone_across_both_dst_changes(case_store):
    report = report_of(case_store)
    assert report.per_day == {
        # 25-hour day: 23:30 UTC on the 28th is 00:30 BST on the 29th.
        date(2023, 10, 29): {"email": 4},
        date(2024, 3, 30): {"sms": 1},
        # 23-hour day: 23:30 UTC on the 31st is already 1 April.
        date(2024, 3, 31): {"sms": 3, "whatsapp": 1},
        date(2024, 4, 1): {"sms": 1},
        date(2024, 4, 2): {"whatsapp": 5},
        date(2024, 4, 3): {"sms": 5},
        date(2024, 4, 4): {"call": 5},
        date(2024, 4, 5): {"sms": 7},
    }
    assert report.total == 32
    assert report.channel_totals == {"sms": 17, "whatsapp": 6, "call": 5, "email": 4}


def test_copies_in_two_backups_count_once_only_after_merging(store_dir, tmp_path):
    open_pattern_case(tmp_path / "files")
    store = open_store(store_dir)
    try:
        assert report_of(store).per_day[date(2024, 3, 31)] == {"sms": 4, "whatsapp": 1}
        with opened_case(store) as (session, case):
            assert merge_duplicates(session, case) == 2
        assert report_of(store).per_day[date(2024, 3, 31)] == {"sms": 3, "whatsapp": 1}
    finally:
        store.close()


def test_iso_weeks_cover_the_whole_span_and_the_trend_rises(case_store):
    report = report_of(case_store)
    weeks = list(report.per_week)
    assert (weeks[0], weeks[-1], len(weeks)) == ("2023-W43", "2024-W14", 24)
    busy = {w: sum(c.values()) for w, c in report.per_week.items() if c}
    assert busy == {"2023-W43": 4, "2024-W13": 5, "2024-W14": 23}
    trend = report.escalation
    # Eight weeks a third: 4 contacts in the first third, 28 in the last.
    assert (trend.first_third_mean, trend.last_third_mean, trend.direction) == (0.5, 3.5,
                                                                                 "rising")
    assert trend.slope_per_week is not None and trend.slope_per_week > 0


def test_hour_by_weekday_cells_and_night_share(case_store):
    report = report_of(case_store)
    cells = {(d, h): n for d, row in enumerate(report.heatmap) for h, n in enumerate(row) if n}
    assert cells == {
        (SUN, 0): 2, (SUN, 1): 2, (SUN, 23): 1,  # the e-mails of 29 Oct (BST, then GMT)
        (SAT, 23): 1, (SUN, 2): 1, (SUN, 10): 1, (SUN, 13): 1, (MON, 0): 1,  # around 31 Mar
        (TUE, 21): 5, (WED, 11): 5, (THU, 3): 3, (THU, 10): 2, (FRI, 19): 7,
    }
    assert report.night_count == 11
    assert report.night_share == pytest.approx(11 / 32)
    assert report_of(case_store, night_start=2, night_end=4).night_count == 4


def test_bursts_are_exact_and_overlapping_runs_are_one_burst(case_store):
    bursts = report_of(case_store).bursts
    assert [(b.start, b.end, b.count, b.channels) for b in bursts] == [
        (datetime(2024, 4, 2, 20, 0, tzinfo=UTC), datetime(2024, 4, 2, 20, 9, tzinfo=UTC), 5,
         {"whatsapp": 5}),
        (datetime(2024, 4, 5, 18, 0, tzinfo=UTC), datetime(2024, 4, 5, 18, 12, tzinfo=UTC), 7,
         {"sms": 7}),
    ]
    # Five over eleven minutes is a burst only when the window allows eleven.
    assert [b.count for b in report_of(case_store, burst_minutes=11).bursts] == [5, 5, 7]
    assert [b.count for b in report_of(case_store, burst_count=3).bursts] == [5, 5, 3, 7]


def test_burst_event_ids_are_the_timeline_events_of_that_run(case_store):
    from evidence_store.timeline import iter_events

    with opened_case(case_store) as (session, case):
        barrage = {e["id"] for e in iter_events(session, case)
                   if (e["text"] or "").startswith("barrage")}
    [_, last] = report_of(case_store).bursts
    assert set(last.event_ids) == barrage and len(barrage) == 7


def test_calls_by_outcome_and_withheld_numbers(case_store):
    report = report_of(case_store)
    assert report.calls_by_outcome == {"rejected": 1, "missed": 2, "voicemail": 1,
                                       "answered_or_not_stated": 1}
    assert (report.withheld_calls_in_scope, report.withheld_calls_unattributed) == (0, 2)


def test_identifiers_used_are_counted_each(case_store):
    use = report_of(case_store).contacts.identifier_use()
    assert [(v, n) for v, n, _, _ in use] == [
        ("+447700900461", 22), ("name:sam taylor", 6), ("sam.t@example.com", 4)]


def test_scope_one_person_or_everything_received(case_store):
    with opened_case(case_store) as (session, case):
        from evidence_store.persons import persons_of

        witness = next(p.id for p, _ in persons_of(session, case) if p.role == "witness")
    assert report_of(case_store, scope=ContactScope("person", witness)).total == 1
    # The suspect's 32, the witness's message and the two withheld calls.
    assert report_of(case_store, scope=ContactScope("inbound")).total == 35


def test_a_case_without_a_suspect_is_one_clear_error(store):
    with store.session() as session:
        case = cases.create_case(session, "OP-9", "t", "Jane Smith", "JS")
        with pytest.raises(CaseError, match="has no suspect"):
            analyse(session, case)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        AnalysisOptions(burst_count=1)
    with pytest.raises(ValueError, match="night hours"):
        AnalysisOptions(night_start=5, night_end=5)


ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
         "America/St_Johns", "Pacific/Chatham", "UTC")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ZONES),
       st.lists(st.integers(min_value=946_684_800, max_value=2_051_222_400), min_size=1,
                max_size=50))
def test_local_seconds_agree_with_zoneinfo_event_by_event(zone_name, epochs):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone_name)
    expected = [int(datetime.fromtimestamp(e, tz).replace(tzinfo=UTC).timestamp())
                for e in epochs]
    assert local_seconds(np.array(epochs, dtype=np.int64), zone_name).tolist() == expected


def test_an_offset_change_inside_a_quarter_hour_is_resolved_event_by_event():
    from zoneinfo import ZoneInfo

    # Liberia moved from -0:44:30 to GMT on 7 January 1972: not on a quarter hour.
    tz = ZoneInfo("Africa/Monrovia")
    low, high = 63_072_000, 65_000_000  # 1972-01-01, 1972-01-23
    assert datetime.fromtimestamp(low, tz).utcoffset() != datetime.fromtimestamp(high,
                                                                                  tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        same = datetime.fromtimestamp(middle, tz).utcoffset() == datetime.fromtimestamp(
            low, tz).utcoffset()
        low, high = (middle, high) if same else (low, middle)
    assert high % 900  # the change falls inside a 15-minute slot
    epochs = [high - 2, high - 1, high, high + 1]
    expected = [int(datetime.fromtimestamp(e, tz).replace(tzinfo=UTC).timestamp())
                for e in epochs]
    assert local_seconds(np.array(epochs, dtype=np.int64), "Africa/Monrovia").tolist() == expected
