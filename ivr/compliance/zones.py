"""Which IANA time zones a debtor may be in, from an override, the address and the phones.

The answer is a set: when the address and the area codes point to different zones, or a
state or area code spans zones, the debtor may be called only while the calling window is
open in every plausible zone (COMPLIANCE.md, "Time zones"; Regulation F 1006.6(b)(1)(i)).
Pure lookups over the reviewed tables in ``ivr/compliance/data/`` (Brazilian DDDs and
states, NANP area codes, US states and Canadian provinces); each file names its sources.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import yaml

SOURCE_OVERRIDE = "override"
SOURCE_ADDRESS = "address"
SOURCE_PHONE = "phone"
SOURCE_ADDRESS_AND_PHONE = "address+phone"
SOURCE_DEFAULT = "default"

SUPPORTED_COUNTRIES = ("BR", "US", "CA")

_DATA_PACKAGE = "ivr.compliance"
_BR_DDD_FILE = "br_ddd_zones.yaml"
_BR_STATE_FILE = "br_state_zones.yaml"
_NANP_FILE = "nanp_area_code_zones.yaml"
_NANP_STATE_FILE = "us_state_zones.yaml"

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_BR_COUNTRY_CODE = "+55"
_NANP_COUNTRY_CODE = "+1"

# Two zones follow "the same rule" when their UTC offsets agree at noon UTC on every day of
# this span: zones that differ only in their history (America/Belem and America/Santarem
# before 2008) are one rule; America/Phoenix and America/Denver are two. A fixed span keeps
# the module free of clocks; it reaches far enough ahead for any debtor called today.
_RULE_SPAN_START = datetime(2024, 1, 1, 12, tzinfo=UTC)
_RULE_SPAN_DAYS = 17 * 366

# Spellings that mean the same word in a place name ("St. John's", "Saint John's").
_PLACE_WORD_ALIASES = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount"}
_PARENTHESES = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class ZoneResolution:
    """The zones a debtor may be in, and how they were found.

    ``zones`` are IANA names; the debtor may be called only when the window is open in ALL
    of them. ``source`` is "override", "address", "phone", "address+phone" (the phones point
    outside the address's zones, so both count) or "default" (nothing usable: the country's
    conservative set). ``uncertain`` is True when the zones follow more than one UTC-offset
    rule. ``notes`` are short machine-readable reasons, e.g. "ddd-97-spans-zones".
    """

    zones: frozenset[str]
    source: str
    uncertain: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class NanpAreaCode:
    """One North American area code: the country and states it serves, and their zones."""

    npa: str
    country: str
    states: tuple[str, ...]
    zones: frozenset[str]


@dataclass(frozen=True)
class _StateZones:
    """A state's zones and the city table that refines them."""

    code: str
    name: str
    zones: frozenset[str]
    unlisted_city_zones: frozenset[str]
    cities: Mapping[str, frozenset[str]]

    def zones_for_city(self, city: str | None) -> tuple[frozenset[str], str | None]:
        """The zones for `city` in this state, and a note when the city did not narrow them."""
        if len(self.zones) == 1:
            return self.zones, None
        if city is None or not city.strip():
            return self.zones, "city-needed"
        for candidate in _city_candidates(city, self.code):
            found = self.cities.get(candidate)
            if found is not None:
                return found, None
        return self.unlisted_city_zones, "city-not-in-table"


# --- public lookups -----------------------------------------------------------------------


def zones_for_br_ddd(ddd: int) -> frozenset[str]:
    """The zones a Brazilian area code (DDD, e.g. 97) covers; ValueError if it is not in use."""
    table = _br_ddd_table()
    if isinstance(ddd, bool) or not isinstance(ddd, int) or ddd not in table:
        raise ValueError(
            f"DDD {ddd!r} is not a Brazilian area code in use; expected one of the 67 DDDs "
            "assigned by Anatel between 11 and 99 (e.g. 11, 21, 97)"
        )
    return table[ddd]


def nanp_area_code(npa: str) -> NanpAreaCode:
    """The US/Canadian area code `npa` (three digits, e.g. "850"); ValueError if unknown."""
    entry = _nanp_table().get(npa) if isinstance(npa, str) else None
    if entry is None:
        raise ValueError(
            f"area code {npa!r} is not a US or Canadian area code in the table; expected "
            "three digits such as '212' or '850'"
        )
    return entry


def nanp_area_codes() -> tuple[str, ...]:
    """Every US/Canadian area code in the table, sorted."""
    return tuple(sorted(_nanp_table()))


def zones_for_phone(e164: str) -> frozenset[str]:
    """The zones a phone number's area code suggests.

    `e164` must be in E.164 form ("+5511912345678", "+12125550123"); anything else raises
    ValueError. Brazilian numbers resolve by DDD and US/Canadian ones by area code; a number
    of another country, a non-geographic number (0800, toll-free) or an unassigned area
    code suggests nothing and gives the empty set.
    """
    area = _phone_area(e164)
    if area is None:
        return frozenset()
    kind, code = area
    if kind == "ddd":
        return _br_ddd_table().get(int(code), frozenset())
    entry = _nanp_table().get(code)
    return entry.zones if entry is not None else frozenset()


def states_for_phones(country: str, phone_numbers: Iterable[str]) -> frozenset[str]:
    """The states (UFs, US states) of `country` that the phones' area codes serve: where a
    debtor whose address names no state may be. Numbers of other countries, non-geographic
    numbers and unassigned area codes suggest nothing."""
    country_code = _country_code(country)
    states: set[str] = set()
    for number in phone_numbers:
        try:
            area = _phone_area(number)
        except ValueError:
            continue
        if area is None or not _area_belongs_to(area, country_code):
            continue
        kind, code = area
        if kind == "ddd":
            states |= _br_ddd_states().get(int(code), frozenset())
        else:
            entry = _nanp_table().get(code)
            if entry is not None and entry.country == country_code:
                states.update(entry.states)
    return frozenset(states)


def plausible_states(
    country: str, state: str | None, phone_numbers: Iterable[str]
) -> frozenset[str]:
    """The states whose law may also bind a call (DebtorFacts.plausible_states): none when
    the address names a state, else the states the phones' area codes serve."""
    if state and state.strip():
        return frozenset()
    return states_for_phones(country, phone_numbers)


def zones_for_state(country: str, state: str, city: str | None = None) -> frozenset[str]:
    """The zones of a state (UF, US state, Canadian province), narrowed by `city` if known.

    `state` is a code ("AM", "TX") or a name ("Amazonas"); cities match ignoring accents and
    case. A city the table does not list leaves every zone of a split state (Pernambuco
    excepted: only Fernando de Noronha is off the mainland zone).
    """
    zones, _ = _state_zones(_country_code(country), state).zones_for_city(city)
    return zones


def resolve_zones(
    *,
    country: str,
    state: str | None,
    city: str | None,
    zip_code: str | None,
    timezone_override: str | None,
    phone_numbers: Sequence[str],
) -> ZoneResolution:
    """Every zone the debtor may plausibly be in.

    A valid IANA override wins alone (an invalid one raises ValueError naming it). Otherwise
    the address (state, refined by city) is stronger than the phones; when the phones' area
    codes point outside the address's zones the answer is the union, source "address+phone".
    With no address the phones' zones are united; with nothing usable the country's
    conservative default set is returned, marked uncertain. `zip_code` is accepted for a
    future ZIP refinement and does not narrow the answer yet. Malformed phone numbers and
    unknown countries or states raise ValueError.
    """
    override = timezone_override.strip() if timezone_override is not None else ""
    if override:
        return ZoneResolution(
            zones=frozenset({_valid_zone_name(override)}),
            source=SOURCE_OVERRIDE,
            uncertain=False,
            notes=("override",),
        )
    country_code = _country_code(country)
    if isinstance(phone_numbers, str):
        raise ValueError(
            "phone_numbers must be a sequence of E.164 numbers, not a single string; "
            "expected e.g. ['+5511912345678']"
        )
    notes: list[str] = []

    address_zones: frozenset[str] | None = None
    if state is not None and state.strip():
        state_zones = _state_zones(country_code, state)
        address_zones, city_note = state_zones.zones_for_city(city)
        if len(state_zones.zones) > 1:
            notes.append(f"state-{state_zones.code.lower()}-spans-zones")
        if city_note is not None:
            notes.append(city_note)
    elif city is not None and city.strip():
        notes.append("city-without-state-ignored")

    phone_zones = _phone_zones(country_code, phone_numbers, notes)

    if address_zones is not None:
        if phone_zones and not phone_zones <= address_zones:
            zones = address_zones | phone_zones
            source = SOURCE_ADDRESS_AND_PHONE
            notes.append("phone-suggests-other-zones")
        else:
            zones = address_zones
            source = SOURCE_ADDRESS
    elif phone_zones:
        zones = phone_zones
        source = SOURCE_PHONE
    else:
        zones = _default_zones(country_code)
        source = SOURCE_DEFAULT
        notes.append(f"default-{country_code.lower()}-zones")

    uncertain = source == SOURCE_DEFAULT or distinct_offset_rules(zones) > 1
    return ZoneResolution(
        zones=zones, source=source, uncertain=uncertain, notes=tuple(dict.fromkeys(notes))
    )


@lru_cache(maxsize=4096)
def distinct_offset_rules(zones: frozenset[str]) -> int:
    """How many different UTC-offset rules `zones` follow (see _RULE_SPAN_START)."""
    return len({_rule_signature(name) for name in zones})


def default_zones(country: str) -> frozenset[str]:
    """The conservative set used when nothing about the debtor's location is usable."""
    return _default_zones(_country_code(country))


# --- resolution helpers -------------------------------------------------------------------


def _phone_zones(
    country_code: str, phone_numbers: Iterable[str], notes: list[str]
) -> frozenset[str]:
    """The union of the zones the phones suggest; notes why a phone suggested nothing."""
    zones: set[str] = set()
    for number in phone_numbers:
        area = _phone_area(number)
        if area is None or not _area_belongs_to(area, country_code):
            notes.append("phone-other-country-ignored")
            continue
        kind, code = area
        found = zones_for_phone(number)
        if not found:
            notes.append("phone-area-unknown")
            continue
        if len(found) > 1:
            notes.append(f"{kind}-{code}-spans-zones")
        zones |= found
    return frozenset(zones)


def _area_belongs_to(area: tuple[str, str], country_code: str) -> bool:
    kind, _ = area
    return (kind == "ddd") == (country_code == "BR")


def _phone_area(e164: str) -> tuple[str, str] | None:
    """("ddd", "97") or ("npa", "850") for a phone number; None for other countries."""
    if not isinstance(e164, str) or not _E164.fullmatch(e164):
        raise ValueError(
            f"phone number {_masked(e164)} is not in E.164 form; expected '+', the country "
            "code and the number, digits only, e.g. '+5511912345678'"
        )
    if e164.startswith(_BR_COUNTRY_CODE):
        national = e164[len(_BR_COUNTRY_CODE) :]
        if len(national) not in (10, 11):
            raise ValueError(
                f"phone number {_masked(e164)} is not a Brazilian number; expected +55, a "
                "two-digit DDD and 8 or 9 digits"
            )
        return ("ddd", national[:2])
    if e164.startswith(_NANP_COUNTRY_CODE):
        national = e164[len(_NANP_COUNTRY_CODE) :]
        if len(national) != 10:
            raise ValueError(
                f"phone number {_masked(e164)} is not a North American number; expected +1 "
                "and ten digits"
            )
        return ("npa", national[:3])
    return None


def _masked(value: object) -> str:
    """A phone number fit for an error message: enough to find it, not enough to dial it."""
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    if len(value) <= 6:
        return repr("*" * len(value))
    return repr(value[:4] + "*" * (len(value) - 6) + value[-2:])


def _country_code(country: str) -> str:
    code = country.strip().upper() if isinstance(country, str) else ""
    if code not in SUPPORTED_COUNTRIES:
        raise ValueError(
            f"unsupported country {country!r}; expected one of "
            + ", ".join(repr(c) for c in SUPPORTED_COUNTRIES)
        )
    return code


def _state_zones(country_code: str, state: str) -> _StateZones:
    tables = _state_tables()
    key = _normalize_place(state) if isinstance(state, str) else ""
    found = tables[country_code].get(key)
    if found is None:
        examples = {"BR": "'SP' or 'AM'", "US": "'TX' or 'FL'", "CA": "'ON' or 'BC'"}[country_code]
        raise ValueError(
            f"unknown state {state!r} for country {country_code}; expected a state code such "
            f"as {examples} or the state's name"
        )
    return found


def _valid_zone_name(name: str) -> str:
    if name not in _available_zone_names():
        raise ValueError(
            f"timezone override {name!r} is not an IANA time zone name; expected e.g. "
            "'America/Sao_Paulo' or 'America/Chicago'"
        )
    return name


@cache
def _available_zone_names() -> frozenset[str]:
    names = set(available_timezones())
    names.difference_update({"localtime", "posixrules", "Factory"})
    return frozenset(names)


@cache
def _default_zones(country_code: str) -> frozenset[str]:
    """Every zone of the country's mainland states (US: the 48 states, DC, Alaska, Hawaii)."""
    territories = {"PR", "VI", "GU", "MP", "AS"}
    zones: set[str] = set()
    for code, entry in _state_tables_by_code()[country_code].items():
        if code not in territories:
            zones |= entry.zones
    return frozenset(zones)


@lru_cache(maxsize=512)
def _rule_signature(name: str) -> tuple[tuple[int, int], ...]:
    """The zone's UTC offset over the rule span, as (day index, offset) at each change."""
    zone = ZoneInfo(name)
    changes: list[tuple[int, int]] = []
    previous: int | None = None
    for day in range(_RULE_SPAN_DAYS):
        offset = (_RULE_SPAN_START + timedelta(days=day)).astimezone(zone).utcoffset()
        seconds = int(offset.total_seconds()) if offset is not None else 0
        if seconds != previous:
            changes.append((day, seconds))
            previous = seconds
    return tuple(changes)


# --- place names --------------------------------------------------------------------------


def _normalize_place(name: str) -> str:
    """Lower case, no accents, words separated by single spaces: "São Paulo" -> "sao paulo"."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = re.sub(r"[^0-9a-z]+", " ", plain.casefold()).split()
    return " ".join(_PLACE_WORD_ALIASES.get(word, word) for word in words)


def _city_candidates(city: str, state_code: str) -> Iterable[str]:
    """The city as written, then without "(...)" or a trailing state code ("Recife - PE")."""
    yield _normalize_place(city)
    without_parentheses = _normalize_place(_PARENTHESES.sub(" ", city))
    yield without_parentheses
    words = without_parentheses.split()
    if len(words) > 1 and words[-1] == state_code.lower():
        yield " ".join(words[:-1])


# --- data files ---------------------------------------------------------------------------


def _load_yaml(filename: str) -> Any:
    text = resources.files(_DATA_PACKAGE).joinpath("data", filename).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def _br_ddd_table() -> Mapping[int, frozenset[str]]:
    data = _load_yaml(_BR_DDD_FILE)["ddd"]
    return {int(ddd): frozenset(entry["zones"]) for ddd, entry in data.items()}


@cache
def _br_ddd_states() -> Mapping[int, frozenset[str]]:
    data = _load_yaml(_BR_DDD_FILE)["ddd"]
    return {int(ddd): frozenset(str(s) for s in entry["states"]) for ddd, entry in data.items()}


@cache
def _nanp_table() -> Mapping[str, NanpAreaCode]:
    data = _load_yaml(_NANP_FILE)["area_codes"]
    return {
        str(npa): NanpAreaCode(
            npa=str(npa),
            country=str(entry["country"]),
            states=tuple(str(s) for s in entry["states"]),
            zones=frozenset(entry["zones"]),
        )
        for npa, entry in data.items()
    }


@cache
def _state_tables_by_code() -> Mapping[str, Mapping[str, _StateZones]]:
    """Country -> state code -> zones, from the Brazilian and the North American files."""
    by_country = {"BR": _load_yaml(_BR_STATE_FILE)["states"]}
    by_country.update(_load_yaml(_NANP_STATE_FILE)["countries"])
    return {
        country: {str(code): _build_state(str(code), entry) for code, entry in states.items()}
        for country, states in by_country.items()
    }


@cache
def _state_tables() -> Mapping[str, Mapping[str, _StateZones]]:
    """Country -> normalized state code or name -> zones."""
    index: dict[str, dict[str, _StateZones]] = {}
    for country, states in _state_tables_by_code().items():
        keys: dict[str, _StateZones] = {}
        for code, entry in states.items():
            keys[_normalize_place(code)] = entry
            keys[_normalize_place(entry.name)] = entry
        index[country] = keys
    return index


def _build_state(code: str, entry: Mapping[str, Any]) -> _StateZones:
    zones = frozenset(entry["zones"])
    cities: dict[str, frozenset[str]] = {}
    for group in entry.get("city_groups", ()):
        group_zones = frozenset(group["zones"])
        for city in group["cities"]:
            cities[_normalize_place(str(city))] = group_zones
    unlisted = frozenset(entry.get("unlisted_city_zones", zones))
    return _StateZones(
        code=code,
        name=str(entry["name"]),
        zones=zones,
        unlisted_city_zones=unlisted,
        cities=cities,
    )
