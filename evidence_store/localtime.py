"""Turning a source's wall-clock time into UTC, saying what was assumed.

The repeated hour at the end of summer time and the skipped hour at its start
are flagged rather than silently resolved; the earlier reading is used for the
repeated hour (fold=0) and the pre-transition offset for the skipped one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsers.records import WallClock

AMBIGUOUS_DST = "ambiguous_dst"
NONEXISTENT = "nonexistent_local_time"


class UnknownTimeZone(ValueError):
    pass


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(f"unknown time zone {name!r} (use an IANA name such as Europe/London)"
                              ) from exc


def _exact(local: datetime, tz: ZoneInfo) -> tuple[datetime, tuple[str, ...]]:
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    flags: tuple[str, ...] = ()
    if first.utcoffset() != second.utcoffset():
        # Either the repeated hour (both readings exist) or the skipped one (neither does).
        round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        flags = (AMBIGUOUS_DST,) if round_trip == local else (NONEXISTENT,)
    return first.astimezone(UTC), flags


@lru_cache(maxsize=65536)
def _hour_offset(day: date, hour: int, zone_name: str) -> timedelta | None:
    """The UTC offset that holds for the whole local hour, or None if it changes within it.

    Chats hold hundreds of thousands of messages, nearly each in a new minute; one
    look-up per hour instead of per message keeps resolution cheap, and an hour
    containing a transition falls back to the exact computation.
    """
    tz = zone(zone_name)
    start_local = datetime.combine(day, time(hour))
    start, start_flags = _exact(start_local, tz)
    end, end_flags = _exact(start_local + _LAST_INSTANT_OF_HOUR, tz)
    if start_flags or end_flags or end - start != _LAST_INSTANT_OF_HOUR:
        return None
    return start_local - start.replace(tzinfo=None)


_LAST_INSTANT_OF_HOUR = timedelta(minutes=59, seconds=59, microseconds=999999)


def local_to_naive_utc(local: datetime, zone_name: str) -> tuple[datetime, tuple[str, ...]]:
    """UTC as a naive datetime: the hot path of ingest (datetime.replace is costly)."""
    offset = _hour_offset(local.date(), local.hour, zone_name)
    if offset is None:
        utc, flags = _exact(local, zone(zone_name))
        return utc.replace(tzinfo=None), flags
    return local - offset, ()


def local_to_utc(local: datetime, zone_name: str) -> tuple[datetime, tuple[str, ...]]:
    naive, flags = local_to_naive_utc(local, zone_name)
    return naive.replace(tzinfo=UTC), flags


@lru_cache(maxsize=256)
def _stated(offset: timedelta | None) -> str:
    """How an offset the source gave is recorded: "UTC+01:00" (cached: one per offset)."""
    if offset is None:
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


_UTC_STATED = "UTC+00:00"


def resolve_naive(clock: WallClock, zone_name: str
                  ) -> tuple[datetime, str | None, tuple[str, ...]]:
    """(UTC instant as a naive datetime, the zone assumed or the offset stated, flags)."""
    if clock.instant is not None:
        instant = clock.instant
        if instant.tzinfo is UTC:  # epochs: most sources with stated times
            return instant.replace(tzinfo=None), _UTC_STATED, clock.flags
        return (instant.astimezone(UTC).replace(tzinfo=None), _stated(instant.utcoffset()),
                clock.flags)
    assert clock.local is not None
    naive, flags = local_to_naive_utc(clock.local, zone_name)
    return naive, zone_name, clock.flags + flags if flags else clock.flags


def resolve(clock: WallClock, zone_name: str) -> tuple[datetime, str | None, tuple[str, ...]]:
    """(UTC instant, the zone assumed or the offset the source stated, flags)."""
    naive, stated, flags = resolve_naive(clock, zone_name)
    return naive.replace(tzinfo=UTC), stated, flags
