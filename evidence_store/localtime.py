"""Turning a source's wall-clock time into UTC, saying what was assumed.

The repeated hour at the end of summer time and the skipped hour at its start
are flagged rather than silently resolved; the earlier reading is used for the
repeated hour (fold=0) and the pre-transition offset for the skipped one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
def _hour_offset(hour: datetime, zone_name: str) -> timedelta | None:
    """The UTC offset that holds for the whole local hour, or None if it changes within it.

    Chats hold hundreds of thousands of messages, nearly each in a new minute; one
    look-up per hour instead of per message keeps resolution cheap, and an hour
    containing a transition falls back to the exact computation.
    """
    tz = zone(zone_name)
    start, start_flags = _exact(hour, tz)
    end, end_flags = _exact(hour + timedelta(minutes=59, seconds=59, microseconds=999999), tz)
    if start_flags or end_flags or end - start != timedelta(minutes=59, seconds=59,
                                                            microseconds=999999):
        return None
    return hour - start.replace(tzinfo=None)


def local_to_utc(local: datetime, zone_name: str) -> tuple[datetime, tuple[str, ...]]:
    offset = _hour_offset(local.replace(minute=0, second=0, microsecond=0), zone_name)
    if offset is None:
        return _exact(local, zone(zone_name))
    return (local - offset).replace(tzinfo=UTC), ()


def resolve(clock: WallClock, zone_name: str) -> tuple[datetime, str | None, tuple[str, ...]]:
    """(UTC instant, the zone assumed or the offset the source stated, flags)."""
    if clock.instant is not None:
        offset = clock.instant.strftime("%z")
        stated = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
        return clock.instant.astimezone(UTC), stated, clock.flags
    assert clock.local is not None
    utc, flags = local_to_utc(clock.local, zone_name)
    return utc, zone_name, clock.flags + flags
