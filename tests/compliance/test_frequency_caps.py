"""Frequency caps and pacing, counted per debtor (or per debt) across all phones
and campaigns, on local days in every plausible zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ivr.compliance.decision import decide
from ivr.compliance.facts import ContactHistory, PastAttempt

from .factories import NEW_YORK, SAO_PAULO, br_facts, local, open_campaign, rule_ids, us_facts

MANAUS = "America/Manaus"


def attempt(at, debt_id=None, outcome="completed", conversation=False):
    return PastAttempt(at=at, debt_id=debt_id, outcome=outcome, conversation=conversation)


def test_brazil_allows_one_call_per_local_day():
    morning = local(SAO_PAULO, 2026, 11, 24, 9, 0)
    facts = br_facts("SP", attempts=(attempt(morning),))
    decision = decide(facts, local(SAO_PAULO, 2026, 11, 24, 15, 0))
    assert rule_ids(decision) == {"BR-FREQ"}
    (reason,) = decision.reasons
    assert (reason.clause, reason.limit) == ("day", 1)
    assert reason.until == local(SAO_PAULO, 2026, 11, 25, 0, 0)
    assert decision.next_allowed_at == local(SAO_PAULO, 2026, 11, 25, 8, 0)


def test_brazil_allows_three_calls_in_seven_days():
    attempts = tuple(attempt(local(SAO_PAULO, 2026, 11, day, 10, 0)) for day in (18, 20, 23))
    facts = br_facts("SP", attempts=attempts)
    decision = decide(facts, local(SAO_PAULO, 2026, 11, 24, 10, 0))
    assert [(r.rule_id, r.clause, r.limit) for r in decision.reasons] == [("BR-FREQ", "week", 3)]
    # The call of the 18th leaves the 7 days at 10:00 on the 25th.
    assert decision.next_allowed_at == local(SAO_PAULO, 2026, 11, 25, 10, 0)
    assert decide(facts, decision.next_allowed_at).allowed


def test_caps_count_across_phones_campaigns_and_debts():
    # Attempts carry no phone or campaign at all: every one of the debtor's counts.
    attempts = (attempt(local(SAO_PAULO, 2026, 11, 24, 9, 0), debt_id=999),)
    assert not decide(br_facts("SP", attempts=attempts), local(SAO_PAULO, 2026, 11, 24, 16)).allowed


def test_local_day_is_counted_in_every_plausible_zone():
    # 00:30 Tuesday in São Paulo is 23:30 Monday in Manaus: the call counts on both days.
    late = local(SAO_PAULO, 2026, 11, 24, 0, 30)
    tuesday_ten = local(SAO_PAULO, 2026, 11, 24, 10, 0)
    both = br_facts("AM", frozenset({SAO_PAULO, MANAUS}), attempts=(attempt(late),))
    decision = decide(both, tuesday_ten)
    assert [(r.rule_id, r.clause) for r in decision.reasons] == [("BR-FREQ", "day")]
    assert decision.reasons[0].until == local(SAO_PAULO, 2026, 11, 25, 0, 0)
    manaus_only = br_facts("AM", frozenset({MANAUS}), attempts=(attempt(late),))
    assert decide(manaus_only, tuesday_ten).allowed


def test_campaign_cap_narrows_but_never_widens_the_preset():
    attempts = (attempt(local(SAO_PAULO, 2026, 11, 23, 10, 0)),)
    at = local(SAO_PAULO, 2026, 11, 24, 10, 0)
    narrower = br_facts("SP", attempts=attempts, campaign=open_campaign(max_per_week=1))
    decision = decide(narrower, at)
    assert [(r.rule_id, r.clause, r.limit) for r in decision.reasons] == [
        ("CAMPAIGN-CAP", "week", 1)
    ]
    wider = open_campaign(max_per_day=5, max_per_week=20)
    three = tuple(attempt(local(SAO_PAULO, 2026, 11, d, 10, 0)) for d in (20, 21, 23))
    assert rule_ids(decide(br_facts("SP", attempts=three, campaign=wider), at)) == {"BR-FREQ"}


def test_campaign_cap_of_zero_never_calls():
    decision = decide(
        br_facts("SP", campaign=open_campaign(max_per_day=0)), local(SAO_PAULO, 2026, 11, 24, 10)
    )
    assert [(r.rule_id, r.until) for r in decision.reasons] == [("CAMPAIGN-CAP", None)]
    assert decision.next_allowed_at is None


def test_minimum_interval_between_attempts():
    last = local(NEW_YORK, 2026, 11, 24, 10, 0)
    facts = us_facts(attempts=(attempt(last, outcome="failed"),),
                     campaign=open_campaign(min_minutes_between_attempts=240))  # fmt: skip
    decision = decide(facts, last + timedelta(hours=1))
    assert [(r.rule_id, r.until) for r in decision.reasons] == [
        ("MIN-INTERVAL", last + timedelta(hours=4))
    ]
    assert decision.next_allowed_at == last + timedelta(hours=4)


def test_retry_delay_follows_the_last_outcome():
    last = local(NEW_YORK, 2026, 11, 24, 10, 0)
    campaign = open_campaign(
        retry_busy_minutes=30, retry_no_answer_minutes=120, retry_machine_minutes=600
    )
    for outcome, minutes in (("busy", 30), ("no-answer", 120), ("machine", 600)):
        facts = us_facts(attempts=(attempt(last, outcome=outcome),), campaign=campaign)
        decision = decide(facts, last + timedelta(minutes=10))
        assert [(r.rule_id, r.clause) for r in decision.reasons] == [("RETRY-DELAY", outcome)]
        assert decision.reasons[0].until == last + timedelta(minutes=minutes)
    completed = us_facts(attempts=(attempt(last),), campaign=campaign)
    assert decide(completed, last + timedelta(minutes=10)).allowed


def test_regulation_f_allows_seven_calls_in_seven_days_per_debt():
    days = range(17, 24)  # 17..23 November, one call a day about debt 20
    attempts = tuple(attempt(local(NEW_YORK, 2026, 11, d, 10, 0), debt_id=20) for d in days[:6])
    at = local(NEW_YORK, 2026, 11, 23, 18, 0)
    assert decide(us_facts(attempts=attempts), at).allowed  # the 7th call
    seventh = attempts + (attempt(local(NEW_YORK, 2026, 11, 23, 12, 0), debt_id=20),)
    decision = decide(us_facts(attempts=seventh), at)
    assert [(r.rule_id, r.clause, r.limit) for r in decision.reasons] == [
        ("US-REGF-7IN7", "week", 7)
    ]
    assert decision.next_allowed_at == local(NEW_YORK, 2026, 11, 24, 10, 0)


def test_regulation_f_counts_each_debt_apart_but_unknown_debt_against_all():
    other_debt = tuple(
        attempt(local(NEW_YORK, 2026, 11, d, 10, 0), debt_id=21) for d in range(17, 24)
    )
    at = local(NEW_YORK, 2026, 11, 23, 18, 0)
    assert decide(us_facts(attempts=other_debt), at).allowed
    unknown = tuple(attempt(local(NEW_YORK, 2026, 11, d, 10, 0)) for d in range(17, 24))
    assert rule_ids(decide(us_facts(attempts=unknown), at)) == {"US-REGF-7IN7"}


def test_no_call_within_seven_days_after_a_conversation():
    talked = local(NEW_YORK, 2026, 11, 16, 15, 0)
    facts = us_facts(attempts=(attempt(talked, debt_id=20, conversation=True),))
    decision = decide(facts, local(NEW_YORK, 2026, 11, 20, 10, 0))
    assert [(r.rule_id, r.clause) for r in decision.reasons] == [("US-REGF-7IN7", "conversation")]
    assert decision.next_allowed_at == talked + timedelta(days=7)
    assert decide(facts, talked + timedelta(days=7)).allowed
    about_other_debt = us_facts(attempts=(attempt(talked, debt_id=21, conversation=True),))
    assert decide(about_other_debt, local(NEW_YORK, 2026, 11, 20, 10, 0)).allowed


def test_a_requested_callback_is_outside_the_regulation_f_presumption():
    talked = local(NEW_YORK, 2026, 11, 16, 15, 0)
    history = (attempt(talked, debt_id=20, conversation=True),)
    tomorrow = local(NEW_YORK, 2026, 11, 17, 10, 0)
    callback = us_facts(attempts=history, requested_callback_at=talked + timedelta(minutes=3))
    assert decide(callback, tomorrow).allowed
    # Consent given more than 7 days before no longer covers the call.
    stale = us_facts(attempts=history, requested_callback_at=talked - timedelta(days=8))
    assert not decide(stale, tomorrow).allowed


def test_a_requested_callback_still_counts_toward_brazilian_caps():
    morning = local(SAO_PAULO, 2026, 11, 24, 9, 0)
    facts = replace(br_facts("SP", attempts=(attempt(morning),)), requested_callback_at=morning)
    assert rule_ids(decide(facts, local(SAO_PAULO, 2026, 11, 24, 15, 0))) == {"BR-FREQ"}


def test_massachusetts_allows_two_calls_in_seven_days_per_debt():
    attempts = (
        attempt(local(NEW_YORK, 2026, 11, 16, 10, 0), debt_id=20),
        attempt(local(NEW_YORK, 2026, 11, 18, 10, 0), debt_id=20),
    )
    friday = local(NEW_YORK, 2026, 11, 20, 12, 0)
    assert decide(us_facts("NY", attempts=attempts), friday).allowed
    decision = decide(us_facts("MA", attempts=attempts), friday)
    assert [(r.rule_id, r.limit) for r in decision.reasons] == [("US-MA-2IN7", 2)]
    assert decision.next_allowed_at == local(NEW_YORK, 2026, 11, 23, 10, 0)


def test_rolling_days_reach_back_seven_local_days_across_fall_back():
    # Fall back on 1 Nov 2026 makes the 7 local days from 28 Oct 00:00 one hour
    # longer than 7 x 24 h; the call counts until the later of the two ends.
    call = local(NEW_YORK, 2026, 10, 28, 0, 30)
    facts = us_facts("MA", attempts=(attempt(call, debt_id=20), attempt(call, debt_id=20)))
    decision = decide(facts, local(NEW_YORK, 2026, 11, 3, 10, 0))
    assert decision.reasons[0].until == local(NEW_YORK, 2026, 11, 4, 0, 0)
    assert local(NEW_YORK, 2026, 11, 4, 0, 0) > call + timedelta(days=7)


def test_unreadable_history_means_do_not_dial():
    facts = replace(br_facts("SP"), history=ContactHistory(available=False))
    decision = decide(facts, local(SAO_PAULO, 2026, 11, 24, 10, 0))
    assert rule_ids(decision) == {"HISTORY-UNAVAILABLE"}
    assert decision.next_allowed_at is None
