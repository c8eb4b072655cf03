"""The one clock. Everything that asks "what time is it" asks a Clock, so a
simulation can run a campaign day in seconds and tests can freeze time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        with self._lock:
            self._now = instant.astimezone(UTC)


# Instants the command line takes. Wider ones are typos, and near year 1 or 9999 the
# conversion to UTC, or a simulation's hours added to it, overflow datetime.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2100


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant given on the command line; a naive value is UTC.
    Raises ValueError naming the input when it is not one, or not within the years
    EARLIEST_YEAR to LATEST_YEAR."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"instant {text!r} is not an ISO 8601 date-time; expected e.g. 2026-11-24T14:30:00-03:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    out_of_range = ValueError(
        f"instant {text!r} is out of range; expected one in the years {EARLIEST_YEAR} to "
        f"{LATEST_YEAR} (UTC), e.g. 2026-11-24T14:30:00-03:00"
    )
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        raise out_of_range from None
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise out_of_range
    return instant


__all__ = [
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "Clock",
    "SystemClock",
    "VirtualClock",
    "parse_instant",
    "timedelta",
]
