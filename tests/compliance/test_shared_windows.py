"""Decisions share one EffectiveWindow between equal facts (a batch of thousands of
debtors has a few dozen distinct windows). Sharing must never change an answer:
debtors whose zones, hours, place, campaign or holidays differ get their own
window, and a shared window answers each instant afresh."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from ivr.compliance import decision
from ivr.compliance.decision import decide, window_open_at
from ivr.compliance.facts import CallFacts, ExtraHoliday, WeeklyRange
from ivr.compliance.reason import CAMPAIGN_WINDOW, DEBTOR_PREFERENCE, HOLIDAY
from ivr.compliance.windows import EffectiveWindow, effective_window
from tests.compliance.factories import SAO_PAULO, br_facts, open_campaign, rule_ids, us_facts

RIO_BRANCO = "America/Rio_Branco"  # UTC-5 all year; São Paulo is UTC-3
# Tuesday 2026-11-24, 08:30 in São Paulo, 06:30 in Rio Branco.
EARLY = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
NOON_SP = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
AFTERNOON_ONLY = tuple(WeeklyRange(day, time(14), time(18)) for day in range(7))
CITY_HOLIDAY = ExtraHoliday(day=date(2026, 11, 24), country="BR", state="SP", city="Campinas")

# Facts that differ in exactly one thing a window depends on.
VARIANTS: dict[str, CallFacts] = {
    "são paulo": br_facts(),
    "rio branco zone": br_facts(state="AC", zones=frozenset({RIO_BRANCO})),
    "both zones": br_facts(zones=frozenset({SAO_PAULO, RIO_BRANCO}), zone_uncertain=True),
    "rio de janeiro law": br_facts(state="RJ"),
    "prefers afternoons": br_facts(preferred_start=time(14), preferred_end=time(18)),
    "prefers mornings": br_facts(preferred_start=time(9), preferred_end=time(12)),
    "prefers evenings": br_facts(preferred_start=time(18)),
    "campinas, a holiday there": br_facts(
        city="Campinas", extra_holidays=frozenset({CITY_HOLIDAY})
    ),
    "santos, no holiday there": br_facts(city="Santos", extra_holidays=frozenset({CITY_HOLIDAY})),
    "afternoon campaign": br_facts(campaign=open_campaign(windows=AFTERNOON_ONLY)),
    "new york": us_facts(),
}
INSTANTS = [EARLY, NOON_SP, NOON_SP + timedelta(hours=4), NOON_SP + timedelta(days=4)]


def _fresh_decisions(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, datetime], object]:
    """Each decision with a window of its own, built for it alone."""
    with monkeypatch.context() as patch:
        patch.setattr(decision, "effective_window", EffectiveWindow)
        return {(name, at): decide(facts, at) for name, facts in VARIANTS.items() for at in INSTANTS}


def test_shared_windows_decide_exactly_as_fresh_ones_in_any_order(monkeypatch) -> None:
    expected = _fresh_decisions(monkeypatch)
    # Interleaved, the way a batch meets them: instant by instant, then debtor by debtor.
    for at in INSTANTS:
        for name, facts in VARIANTS.items():
            assert decide(facts, at) == expected[(name, at)], (name, at)
    for name, facts in reversed(VARIANTS.items()):
        for at in reversed(INSTANTS):
            assert decide(facts, at) == expected[(name, at)], (name, at)


def test_debtors_of_one_batch_in_different_zones_or_hours_get_different_decisions() -> None:
    sao_paulo, rio_branco = VARIANTS["são paulo"], VARIANTS["rio branco zone"]
    assert decide(sao_paulo, EARLY).allowed
    assert not decide(rio_branco, EARLY).allowed  # 06:30 there
    assert decide(sao_paulo, EARLY).allowed  # and the first answer still holds
    assert rule_ids(decide(VARIANTS["prefers afternoons"], NOON_SP)) == {DEBTOR_PREFERENCE}
    assert decide(VARIANTS["prefers mornings"], NOON_SP - timedelta(hours=1)).allowed
    assert rule_ids(decide(VARIANTS["campinas, a holiday there"], NOON_SP)) == {HOLIDAY}
    assert decide(VARIANTS["santos, no holiday there"], NOON_SP).allowed
    assert rule_ids(decide(VARIANTS["afternoon campaign"], NOON_SP)) == {CAMPAIGN_WINDOW}


def test_windows_are_shared_only_between_facts_that_give_the_same_window() -> None:
    def window(facts: CallFacts) -> EffectiveWindow:
        return effective_window(facts.debtor, facts.campaign, facts.extra_holidays)

    base = VARIANTS["são paulo"]
    # Who the debtor is, and blocks that are not about the clock, do not change the window.
    same = replace(
        base, debtor=replace(base.debtor, id=99, voice_opt_out=True, document_blocked=True)
    )
    assert window(same) is window(base)
    windows = [window(facts) for facts in VARIANTS.values()]
    assert len({id(w) for w in windows}) == len(VARIANTS)


def test_a_shared_window_answers_each_instant_afresh() -> None:
    facts = VARIANTS["prefers mornings"]  # 09:00-12:00 in São Paulo
    morning = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 10:00
    afternoon = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 14:00
    assert [window_open_at(facts, t) for t in (morning, afternoon, morning, afternoon)] == [
        True,
        False,
        True,
        False,
    ]
    blocked = decide(facts, afternoon)
    assert not blocked.allowed
    assert decide(facts, morning).allowed
    assert decide(facts, afternoon) == blocked
    # Same instant, another horizon: the reasons' "until" is searched within it.
    assert decide(facts, afternoon, horizon=timedelta(hours=1)).reasons[0].until is None
    assert decide(facts, afternoon).reasons[0].until == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
