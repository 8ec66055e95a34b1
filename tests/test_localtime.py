from datetime import UTC, datetime

from evidence_store.localtime import AMBIGUOUS_DST, NONEXISTENT, resolve
from parsers.records import WallClock


def london(local: datetime) -> tuple[datetime, str | None, tuple[str, ...]]:
    return resolve(WallClock(text=str(local), local=local), "Europe/London")


def test_summer_time_is_one_hour_ahead_of_utc():
    assert london(datetime(2024, 7, 1, 12, 0))[0] == datetime(2024, 7, 1, 11, 0, tzinfo=UTC)


def test_the_repeated_autumn_hour_is_flagged_and_read_as_its_first_occurrence():
    utc, zone, flags = london(datetime(2024, 10, 27, 1, 30))
    assert (utc, zone, flags) == (datetime(2024, 10, 27, 0, 30, tzinfo=UTC), "Europe/London",
                                  (AMBIGUOUS_DST,))


def test_the_skipped_spring_hour_is_flagged_as_nonexistent():
    utc, _, flags = london(datetime(2024, 3, 31, 1, 30))
    assert flags == (NONEXISTENT,)
    assert utc == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)


def test_times_either_side_of_a_change_are_not_flagged():
    assert london(datetime(2024, 3, 31, 0, 59))[2] == ()
    assert london(datetime(2024, 3, 31, 2, 0))[2] == ()


def test_a_source_that_states_its_offset_is_not_reinterpreted():
    from datetime import timedelta, timezone

    stated = datetime(2024, 3, 12, 22, 15, tzinfo=timezone(timedelta(hours=-5)))
    utc, zone, flags = resolve(WallClock(text="Tue, 12 Mar 2024 22:15 -0500", instant=stated),
                               "Europe/London")
    assert (utc, zone, flags) == (datetime(2024, 3, 13, 3, 15, tzinfo=UTC), "UTC-05:00", ())


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from evidence_store.localtime import _exact, local_to_utc, zone  # noqa: E402


@settings(max_examples=400, deadline=None)
@given(
    local=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)),
    zone_name=st.sampled_from(["Europe/London", "America/New_York", "Australia/Lord_Howe",
                               "Asia/Kolkata", "America/St_Johns", "Europe/Dublin"]),
)
def test_the_per_hour_shortcut_agrees_with_exact_resolution(local, zone_name):
    assert local_to_utc(local, zone_name) == _exact(local, zone(zone_name))
