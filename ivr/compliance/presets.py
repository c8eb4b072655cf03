"""The jurisdiction presets of presets.yaml as typed values: legal calling hours
and frequency caps, and which of them apply to a debtor's country and state."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PRESETS_FILE = Path(__file__).with_name("presets.yaml")

# Minutes since local midnight; a day's open ranges are sorted, disjoint, [start, end).
DayRanges = tuple[tuple[int, int], ...]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


@dataclass(frozen=True, slots=True)
class CallingHours:
    """A legal calling window: open ranges per weekday (index 0 = Monday)."""

    name: str
    rule_id: str
    week: tuple[DayRanges, ...]
    closed_on_holidays: bool


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """A legal limit on how often a debtor (or a debt) may be called."""

    rule_id: str
    per_debt: bool
    per_local_day: int | None
    rolling_days: int
    per_rolling_days: int | None
    quiet_days_after_conversation: int | None
    waived_by_requested_callback: bool


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """The presets that bind a call to a debtor of one country and state."""

    country: str
    state: str | None
    calling_hours: CallingHours
    frequency_caps: tuple[FrequencyCap, ...]
    holiday_city_subdivision: str | None = None


class PresetError(ValueError):
    """presets.yaml says something the rules cannot use."""


def fold_place_name(name: str) -> str:
    """Compare place names without case or accents ("São Paulo" == "sao paulo")."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _day_ranges(where: str, texts: Any) -> DayRanges:
    if not isinstance(texts, list):
        raise PresetError(f"{where}: expected a list of 'HH:MM-HH:MM' ranges, got {texts!r}")
    ranges: list[tuple[int, int]] = []
    for text in texts:
        match = _RANGE.match(str(text))
        if not match:
            raise PresetError(f"{where}: {text!r} is not a 'HH:MM-HH:MM' range")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if not (0 <= start < end <= 24 * 60 and m1 < 60 and m2 < 60):
            raise PresetError(f"{where}: {text!r} must start before it ends, within one day")
        ranges.append((start, end))
    return normalise_ranges(ranges)


def normalise_ranges(ranges: list[tuple[int, int]]) -> DayRanges:
    """Sort and join overlapping or touching ranges; drop empty ones."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return tuple(joined)


def _calling_hours(name: str, raw: dict[str, Any]) -> CallingHours:
    where = f"{PRESETS_FILE.name}: calling_hours.{name}"
    week = raw.get("week") or {}
    missing = [day for day in WEEKDAYS if day not in week]
    if missing:
        raise PresetError(f"{where}.week lacks {', '.join(missing)}; list every day ([] = closed)")
    return CallingHours(
        name=name,
        rule_id=str(raw["rule"]),
        week=tuple(_day_ranges(f"{where}.week.{day}", week[day]) for day in WEEKDAYS),
        closed_on_holidays=bool(raw["closed_on_holidays"]),
    )


def _frequency_cap(rule_id: str, raw: dict[str, Any]) -> FrequencyCap:
    where = f"{PRESETS_FILE.name}: frequency_caps.{rule_id}"
    counted_per = raw.get("counted_per")
    if counted_per not in ("debtor", "debt"):
        raise PresetError(f"{where}.counted_per is {counted_per!r}; expected debtor or debt")
    rolling = raw.get("per_rolling_days") or {}
    return FrequencyCap(
        rule_id=rule_id,
        per_debt=counted_per == "debt",
        per_local_day=raw.get("per_local_day"),
        rolling_days=int(rolling.get("days", 7)),
        per_rolling_days=rolling.get("max"),
        quiet_days_after_conversation=raw.get("quiet_days_after_conversation"),
        waived_by_requested_callback=bool(raw.get("waived_by_requested_callback", False)),
    )


@dataclass(frozen=True, slots=True)
class Presets:
    calling_hours: dict[str, CallingHours]
    frequency_caps: dict[str, FrequencyCap]
    jurisdictions: dict[str, dict[str, Any]]
    city_subdivisions: dict[tuple[str, str, str], str]


@lru_cache(maxsize=1)
def load_presets() -> Presets:
    raw = yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
    hours = {name: _calling_hours(name, body) for name, body in raw["calling_hours"].items()}
    caps = {name: _frequency_cap(name, body) for name, body in raw["frequency_caps"].items()}
    for country, body in raw["jurisdictions"].items():
        for state, choice in [("default", body["default"]), *body.get("states", {}).items()]:
            where = f"{PRESETS_FILE.name}: jurisdictions.{country}.{state}"
            if choice["calling_hours"] not in hours:
                raise PresetError(
                    f"{where} names unknown calling_hours {choice['calling_hours']!r}"
                )
            unknown = [cap for cap in choice["frequency_caps"] if cap not in caps]
            if unknown:
                raise PresetError(f"{where} names unknown frequency_caps {unknown}")
    cities = {
        (entry["country"], entry["state"], fold_place_name(entry["city"])): entry["subdivision"]
        for entry in raw.get("package_city_holidays", [])
    }
    return Presets(hours, caps, raw["jurisdictions"], cities)


@lru_cache(maxsize=4096)
def jurisdiction_for(country: str, state: str | None, city: str | None = None) -> Jurisdiction:
    """The presets for a debtor; a state without its own law gets the country default."""
    presets = load_presets()
    body = presets.jurisdictions.get(country)
    if body is None:
        raise ValueError(
            f"no presets for country {country!r}; expected one of {sorted(presets.jurisdictions)}"
        )
    state_key = state.strip().upper() if state else None
    choice = body.get("states", {}).get(state_key, body["default"])
    city_subdivision = None
    if state_key and city:
        city_subdivision = presets.city_subdivisions.get(
            (country, state_key, fold_place_name(city))
        )
    return Jurisdiction(
        country=country,
        state=state_key,
        calling_hours=presets.calling_hours[choice["calling_hours"]],
        frequency_caps=tuple(presets.frequency_caps[name] for name in choice["frequency_caps"]),
        holiday_city_subdivision=city_subdivision,
    )


def jurisdictions_for(
    country: str,
    state: str | None,
    city: str | None = None,
    plausible_states: frozenset[str] = frozenset(),
) -> tuple[Jurisdiction, ...]:
    """Every jurisdiction whose law may bind a call to the debtor: their state's when the
    address names one; otherwise the country default's and that of each state the phones'
    area codes serve (`plausible_states`). A call must be proper under all of them, as it
    must be in every plausible zone."""
    if state and state.strip():
        return (jurisdiction_for(country, state, city),)
    return (
        jurisdiction_for(country, None),
        *(jurisdiction_for(country, other) for other in sorted(plausible_states)),
    )


def all_rule_ids() -> frozenset[str]:
    """Every rule id a preset can put on a decision."""
    presets = load_presets()
    return frozenset(h.rule_id for h in presets.calling_hours.values()) | frozenset(
        presets.frequency_caps
    )
