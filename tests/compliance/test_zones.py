"""Time-zone resolution for debtors: DDD and area-code tables, address refinement, merging."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.compliance import zones as zones_module
from ivr.compliance.zones import (
    ZoneResolution,
    default_zones,
    distinct_offset_rules,
    nanp_area_code,
    nanp_area_codes,
    resolve_zones,
    states_for_phones,
    zones_for_br_ddd,
    zones_for_phone,
    zones_for_state,
)

SP = "America/Sao_Paulo"
NORONHA = "America/Noronha"
RECIFE = "America/Recife"
FORTALEZA = "America/Fortaleza"
MACEIO = "America/Maceio"
BAHIA = "America/Bahia"
ARAGUAINA = "America/Araguaina"
BELEM = "America/Belem"
SANTAREM = "America/Santarem"
CUIABA = "America/Cuiaba"
CAMPO_GRANDE = "America/Campo_Grande"
PORTO_VELHO = "America/Porto_Velho"
BOA_VISTA = "America/Boa_Vista"
MANAUS = "America/Manaus"
EIRUNEPE = "America/Eirunepe"
RIO_BRANCO = "America/Rio_Branco"

NEW_YORK = "America/New_York"
CHICAGO = "America/Chicago"
DENVER = "America/Denver"
PHOENIX = "America/Phoenix"
LOS_ANGELES = "America/Los_Angeles"
BOISE = "America/Boise"
HONOLULU = "Pacific/Honolulu"

# The independent check on br_ddd_zones.yaml: every DDD in use and its exact zone set,
# written out from Lei 12.876/2013, tzdata zone.tab and the TSE list of Amazonas
# municipalities on Acre time -- not read from the data file.
EXPECTED_DDD_ZONES: dict[int, frozenset[str]] = {
    **{ddd: frozenset({SP}) for ddd in (11, 12, 13, 14, 15, 16, 17, 18, 19)},  # SP
    **{ddd: frozenset({SP}) for ddd in (21, 22, 24)},  # RJ
    **{ddd: frozenset({SP}) for ddd in (27, 28)},  # ES
    **{ddd: frozenset({SP}) for ddd in (31, 32, 33, 34, 35, 37, 38)},  # MG
    **{ddd: frozenset({SP}) for ddd in (41, 42, 43, 44, 45, 46)},  # PR
    **{ddd: frozenset({SP}) for ddd in (47, 48, 49)},  # SC
    **{ddd: frozenset({SP}) for ddd in (51, 53, 54, 55)},  # RS
    61: frozenset({SP}),  # DF and the Goias Entorno
    62: frozenset({SP}),  # GO
    63: frozenset({ARAGUAINA}),  # TO
    64: frozenset({SP}),  # GO
    65: frozenset({CUIABA}),  # MT: Cuiaba region
    66: frozenset({CUIABA, SP}),  # MT: rest, incl. the Araguaia valley on Brasilia time de facto
    67: frozenset({CAMPO_GRANDE}),  # MS
    68: frozenset({RIO_BRANCO}),  # AC
    69: frozenset({PORTO_VELHO}),  # RO
    **{ddd: frozenset({BAHIA}) for ddd in (71, 73, 74, 75, 77)},  # BA
    79: frozenset({MACEIO}),  # SE
    81: frozenset({RECIFE, NORONHA}),  # PE: Recife and Fernando de Noronha
    82: frozenset({MACEIO}),  # AL
    83: frozenset({FORTALEZA}),  # PB
    84: frozenset({FORTALEZA}),  # RN
    85: frozenset({FORTALEZA}),  # CE
    86: frozenset({FORTALEZA}),  # PI (+ Timon MA)
    87: frozenset({RECIFE}),  # PE interior
    88: frozenset({FORTALEZA}),  # CE
    89: frozenset({FORTALEZA}),  # PI
    91: frozenset({BELEM}),  # PA east
    92: frozenset({MANAUS}),  # AM: Manaus region
    93: frozenset({SANTAREM, BELEM}),  # PA west, straddling the Xingu
    94: frozenset({BELEM}),  # PA south-east
    95: frozenset({BOA_VISTA}),  # RR
    96: frozenset({BELEM}),  # AP (+ Afua, Chaves PA)
    97: frozenset({MANAUS, EIRUNEPE}),  # AM interior, incl. the south-west on Acre time
    98: frozenset({FORTALEZA}),  # MA
    99: frozenset({FORTALEZA}),  # MA
}


def resolve(**overrides: object) -> ZoneResolution:
    arguments: dict[str, object] = {
        "country": "BR",
        "state": None,
        "city": None,
        "zip_code": None,
        "timezone_override": None,
        "phone_numbers": [],
    }
    arguments.update(overrides)
    return resolve_zones(**arguments)  # type: ignore[arg-type]


# --- Brazilian DDDs -----------------------------------------------------------------------


def test_expected_table_has_the_67_ddds_in_use() -> None:
    assert len(EXPECTED_DDD_ZONES) == 67


@pytest.mark.parametrize("ddd", sorted(EXPECTED_DDD_ZONES))
def test_every_ddd_resolves_to_its_exact_zones(ddd: int) -> None:
    assert zones_for_br_ddd(ddd) == EXPECTED_DDD_ZONES[ddd]


@pytest.mark.parametrize("ddd", [n for n in range(100) if n not in EXPECTED_DDD_ZONES])
def test_unassigned_ddd_is_rejected_with_a_clear_message(ddd: int) -> None:
    with pytest.raises(ValueError, match=rf"DDD {ddd} is not a Brazilian area code in use"):
        zones_for_br_ddd(ddd)


@pytest.mark.parametrize("bad", ["11", 11.0, True, None])
def test_ddd_must_be_an_int(bad: object) -> None:
    with pytest.raises(ValueError, match="expected one of the 67 DDDs"):
        zones_for_br_ddd(bad)  # type: ignore[arg-type]


def test_ddd_81_covers_recife_and_fernando_de_noronha() -> None:
    result = resolve(phone_numbers=["+5581987654321"])
    assert result.zones == {RECIFE, NORONHA}
    assert result.source == "phone"
    assert result.uncertain  # UTC-3 and UTC-2
    assert "ddd-81-spans-zones" in result.notes


def test_ddd_97_covers_manaus_and_acre_time() -> None:
    result = resolve(phone_numbers=["+5597991234567"])
    assert result.zones == {MANAUS, EIRUNEPE}
    assert result.uncertain  # UTC-4 and UTC-5
    assert "ddd-97-spans-zones" in result.notes


def test_ddd_66_keeps_the_de_facto_brasilia_time_of_the_araguaia_valley() -> None:
    result = resolve(phone_numbers=["+5566999990000"])
    assert result.zones == {CUIABA, SP}
    assert result.uncertain


def test_ddd_93_spans_two_zone_names_with_one_offset_rule() -> None:
    result = resolve(phone_numbers=["+5593991234567"])
    assert result.zones == {SANTAREM, BELEM}
    assert not result.uncertain
    assert "ddd-93-spans-zones" in result.notes


def test_acre_and_western_amazonas_are_utc_minus_5_since_2013() -> None:
    assert distinct_offset_rules(frozenset({RIO_BRANCO, EIRUNEPE})) == 1
    assert distinct_offset_rules(frozenset({RIO_BRANCO, MANAUS})) == 2


# --- phone numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+5511987654321", {SP}),  # mobile, 9 digits
        ("+551133334444", {SP}),  # landline, 8 digits
        ("+5568999887766", {RIO_BRANCO}),
        ("+12125550123", {NEW_YORK}),
        ("+18505550123", {NEW_YORK, CHICAGO}),
        ("+14165550123", {"America/Toronto"}),
        ("+17875550123", {"America/Puerto_Rico"}),
    ],
)
def test_phone_zones_come_from_its_area_code(number: str, expected: set[str]) -> None:
    assert zones_for_phone(number) == expected


@pytest.mark.parametrize(
    "number",
    [
        "+558001234567",  # Brazilian 0800: no DDD
        "+18005550123",  # toll-free
        "+18765550123",  # Jamaica: another NANP country
        "+351912345678",  # Portugal
    ],
)
def test_non_geographic_or_foreign_numbers_suggest_no_zone(number: str) -> None:
    assert zones_for_phone(number) == frozenset()


@pytest.mark.parametrize(
    "number",
    ["5511987654321", "+55 11 98765-4321", "+55119", "+1212555012", "+0123456789", "", 5511],
)
def test_malformed_numbers_are_rejected(number: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        zones_for_phone(number)  # type: ignore[arg-type]


def test_rejection_does_not_echo_the_whole_number() -> None:
    with pytest.raises(ValueError) as raised:
        zones_for_phone("+55 11 98765-4321")
    assert "98765" not in str(raised.value)


# --- Brazilian states and cities ----------------------------------------------------------


def test_amazonas_without_city_is_both_amazon_and_acre_time() -> None:
    result = resolve(state="AM")
    assert result.zones == {MANAUS, EIRUNEPE}
    assert result.source == "address"
    assert result.uncertain
    assert result.notes == ("state-am-spans-zones", "city-needed")


@pytest.mark.parametrize(
    "city",
    [
        "Eirunepé",
        "EIRUNEPE",
        "eirunepe",
        "Envira",
        "Guajará",
        "Ipixuna",
        "Itamarati",
        "Atalaia do Norte",
        "Benjamin Constant",
        "Sao Paulo de Olivenca",
        "Amaturá",
    ],
)
def test_south_west_amazonas_municipalities_are_on_acre_time(city: str) -> None:
    result = resolve(state="AM", city=city)
    assert result.zones == {EIRUNEPE}
    assert not result.uncertain


@pytest.mark.parametrize("city", ["Tabatinga", "Jutaí", "Boca do Acre", "Pauini"])
def test_disputed_amazonas_municipalities_keep_both_zones(city: str) -> None:
    assert zones_for_state("BR", "AM", city) == {EIRUNEPE, MANAUS}


@pytest.mark.parametrize("city", ["Manaus", "Parintins", "Tefé", "Lábrea", "Humaitá"])
def test_rest_of_amazonas_is_on_manaus_time(city: str) -> None:
    assert zones_for_state("BR", "AM", city) == {MANAUS}


def test_unknown_amazonas_city_stays_uncertain() -> None:
    result = resolve(state="AM", city="Vila Nova do Nada")
    assert result.zones == {MANAUS, EIRUNEPE}
    assert "city-not-in-table" in result.notes


@pytest.mark.parametrize(
    "city", ["Fernando de Noronha", "FERNANDO DE NORONHA", "fernando-de-noronha", "Noronha"]
)
def test_fernando_de_noronha_is_utc_minus_2(city: str) -> None:
    assert zones_for_state("BR", "PE", city) == {NORONHA}


@pytest.mark.parametrize("city", ["Recife", "Caruaru", "Petrolina", "Recife - PE", "Olinda (PE)"])
def test_mainland_pernambuco_is_recife(city: str) -> None:
    assert zones_for_state("BR", "PE", city) == {RECIFE}


def test_pernambuco_without_city_includes_noronha() -> None:
    assert zones_for_state("BR", "PE") == {RECIFE, NORONHA}


def test_para_lists_belem_and_santarem_but_is_not_uncertain() -> None:
    result = resolve(state="PA")
    assert result.zones == {BELEM, SANTAREM}
    assert not result.uncertain
    assert zones_for_state("BR", "PA", "Santarém") == {SANTAREM}
    assert zones_for_state("BR", "PA", "Belém") == {BELEM}


def test_araguaia_valley_is_uncertain_but_cuiaba_is_not() -> None:
    assert zones_for_state("BR", "MT", "Barra do Garças") == {CUIABA, SP}
    assert zones_for_state("BR", "MT", "Cuiabá") == {CUIABA}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("SP", {SP}),
        ("sp", {SP}),
        ("São Paulo", {SP}),
        ("sao paulo", {SP}),
        ("Acre", {RIO_BRANCO}),
        ("TO", {ARAGUAINA}),
        ("BA", {BAHIA}),
        ("SE", {MACEIO}),
        ("RR", {BOA_VISTA}),
    ],
)
def test_states_are_found_by_code_or_name(state: str, expected: set[str]) -> None:
    assert zones_for_state("BR", state) == expected


def test_every_brazilian_state_is_covered() -> None:
    ufs = "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO"
    for uf in ufs.split():
        assert zones_for_state("BR", uf)


# --- override -----------------------------------------------------------------------------


def test_override_wins_alone() -> None:
    result = resolve(
        state="AM",
        city="Eirunepé",
        phone_numbers=["+5581987654321"],
        timezone_override="America/Sao_Paulo",
    )
    assert result == ZoneResolution(frozenset({SP}), "override", False, ("override",))


def test_invalid_override_is_rejected_naming_the_value() -> None:
    with pytest.raises(ValueError, match=r"'Brazil/Brasilia' is not an IANA time zone name"):
        resolve(timezone_override="Brazil/Brasilia")


@pytest.mark.parametrize("bad", ["UTC-3", "America/Nowhere", "../etc/passwd", "localtime"])
def test_override_must_be_a_real_zone(bad: str) -> None:
    with pytest.raises(ValueError, match="expected e.g."):
        resolve(timezone_override=bad)


def test_blank_override_is_no_override() -> None:
    assert resolve(state="SP", timezone_override="  ").source == "address"


# --- address against phones ---------------------------------------------------------------


def test_address_and_agreeing_phone_give_the_address() -> None:
    result = resolve(state="SP", city="Campinas", phone_numbers=["+5519987654321"])
    assert result == ZoneResolution(frozenset({SP}), "address", False, ())


def test_phone_inside_the_address_zones_does_not_narrow_them() -> None:
    result = resolve(state="AM", phone_numbers=["+5592991234567"])
    assert result.zones == {MANAUS, EIRUNEPE}
    assert result.source == "address"


def test_address_and_phone_disagreeing_give_the_union_and_uncertainty() -> None:
    # Lives in São Paulo, keeps a phone from Acre: call only when open in both.
    result = resolve(state="SP", city="São Paulo", phone_numbers=["+5568999887766"])
    assert result.zones == {SP, RIO_BRANCO}
    assert result.source == "address+phone"
    assert result.uncertain
    assert "phone-suggests-other-zones" in result.notes


def test_disagreement_within_one_offset_rule_is_not_uncertain() -> None:
    result = resolve(state="SP", phone_numbers=["+5571987654321"])  # Salvador
    assert result.zones == {SP, BAHIA}
    assert result.source == "address+phone"
    assert not result.uncertain


def test_without_address_the_phones_are_united() -> None:
    result = resolve(phone_numbers=["+5511987654321", "+5592991234567"])
    assert result.zones == {SP, MANAUS}
    assert result.source == "phone"
    assert result.uncertain


def test_phones_of_another_country_are_ignored() -> None:
    result = resolve(state="RJ", phone_numbers=["+12125550123"])
    assert result.zones == {SP}
    assert "phone-other-country-ignored" in result.notes


def test_city_without_state_is_not_used() -> None:
    result = resolve(city="Manaus", phone_numbers=["+5511987654321"])
    assert result.zones == {SP}
    assert "city-without-state-ignored" in result.notes


def test_nothing_usable_gives_the_conservative_brazilian_default() -> None:
    result = resolve(phone_numbers=["+558001234567"])
    assert result.source == "default"
    assert result.uncertain
    assert {NORONHA, SP, MANAUS, RIO_BRANCO} <= result.zones
    assert result.zones == default_zones("BR")
    assert "phone-area-unknown" in result.notes


def test_us_default_covers_the_contiguous_states_alaska_and_hawaii() -> None:
    result = resolve(country="US")
    assert result.source == "default"
    assert result.uncertain
    assert {
        NEW_YORK,
        CHICAGO,
        DENVER,
        PHOENIX,
        LOS_ANGELES,
        "America/Anchorage",
        "America/Adak",
        HONOLULU,
    } <= result.zones
    assert "America/Puerto_Rico" not in result.zones


# --- invalid inputs -----------------------------------------------------------------------


def test_unknown_state_is_rejected_naming_it_and_what_is_expected() -> None:
    with pytest.raises(
        ValueError, match=r"unknown state 'XX' for country BR; expected a state code"
    ):
        resolve(state="XX")
    with pytest.raises(ValueError, match=r"unknown state 'SP' for country US"):
        resolve(country="US", state="SP")


def test_unknown_country_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unsupported country 'AR'; expected one of 'BR'"):
        resolve(country="AR")


def test_a_single_string_is_not_a_list_of_phones() -> None:
    with pytest.raises(ValueError, match="sequence of E.164 numbers"):
        resolve(phone_numbers="+5511987654321")


def test_malformed_phone_in_the_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="not in E.164 form"):
        resolve(state="SP", phone_numbers=["(11) 98765-4321"])


# --- US and Canada ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("npa", "expected"),
    [
        ("212", {NEW_YORK}),
        ("305", {NEW_YORK}),
        ("312", {CHICAGO}),
        ("713", {CHICAGO}),
        ("303", {DENVER}),
        ("602", {PHOENIX}),
        ("213", {LOS_ANGELES}),
        ("808", {HONOLULU}),
        ("202", {NEW_YORK}),
        ("850", {NEW_YORK, CHICAGO}),  # Florida panhandle
        ("448", {NEW_YORK, CHICAGO}),
        ("915", {DENVER}),  # El Paso
        ("432", {CHICAGO}),
        ("208", {BOISE, LOS_ANGELES}),  # Idaho panhandle
        ("541", {LOS_ANGELES, BOISE}),  # Malheur County OR
        ("928", {PHOENIX, DENVER}),  # Navajo Nation
        ("906", {"America/Detroit", "America/Menominee"}),
        ("270", {CHICAGO, NEW_YORK}),
        ("606", {NEW_YORK, "America/Kentucky/Monticello", CHICAGO}),
        ("423", {NEW_YORK, CHICAGO}),
        ("931", {CHICAGO}),
        ("605", {CHICAGO, DENVER}),
        ("308", {CHICAGO, DENVER}),
        ("785", {CHICAGO, DENVER}),
        ("620", {CHICAGO, DENVER}),
        ("775", {LOS_ANGELES, DENVER, BOISE}),
        ("334", {CHICAGO, NEW_YORK}),
        (
            "219",
            {
                CHICAGO,
                "America/Indiana/Knox",
                "America/Indiana/Winamac",
                "America/Indiana/Indianapolis",
            },
        ),
        ("807", {"America/Toronto", "America/Winnipeg", "America/Atikokan"}),
    ],
)
def test_area_code_zones(npa: str, expected: set[str]) -> None:
    assert nanp_area_code(npa).zones == expected


def test_north_dakota_and_alaska_area_codes_cover_every_zone_of_the_state() -> None:
    assert nanp_area_code("701").zones == zones_for_state("US", "ND")
    assert nanp_area_code("907").zones == zones_for_state("US", "AK")
    assert "America/Adak" in nanp_area_code("907").zones


def test_every_area_code_stays_inside_its_states_zones() -> None:
    codes = nanp_area_codes()
    assert len(codes) > 400
    for npa in codes:
        entry = nanp_area_code(npa)
        assert re.fullmatch(r"[2-9][0-9]{2}", npa)
        assert entry.zones, npa
        allowed: set[str] = set()
        for state in entry.states:
            allowed |= zones_for_state(entry.country, state)
        assert entry.zones <= allowed, (npa, entry.zones - allowed)


def test_every_state_has_an_area_code() -> None:
    served = {
        (nanp_area_code(n).country, s) for n in nanp_area_codes() for s in nanp_area_code(n).states
    }
    us = (
        "AL AK AS AZ AR CA CO CT DE DC FL GA GU HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MP "
        "MT NE NV NH NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA VI WA WV WI WY"
    )
    for state in us.split():
        assert ("US", state) in served, state


def test_unknown_area_code_is_rejected() -> None:
    with pytest.raises(ValueError, match="area code '999' is not a US or Canadian area code"):
        nanp_area_code("999")


@pytest.mark.parametrize(
    ("state", "city", "expected"),
    [
        ("AZ", None, {PHOENIX, DENVER}),
        ("AZ", "Phoenix", {PHOENIX}),
        ("AZ", "Window Rock", {DENVER}),
        ("AZ", "Kykotsmovi", {PHOENIX}),  # Hopi, inside the Navajo Nation, no DST
        ("HI", None, {HONOLULU}),
        ("TX", "El Paso", {DENVER}),
        ("TX", "Houston", {CHICAGO}),
        ("TX", "Smallville", {CHICAGO, DENVER}),
        ("FL", "Pensacola", {CHICAGO}),
        ("FL", "Miami", {NEW_YORK}),
        ("IN", "Evansville", {CHICAGO}),
        ("IN", "Indianapolis", {"America/Indiana/Indianapolis"}),
        ("MI", "Iron Mountain", {"America/Menominee"}),
        ("NV", "West Wendover", {DENVER}),
        ("NV", "Las Vegas", {LOS_ANGELES}),
        ("ND", "Dickinson", {DENVER}),
        ("TN", "Chattanooga", {NEW_YORK}),
        ("TN", "Jasper", {CHICAGO}),
        ("OR", "Ontario", {BOISE}),
        ("New York", "Buffalo", {NEW_YORK}),
        ("ak", "Adak", {"America/Adak"}),
        ("AL", "Phenix City", {CHICAGO, NEW_YORK}),
    ],
)
def test_us_state_and_city_refinement(state: str, city: str | None, expected: set[str]) -> None:
    assert zones_for_state("US", state, city) == expected


def test_us_address_against_an_area_code_of_another_zone() -> None:
    result = resolve(country="US", state="NY", city="Buffalo", phone_numbers=["+13105550123"])
    assert result.zones == {NEW_YORK, LOS_ANGELES}
    assert result.source == "address+phone"
    assert result.uncertain


def test_us_debtor_with_a_brazilian_phone_only_gets_the_default() -> None:
    result = resolve(country="US", phone_numbers=["+5511987654321"])
    assert result.source == "default"
    assert "phone-other-country-ignored" in result.notes


def test_canadian_provinces() -> None:
    assert zones_for_state("CA", "ON", "Kenora") == {"America/Winnipeg"}
    assert zones_for_state("CA", "Quebec", "Montréal") == {"America/Toronto"}
    assert zones_for_state("CA", "SK", "Lloydminster") == {"America/Edmonton"}


# --- the data files -----------------------------------------------------------------------


def every_zone_in_the_tables() -> set[str]:
    names: set[str] = set()
    for ddd in EXPECTED_DDD_ZONES:
        names |= zones_for_br_ddd(ddd)
    for npa in nanp_area_codes():
        names |= nanp_area_code(npa).zones
    for country in ("BR", "US", "CA"):
        for state in zones_module._state_tables_by_code()[country].values():
            names |= state.zones | state.unlisted_city_zones
            for city_zones in state.cities.values():
                names |= city_zones
    return names


def test_every_zone_in_the_tables_is_a_valid_iana_zone() -> None:
    names = every_zone_in_the_tables()
    assert len(names) > 60
    for name in names:
        ZoneInfo(name)  # raises when unknown


def test_city_zones_stay_inside_their_states_zones() -> None:
    for country in ("BR", "US", "CA"):
        for state in zones_module._state_tables_by_code()[country].values():
            assert state.unlisted_city_zones <= state.zones, state.code
            for city, city_zones in state.cities.items():
                assert city_zones <= state.zones, (state.code, city)


# --- properties ---------------------------------------------------------------------------

brazilian_numbers = st.builds(
    lambda ddd, mobile, digits: f"+55{ddd}{'9' if mobile else ''}{digits}",
    st.sampled_from(sorted(EXPECTED_DDD_ZONES)),
    st.booleans(),
    st.from_regex(r"[2-9][0-9]{7}", fullmatch=True),
)
north_american_numbers = st.builds(
    lambda npa, rest: f"+1{npa}{rest}",
    st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    st.from_regex(r"[2-9][0-9]{6}", fullmatch=True),
)
VALID_ZONES = every_zone_in_the_tables()


@settings(max_examples=300)
@given(st.lists(brazilian_numbers, max_size=4))
def test_brazilian_phones_always_resolve_to_valid_zones(numbers: list[str]) -> None:
    result = resolve(phone_numbers=numbers)
    assert result.zones
    assert result.zones <= VALID_ZONES | default_zones("BR")
    assert result.source == ("phone" if numbers else "default")
    for number in numbers:
        assert zones_for_phone(number) <= result.zones


@settings(max_examples=300)
@given(
    st.lists(north_american_numbers, max_size=4), st.sampled_from([None, "TX", "FL", "NY", "AZ"])
)
def test_us_phones_always_resolve_to_valid_zones(numbers: list[str], state: str | None) -> None:
    result = resolve(country="US", state=state, phone_numbers=numbers)
    assert result.zones
    for name in result.zones:
        ZoneInfo(name)
    assert result.uncertain == (
        result.source == "default" or distinct_offset_rules(result.zones) > 1
    )
    if state is not None:
        assert zones_for_state("US", state) & result.zones


@given(st.sampled_from(sorted(zones_module._state_tables_by_code()["BR"])), st.text(max_size=30))
def test_any_city_text_narrows_a_state_within_its_zones(state: str, city: str) -> None:
    zones = zones_for_state("BR", state, city)
    assert zones
    assert zones <= zones_for_state("BR", state)


def test_the_states_a_debtors_phones_serve() -> None:
    assert states_for_phones("BR", ["+5521987654321", "+5511987654321"]) == {"RJ", "SP"}
    assert states_for_phones("US", ["+16175550100"]) == {"MA"}
    # Another country's numbers, and a US debtor's Canadian number, suggest nothing.
    assert states_for_phones("BR", ["+16175550100"]) == frozenset()
    assert states_for_phones("US", ["+5521987654321", "+14165550100"]) == frozenset()
    assert states_for_phones("BR", []) == frozenset()
