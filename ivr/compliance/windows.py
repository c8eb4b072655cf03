"""The effective calling window of one debtor: legal preset ∩ campaign windows ∩
the debtor's preferred hours, minus holidays, in local time in every plausible zone.

Each of those parts is a window rule of its own, so a closed window is explained
by the rules that close it and when each opens again; the call is allowed at an
instant only if every part is open in every plausible zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from ivr.compliance.facts import CampaignPolicy, DebtorFacts, ExtraHoliday
from ivr.compliance.holiday_calendar import HolidayCalendar, supervisor_holidays
from ivr.compliance.local_time import (
    MINUTES_PER_DAY,
    Interval,
    intersect,
    local_date,
    local_range_instants,
    merge,
    minutes_of,
    zone,
)
from ivr.compliance.presets import DayRanges, jurisdictions_for, normalise_ranges
from ivr.compliance.reason import CAMPAIGN_WINDOW, DEBTOR_PREFERENCE, HOLIDAY, Reason

FULL_DAY: DayRanges = ((0, MINUTES_PER_DAY),)
_ONE_DAY = timedelta(days=1)
# Most closed windows open within a day or two; search that far first.
_FIRST_SEARCH = timedelta(days=2)
_LATER_SEARCH = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class WindowPart:
    """One rule of the window: which minutes of a local date it leaves open."""

    rule_id: str
    clause: str | None
    ranges_on: Callable[[date], DayRanges]


def _weekly(week: Sequence[DayRanges]) -> Callable[[date], DayRanges]:
    return lambda day: week[day.weekday()]


def _closed_on_holidays(calendar: HolidayCalendar) -> Callable[[date], DayRanges]:
    return lambda day: () if calendar.is_holiday(day) else FULL_DAY


def _intersect_ranges(left: DayRanges, right: DayRanges) -> DayRanges:
    result: list[tuple[int, int]] = []
    for a_start, a_end in left:
        for b_start, b_end in right:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return normalise_ranges(result)


def _open_minute(ranges: DayRanges, minute: int) -> bool:
    return any(start <= minute < end for start, end in ranges)


def preferred_ranges(debtor: DebtorFacts) -> DayRanges | None:
    """The debtor's own hours as ranges of a day; None when the debtor set none."""
    if debtor.preferred_start is None and debtor.preferred_end is None:
        return None
    start = (
        0 if debtor.preferred_start is None else minutes_of(debtor.preferred_start, is_end=False)
    )
    end = (
        MINUTES_PER_DAY
        if debtor.preferred_end is None
        else minutes_of(debtor.preferred_end, is_end=True)
    )
    if start < end:
        return ((start, end),)
    if (
        debtor.preferred_start is not None
        and debtor.preferred_end is not None
        and (debtor.preferred_start > debtor.preferred_end)
    ):
        # "After 18:00 or before 09:00": an overnight preference.
        return normalise_ranges([(0, end), (start, MINUTES_PER_DAY)])
    return ()


_DAYS_REMEMBERED = 400  # a year of days ahead and some behind: searches reach that far


class EffectiveWindow:
    """When a debtor may be called as far as the clock and calendar go."""

    def __init__(
        self,
        debtor: DebtorFacts,
        campaign: CampaignPolicy | None,
        extra_holidays: frozenset[ExtraHoliday] = frozenset(),
    ) -> None:
        self.zones: tuple[str, ...] = tuple(sorted(debtor.zones))
        jurisdictions = jurisdictions_for(
            debtor.country, debtor.state, debtor.city, debtor.plausible_states
        )
        parts: list[WindowPart] = []
        for hours in dict.fromkeys(j.calling_hours for j in jurisdictions):
            parts.append(WindowPart(hours.rule_id, hours.name, _weekly(hours.week)))
        if campaign is not None:
            by_weekday: list[list[tuple[int, int]]] = [[] for _ in range(7)]
            for window in campaign.windows:
                by_weekday[window.weekday].append(
                    (minutes_of(window.start, is_end=False), minutes_of(window.end, is_end=True))
                )
            week = tuple(normalise_ranges(ranges) for ranges in by_weekday)
            parts.append(WindowPart(CAMPAIGN_WINDOW, None, lambda day: week[day.weekday()]))
        preferred = preferred_ranges(debtor)
        if preferred is not None:
            parts.append(WindowPart(DEBTOR_PREFERENCE, None, lambda day: preferred))
        for jurisdiction in jurisdictions:  # a holiday in any place the debtor may be
            calendar = HolidayCalendar(
                country=debtor.country,
                subdivisions=(jurisdiction.state, jurisdiction.holiday_city_subdivision),
                include_package=jurisdiction.calling_hours.closed_on_holidays
                or (campaign is not None and campaign.closed_on_holidays),
                listed=supervisor_holidays(
                    extra_holidays, debtor.country, jurisdiction.state, debtor.city
                ),
            )
            if calendar.closes_anything:
                parts.append(WindowPart(HOLIDAY, None, _closed_on_holidays(calendar)))
        self.parts: tuple[WindowPart, ...] = tuple(parts)
        self._combined: dict[date, DayRanges] = {}
        # The last answers, for the many decisions of one batch that share this window
        # and their instant: ((now, horizon_end), reasons) and (instant, open).
        self._last_reasons: tuple[tuple[datetime, datetime], tuple[Reason, ...]] | None = None
        self._last_open: tuple[datetime, bool] | None = None

    # --- one instant -------------------------------------------------------------

    def ranges_on(self, day: date, parts: Sequence[WindowPart] | None = None) -> DayRanges:
        """The open minutes of a local date under `parts` (default: all of them)."""
        if parts is None:
            cached = self._combined.get(day)
            if cached is None:
                cached = self.ranges_on(day, self.parts)
                if len(self._combined) >= _DAYS_REMEMBERED:
                    # A shared window lives as long as the dialer: forget old days.
                    self._combined.clear()
                self._combined[day] = cached
            return cached
        ranges = FULL_DAY
        for part in parts:
            ranges = _intersect_ranges(ranges, part.ranges_on(day))
            if not ranges:
                break
        return ranges

    def is_open(self, instant: datetime) -> bool:
        """True when every part is open at `instant` in every plausible zone."""
        last = self._last_open
        if last is not None and last[0] == instant:
            return last[1]
        answer = self._is_open(instant)
        self._last_open = (instant, answer)
        return answer

    def _is_open(self, instant: datetime) -> bool:
        if not self.zones:
            return False
        for key in self.zones:
            local = instant.astimezone(zone(key))
            if not _open_minute(self.ranges_on(local.date()), local.hour * 60 + local.minute):
                return False
        return True

    def closed_parts(self, instant: datetime) -> list[tuple[WindowPart, str]]:
        """Each part that is closed at `instant`, with the first zone it is closed in."""
        closed: list[tuple[WindowPart, str]] = []
        walls = [(key, instant.astimezone(zone(key))) for key in self.zones]
        for part in self.parts:
            for key, local in walls:
                if not _open_minute(part.ranges_on(local.date()), local.hour * 60 + local.minute):
                    closed.append((part, key))
                    break
        return closed

    def blocking_reasons(self, now: datetime, horizon_end: datetime) -> list[Reason]:
        """A Reason per part closed at `now`, with when that part alone opens."""
        asked = (now, horizon_end)
        last = self._last_reasons
        if last is not None and last[0] == asked:
            return list(last[1])
        reasons = [
            Reason(
                rule_id=part.rule_id,
                until=self.next_open(now, horizon_end, (part,)),
                zone=key,
                clause=part.clause,
            )
            for part, key in self.closed_parts(now)
        ]
        self._last_reasons = (asked, tuple(reasons))
        return reasons

    # --- spans of time -----------------------------------------------------------

    def open_intervals(
        self, start: datetime, end: datetime, parts: Sequence[WindowPart] | None = None
    ) -> list[Interval]:
        """The instants in [start, end) open under `parts` in every plausible zone."""
        if not self.zones or start >= end:
            return []
        result: list[Interval] | None = None
        for key in self.zones:
            found: list[Interval] = []
            # A fall-back at midnight can show the previous date again, hence -1.
            day, last_day = local_date(key, start) - _ONE_DAY, local_date(key, end) + _ONE_DAY
            while day <= last_day:
                for range_start, range_end in self.ranges_on(day, parts):
                    for low, high in local_range_instants(key, day, range_start, range_end):
                        low, high = max(low, start), min(high, end)
                        if low < high:
                            found.append((low, high))
                day += _ONE_DAY
            zone_open = merge(found)
            result = zone_open if result is None else intersect(result, zone_open)
            if not result:
                return []
        return result or []

    def next_open(
        self, start: datetime, limit: datetime, parts: Sequence[WindowPart] | None = None
    ) -> datetime | None:
        """The earliest instant in [start, limit) open under `parts` in every zone."""
        chunk_start, chunk = start, _FIRST_SEARCH
        while chunk_start < limit:
            chunk_end = min(chunk_start + chunk, limit)
            intervals = self.open_intervals(chunk_start, chunk_end, parts)
            if intervals:
                return intervals[0][0]
            chunk_start, chunk = chunk_end, _LATER_SEARCH
        return None


def effective_window(
    debtor: DebtorFacts,
    campaign: CampaignPolicy | None,
    extra_holidays: frozenset[ExtraHoliday] = frozenset(),
) -> EffectiveWindow:
    """The EffectiveWindow of these facts, shared by every decision with equal ones.

    A window is a value: it depends only on the debtor's place, plausible zones and
    preferred hours, the campaign policy and the listed holidays, and its per-day
    memo is the same whoever fills it. A batch of thousands of debtors has a few
    dozen distinct windows; sharing them spares rebuilding one per decision.
    """
    return _shared_window(
        debtor.country,
        debtor.state,
        debtor.city,
        debtor.plausible_states,
        debtor.zones,
        debtor.preferred_start,
        debtor.preferred_end,
        campaign,
        extra_holidays,
    )


@lru_cache(maxsize=4096)
def _shared_window(
    country: str,
    state: str | None,
    city: str | None,
    plausible_states: frozenset[str],
    zones: frozenset[str],
    preferred_start: time | None,
    preferred_end: time | None,
    campaign: CampaignPolicy | None,
    extra_holidays: frozenset[ExtraHoliday],
) -> EffectiveWindow:
    # Exactly the debtor fields EffectiveWindow reads; the others stay at their defaults.
    debtor = DebtorFacts(
        id=0,
        country=country,
        zones=zones,
        state=state,
        city=city,
        preferred_start=preferred_start,
        preferred_end=preferred_end,
        plausible_states=plausible_states,
    )
    return EffectiveWindow(debtor, campaign, extra_holidays)
