"""The effective calling window: legal presets, campaign windows, the debtor's own
hours, holidays, uncertain zones and daylight-saving days."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from ivr.compliance.decision import decide, window_open_at
from ivr.compliance.facts import CampaignPolicy, DebtorFacts, ExtraHoliday, WeeklyRange
from ivr.compliance.windows import EffectiveWindow

from .factories import NEW_YORK, SAO_PAULO, br_facts, local, open_campaign, rule_ids, us_facts

MANAUS = "America/Manaus"
RIO_BRANCO = "America/Rio_Branco"
NORONHA = "America/Noronha"
CHICAGO = "America/Chicago"


def test_sao_paulo_saturday_closes_at_14():
    facts = br_facts("SP")
    assert decide(facts, local(SAO_PAULO, 2026, 11, 28, 13, 59)).allowed
    closed = decide(facts, local(SAO_PAULO, 2026, 11, 28, 14, 0))
    assert not closed.allowed
    assert rule_ids(closed) == {"BR-SP-HOURS"}
    # Sunday is closed too, so the next chance is Monday 08:00.
    assert closed.next_allowed_at == local(SAO_PAULO, 2026, 11, 30, 8, 0)


def test_sao_paulo_weekday_window_is_8_to_20():
    facts = br_facts("SP")
    assert not decide(facts, local(SAO_PAULO, 2026, 11, 24, 7, 59)).allowed
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 8, 0)).allowed
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 19, 59, 59)).allowed
    assert not decide(facts, local(SAO_PAULO, 2026, 11, 24, 20, 0)).allowed


def test_alagoas_has_the_sao_paulo_window_under_its_own_law():
    facts = br_facts("AL", frozenset({"America/Maceio"}))
    closed = decide(facts, local("America/Maceio", 2026, 11, 28, 14, 0))
    assert [(r.rule_id, r.clause) for r in closed.reasons] == [("BR-SP-HOURS", "BR-AL")]
    assert decide(facts, local("America/Maceio", 2026, 11, 28, 13, 0)).allowed


def test_rio_de_janeiro_closes_at_19():
    facts = br_facts("RJ")
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 18, 59)).allowed
    closed = decide(facts, local(SAO_PAULO, 2026, 11, 24, 19, 0))
    assert rule_ids(closed) == {"BR-RJ-HOURS"}
    assert closed.next_allowed_at == local(SAO_PAULO, 2026, 11, 25, 9, 0)
    assert not decide(facts, local(SAO_PAULO, 2026, 11, 24, 8, 30)).allowed


def test_rio_de_janeiro_saturday_is_closed():
    decision = decide(br_facts("RJ"), local(SAO_PAULO, 2026, 11, 28, 10, 0))
    assert rule_ids(decision) == {"BR-RJ-HOURS"}
    assert decision.next_allowed_at == local(SAO_PAULO, 2026, 11, 30, 9, 0)


def test_without_a_state_the_laws_of_the_states_the_phones_serve_apply_too():
    """An address without a state and a Rio number (DDD 21): Rio's law binds as well as the
    country default, with Rio's holidays (23 April, São Jorge)."""
    saturday = local(SAO_PAULO, 2026, 11, 28, 10, 0)
    assert decide(br_facts(None), saturday).allowed
    rio = br_facts(None, plausible_states=frozenset({"RJ"}))
    assert rule_ids(decide(rio, saturday)) == {"BR-RJ-HOURS"}
    assert not decide(rio, local(SAO_PAULO, 2026, 11, 24, 8, 30)).allowed  # Rio opens at 9
    sao_jorge = local(SAO_PAULO, 2026, 4, 23, 10, 0)  # a Thursday
    assert decide(br_facts(None), sao_jorge).allowed
    assert rule_ids(decide(rio, sao_jorge)) == {"HOLIDAY"}


def test_without_a_state_a_massachusetts_number_brings_the_massachusetts_cap():
    from ivr.compliance.facts import PastAttempt

    now = local(NEW_YORK, 2026, 11, 24, 12, 0)
    attempts = tuple(
        PastAttempt(at=now - timedelta(days=d), debt_id=20, outcome="no-answer") for d in (1, 2)
    )
    assert decide(us_facts(None, attempts=attempts), now).allowed
    boston = us_facts(None, attempts=attempts, plausible_states=frozenset({"MA"}))
    assert rule_ids(decide(boston, now)) == {"US-MA-2IN7"}


@pytest.mark.parametrize("state", ["SP", "AL", "RJ", "BA", None])
def test_sunday_is_closed_everywhere_in_brazil(state):
    decision = decide(br_facts(state), local(SAO_PAULO, 2026, 11, 29, 11, 0))
    assert not decision.allowed


@pytest.mark.parametrize("state", ["SP", "RJ", "BA", "AM"])
def test_consciencia_negra_is_a_national_holiday(state):
    # 20 November is a national holiday since Lei 14.759/2023 (first kept in 2024).
    friday_noon = local(SAO_PAULO, 2026, 11, 20, 12, 0)
    decision = decide(br_facts(state), friday_noon)
    assert not decision.allowed
    assert "HOLIDAY" in rule_ids(decision)
    holiday = next(r for r in decision.reasons if r.rule_id == "HOLIDAY")
    assert holiday.until == local(SAO_PAULO, 2026, 11, 21, 0, 0)


def test_state_holiday_closes_only_that_state():
    # 9 July, Revolução Constitucionalista, is a São Paulo state holiday (a Thursday in 2026).
    thursday = local(SAO_PAULO, 2026, 7, 9, 10, 0)
    assert "HOLIDAY" in rule_ids(decide(br_facts("SP"), thursday))
    assert decide(br_facts("MG"), thursday).allowed


def test_sao_paulo_city_holidays_from_the_package_close_the_capital_only():
    corpus_christi = local(SAO_PAULO, 2026, 6, 4, 10, 0)  # a São Paulo city holiday
    assert "HOLIDAY" in rule_ids(decide(br_facts("SP", city="São Paulo"), corpus_christi))
    assert decide(br_facts("SP", city="Campinas"), corpus_christi).allowed


def test_supervisor_listed_city_holiday_closes_that_city():
    listed = frozenset({ExtraHoliday(date(2026, 11, 24), "BR", "SP", "Campinas", "Aniversário")})
    tuesday = local(SAO_PAULO, 2026, 11, 24, 10, 0)
    blocked = decide(br_facts("SP", city="campinas", extra_holidays=listed), tuesday)
    assert rule_ids(blocked) == {"HOLIDAY"}
    assert decide(br_facts("SP", city="Santos", extra_holidays=listed), tuesday).allowed


def test_supervisor_listed_holiday_closes_a_us_day_too():
    listed = frozenset({ExtraHoliday(date(2026, 11, 24), "US", "NY", None, "Local day off")})
    facts = replace(us_facts("NY"), extra_holidays=listed)
    assert rule_ids(decide(facts, local(NEW_YORK, 2026, 11, 24, 10, 0))) == {"HOLIDAY"}


def test_regulation_f_allows_sundays_and_holidays():
    facts = us_facts("NY")
    assert decide(facts, local(NEW_YORK, 2026, 11, 29, 10, 0)).allowed  # Sunday
    assert decide(facts, local(NEW_YORK, 2026, 11, 26, 10, 0)).allowed  # Thanksgiving


def test_a_us_campaign_may_close_holidays():
    facts = us_facts("NY", campaign=open_campaign(closed_on_holidays=True))
    decision = decide(facts, local(NEW_YORK, 2026, 11, 26, 10, 0))
    assert rule_ids(decision) == {"HOLIDAY"}
    assert decision.next_allowed_at == local(NEW_YORK, 2026, 11, 27, 8, 0)


def test_us_window_is_8_to_21_local():
    facts = us_facts("CA", frozenset({"America/Los_Angeles"}))
    assert not decide(facts, local("America/Los_Angeles", 2026, 11, 24, 7, 59)).allowed
    assert decide(facts, local("America/Los_Angeles", 2026, 11, 24, 20, 59)).allowed
    assert not decide(facts, local("America/Los_Angeles", 2026, 11, 24, 21, 0)).allowed


def test_spring_forward_day_opens_at_8_local_daylight_time():
    facts = us_facts("NY")
    saturday_night = local(NEW_YORK, 2026, 3, 7, 21, 30)
    decision = decide(facts, saturday_night)
    # 08:00 EDT is 12:00 UTC, not 13:00 as it would be in standard time.
    assert decision.next_allowed_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert not decide(facts, datetime(2026, 3, 8, 11, 59, tzinfo=UTC)).allowed
    assert decide(facts, datetime(2026, 3, 9, 0, 59, tzinfo=UTC)).allowed  # 20:59 EDT
    assert not decide(facts, datetime(2026, 3, 9, 1, 0, tzinfo=UTC)).allowed  # 21:00 EDT


def test_fall_back_day_opens_at_8_local_standard_time():
    facts = us_facts("NY")
    decision = decide(facts, local(NEW_YORK, 2026, 10, 31, 21, 30))
    assert decision.next_allowed_at == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert not decide(facts, datetime(2026, 11, 1, 12, 30, tzinfo=UTC)).allowed  # 07:30 EST
    assert not decide(facts, datetime(2026, 11, 2, 2, 0, tzinfo=UTC)).allowed  # 21:00 EST


def test_a_preference_inside_the_skipped_hour_never_opens_that_night():
    # 02:00-03:00 does not exist on the spring-forward night in New York; a debtor's
    # window of 01:30-02:30 (outside the legal window anyway) is only 01:30-02:00.
    window = EffectiveWindow(
        DebtorFacts(
            id=1, country="US", zones=frozenset({NEW_YORK}), state="NY",
            preferred_start=time(1, 30), preferred_end=time(2, 30),
        ),
        campaign=None,
    )  # fmt: skip
    preference = [p for p in window.parts if p.rule_id == "DEBTOR-PREFERENCE"]
    spans = window.open_intervals(
        datetime(2026, 3, 8, 0, 0, tzinfo=UTC), datetime(2026, 3, 9, 0, 0, tzinfo=UTC), preference
    )
    assert spans == [
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
    ]


def test_uncertain_zone_calls_only_when_open_in_every_zone():
    # Acre (UTC-5) or São Paulo (UTC-3): 08:00 in Rio Branco is 10:00 in São Paulo.
    facts = br_facts("AC", frozenset({SAO_PAULO, RIO_BRANCO}), zone_uncertain=True)
    early = decide(facts, local(SAO_PAULO, 2026, 11, 24, 9, 0))
    assert [(r.rule_id, r.zone) for r in early.reasons] == [("BR-DEFAULT", RIO_BRANCO)]
    assert early.next_allowed_at == local(SAO_PAULO, 2026, 11, 24, 10, 0)
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 19, 59)).allowed
    late = decide(facts, local(SAO_PAULO, 2026, 11, 24, 20, 0))
    assert [(r.rule_id, r.zone) for r in late.reasons] == [("BR-DEFAULT", SAO_PAULO)]


def test_noronha_and_manaus_both_bound_the_window():
    facts = br_facts("PE", frozenset({NORONHA, MANAUS}))
    # Noronha is UTC-2, Manaus UTC-4: open from 08:00 Manaus to 20:00 Noronha.
    assert not decide(facts, local(MANAUS, 2026, 11, 24, 7, 59)).allowed
    assert decide(facts, local(MANAUS, 2026, 11, 24, 8, 0)).allowed
    assert decide(facts, local(NORONHA, 2026, 11, 24, 19, 59)).allowed
    assert not decide(facts, local(NORONHA, 2026, 11, 24, 20, 0)).allowed


def test_us_window_across_eastern_and_central_is_9_to_21_eastern():
    facts = us_facts("NY", frozenset({NEW_YORK, CHICAGO}))
    decision = decide(facts, local(NEW_YORK, 2026, 11, 24, 8, 30))
    assert decision.next_allowed_at == local(NEW_YORK, 2026, 11, 24, 9, 0)


def test_campaign_windows_narrow_with_several_ranges_a_day():
    tuesday = 1
    campaign = open_campaign(
        windows=(
            WeeklyRange(tuesday, time(10), time(12)),
            WeeklyRange(tuesday, time(14), time(16)),
        )
    )
    facts = br_facts("SP", campaign=campaign)
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 11, 0)).allowed
    lunch = decide(facts, local(SAO_PAULO, 2026, 11, 24, 12, 30))
    assert rule_ids(lunch) == {"CAMPAIGN-WINDOW"}
    assert lunch.next_allowed_at == local(SAO_PAULO, 2026, 11, 24, 14, 0)
    evening = decide(facts, local(SAO_PAULO, 2026, 11, 24, 16, 0))
    assert evening.next_allowed_at == local(SAO_PAULO, 2026, 12, 1, 10, 0)


def test_campaign_window_never_widens_the_legal_window():
    campaign = open_campaign(windows=tuple(WeeklyRange(d, time(6), time(23)) for d in range(7)))
    facts = br_facts("SP", campaign=campaign)
    early = decide(facts, local(SAO_PAULO, 2026, 11, 24, 7, 0))
    assert rule_ids(early) == {"BR-SP-HOURS"}
    assert not decide(facts, local(SAO_PAULO, 2026, 11, 29, 10, 0)).allowed  # Sunday


def test_campaign_without_windows_never_calls():
    facts = br_facts("SP", campaign=CampaignPolicy(windows=()))
    decision = decide(facts, local(SAO_PAULO, 2026, 11, 24, 10, 0))
    reason = next(r for r in decision.reasons if r.rule_id == "CAMPAIGN-WINDOW")
    assert reason.until is None
    assert decision.next_allowed_at is None


def test_debtor_preference_narrows_the_window():
    facts = br_facts("SP", preferred_start=time(18), preferred_end=time(22))
    afternoon = decide(facts, local(SAO_PAULO, 2026, 11, 24, 15, 0))
    assert rule_ids(afternoon) == {"DEBTOR-PREFERENCE"}
    assert afternoon.next_allowed_at == local(SAO_PAULO, 2026, 11, 24, 18, 0)
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 19, 0)).allowed
    assert rule_ids(decide(facts, local(SAO_PAULO, 2026, 11, 24, 20, 30))) == {"BR-SP-HOURS"}


def test_overnight_preference_means_evenings_and_mornings():
    facts = br_facts("SP", preferred_start=time(19), preferred_end=time(9))
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 8, 30)).allowed
    assert not decide(facts, local(SAO_PAULO, 2026, 11, 24, 12, 0)).allowed
    assert decide(facts, local(SAO_PAULO, 2026, 11, 24, 19, 30)).allowed


def test_window_reports_every_closed_part_with_its_own_opening():
    campaign = open_campaign(windows=(WeeklyRange(0, time(9), time(10)),))  # Mondays only
    facts = br_facts("SP", campaign=campaign, preferred_start=time(9, 30))
    sunday = decide(facts, local(SAO_PAULO, 2026, 11, 29, 8, 0))
    by_rule = {r.rule_id: r.until for r in sunday.reasons}
    assert by_rule == {
        "BR-SP-HOURS": local(SAO_PAULO, 2026, 11, 30, 8, 0),
        "CAMPAIGN-WINDOW": local(SAO_PAULO, 2026, 11, 30, 9, 0),
        "DEBTOR-PREFERENCE": local(SAO_PAULO, 2026, 11, 29, 9, 30),
    }
    assert sunday.next_allowed_at == local(SAO_PAULO, 2026, 11, 30, 9, 30)


def test_window_open_at_ignores_caps_but_not_holidays():
    facts = br_facts("SP")
    assert window_open_at(facts, local(SAO_PAULO, 2026, 11, 24, 10, 0))
    assert not window_open_at(facts, local(SAO_PAULO, 2026, 11, 20, 10, 0))


def test_naive_instant_is_refused():
    with pytest.raises(ValueError, match="naive"):
        decide(br_facts("SP"), datetime(2026, 11, 24, 10, 0))
