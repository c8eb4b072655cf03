"""Local wall-clock time in IANA zones: which instants fall inside a local-time range.

Calling windows are written in the debtor's wall-clock time, so a window edge on a
daylight-saving day can name a local time that never happens (spring forward) or
happens twice (fall back). Here a local range [start, end) on a date is the exact
set of instants whose wall-clock reading lies inside it, found from the zone's
UTC-offset pieces, so no edge ever slips by an hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A half-open span of instants [start, end), both timezone-aware in UTC.
Interval = tuple[datetime, datetime]

MINUTES_PER_DAY = 24 * 60
_ONE_DAY = timedelta(days=1)
# Every real zone's offset lies within UTC-12..UTC+14, so the instants whose local
# date is D lie within [D 00:00 UTC - 15 h, D 24:00 UTC + 15 h].
_SPAN_MARGIN = timedelta(hours=15)
_PROBE_STEP = timedelta(hours=1)


@lru_cache(maxsize=1024)
def zone(key: str) -> ZoneInfo:
    """The ZoneInfo for an IANA key; ValueError naming the key when it is unknown."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time zone {key!r} is not an IANA zone; expected e.g. 'America/Sao_Paulo'"
        ) from None


def local_date(key: str, instant: datetime) -> date:
    """The calendar date on the wall clocks of zone `key` at `instant`."""
    return instant.astimezone(zone(key)).date()


def minutes_of(value: time, *, is_end: bool) -> int:
    """Minutes since local midnight for a window edge.

    Seconds are rounded inwards (a start up, an end down) so the window only ever
    shrinks; an end of 00:00 means the end of the day (24:00).
    """
    minutes = value.hour * 60 + value.minute
    if is_end:
        return MINUTES_PER_DAY if value == time(0) else minutes
    if value.second or value.microsecond:
        minutes += 1
    return minutes


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None  # ZoneInfo always knows its offset
    return offset


def _first_instant_with_new_offset(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """Bisect to the second: tzdata transitions fall on whole seconds."""
    old = _offset(tz, before)
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(tz, datetime.fromtimestamp(middle, UTC)) == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=65536)
def _offset_pieces(key: str, day: date) -> tuple[tuple[datetime, datetime, timedelta], ...]:
    """Spans of constant UTC offset covering every instant whose local date may be `day`."""
    tz = zone(key)
    span_start = datetime.combine(day, time(), UTC) - _SPAN_MARGIN
    span_end = span_start + _ONE_DAY + 2 * _SPAN_MARGIN
    pieces: list[tuple[datetime, datetime, timedelta]] = []
    piece_start, piece_offset = span_start, _offset(tz, span_start)
    probe = span_start
    while probe < span_end:
        following = min(probe + _PROBE_STEP, span_end)
        if _offset(tz, following) == piece_offset:
            probe = following
            continue
        transition = _first_instant_with_new_offset(tz, probe, following)
        pieces.append((piece_start, transition, piece_offset))
        piece_start, piece_offset = transition, _offset(tz, transition)
        probe = transition
    pieces.append((piece_start, span_end, piece_offset))
    return tuple(pieces)


@lru_cache(maxsize=65536)
def local_range_instants(key: str, day: date, start: int, end: int) -> tuple[Interval, ...]:
    """The instants whose wall-clock time in `key` lies in [start, end) minutes of `day`.

    Usually one interval; two when the range straddles a repeated (fall-back) hour,
    none when it lies wholly inside a skipped (spring-forward) hour.
    """
    if start >= end:
        return ()
    # Wall time = instant + offset, so within a piece of constant offset the range
    # maps back to [start - offset, end - offset), clipped to the piece.
    midnight = datetime.combine(day, time(), UTC)
    wall_start = midnight + timedelta(minutes=start)
    wall_end = midnight + timedelta(minutes=end)
    found: list[Interval] = []
    for piece_start, piece_end, offset in _offset_pieces(key, day):
        low = max(piece_start, wall_start - offset)
        high = min(piece_end, wall_end - offset)
        if low < high:
            found.append((low, high))
    return tuple(merge(found))


@lru_cache(maxsize=65536)
def end_of_local_day(key: str, day: date) -> datetime:
    """The first instant after which the wall clocks of `key` never again show `day`."""
    return local_range_instants(key, day, 0, MINUTES_PER_DAY)[-1][1]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and join overlapping or touching intervals."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sorted lists of disjoint intervals."""
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def as_utc(instant: datetime, *, name: str = "instant") -> datetime:
    """The same instant in UTC; ValueError for a naive datetime, which names no instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} {instant.isoformat()} is naive; pass a timezone-aware datetime")
    return instant.astimezone(UTC)
