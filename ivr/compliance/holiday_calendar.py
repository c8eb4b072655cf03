"""Holidays on which calls are closed: national and state ones from the `holidays`
package (cached per country, subdivision and year), plus the supervisor's list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays

from ivr.compliance.facts import ExtraHoliday
from ivr.compliance.presets import fold_place_name


@lru_cache(maxsize=1024)
def package_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """National holidays, plus the subdivision's own when it is one the package knows."""
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        # A state the package does not know still has the national holidays.
        calendar = holidays.country_holidays(country, years=year)
    return frozenset(calendar)


def supervisor_holidays(
    listed: Iterable[ExtraHoliday], country: str, state: str | None, city: str | None
) -> frozenset[date]:
    """The listed holidays that cover a debtor's place: its country, state or city."""
    state_key = state.strip().upper() if state else None
    city_key = fold_place_name(city) if city else None
    days: set[date] = set()
    for holiday in listed:
        if holiday.country != country:
            continue
        if holiday.state is not None and holiday.state.strip().upper() != state_key:
            continue
        if holiday.city is not None and fold_place_name(holiday.city) != city_key:
            continue
        days.add(holiday.day)
    return frozenset(days)


class HolidayCalendar:
    """Answers "is this local date a day off for calls?" for one debtor."""

    def __init__(
        self,
        country: str,
        subdivisions: tuple[str | None, ...],
        include_package: bool,
        listed: frozenset[date],
    ) -> None:
        self._country = country
        self._subdivisions = subdivisions
        self._include_package = include_package
        self._listed = listed

    @property
    def closes_anything(self) -> bool:
        return self._include_package or bool(self._listed)

    def is_holiday(self, day: date) -> bool:
        if day in self._listed:
            return True
        if not self._include_package:
            return False
        return any(
            day in package_holidays(self._country, subdivision, day.year)
            for subdivision in self._subdivisions
        )
