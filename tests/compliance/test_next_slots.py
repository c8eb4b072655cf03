"""Callback slots offered to a debtor: whole slots inside the effective window."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ivr.compliance.decision import decide, next_slots
from ivr.compliance.facts import ContactHistory, PastAttempt

from .factories import NEW_YORK, SAO_PAULO, br_facts, local, us_facts


def test_slots_start_on_the_grid_and_fit_before_closing():
    after = local(SAO_PAULO, 2026, 11, 28, 12, 50)  # Saturday, closes at 14:00
    slots = next_slots(br_facts("SP"), after, count=4, slot_minutes=30)
    assert slots == [
        local(SAO_PAULO, 2026, 11, 28, 13, 0),
        local(SAO_PAULO, 2026, 11, 28, 13, 30),
        local(SAO_PAULO, 2026, 11, 30, 8, 0),  # Monday: Sunday is closed
        local(SAO_PAULO, 2026, 11, 30, 8, 30),
    ]


def test_slots_skip_holidays():
    after = local(SAO_PAULO, 2026, 11, 19, 19, 0)  # the eve of Consciência Negra
    slots = next_slots(br_facts("SP"), after, count=3, slot_minutes=60)
    assert slots == [
        local(SAO_PAULO, 2026, 11, 19, 19, 0),
        local(SAO_PAULO, 2026, 11, 21, 8, 0),
        local(SAO_PAULO, 2026, 11, 21, 9, 0),
    ]


def test_slots_respect_the_daily_cap_counting_the_call_in_progress():
    now = local(SAO_PAULO, 2026, 11, 24, 10, 0)
    this_call = PastAttempt(now, debt_id=10, outcome="completed", conversation=True)
    facts = replace(br_facts("SP"), history=ContactHistory((this_call,), live_attempt=True))
    slots = next_slots(facts, now, count=1, slot_minutes=30)
    assert slots == [local(SAO_PAULO, 2026, 11, 25, 8, 0)]


def test_us_callback_after_a_conversation_is_offered_the_same_day():
    now = local(NEW_YORK, 2026, 11, 24, 10, 0)
    this_call = PastAttempt(now, debt_id=20, outcome="completed", conversation=True)
    facts = replace(us_facts(), history=ContactHistory((this_call,), live_attempt=True))
    slots = next_slots(facts, now, count=2, slot_minutes=15)
    assert slots == [now, now + timedelta(minutes=15)]
    booked = replace(facts, history=ContactHistory((this_call,)), requested_callback_at=now)
    assert all(decide(booked, slot).allowed for slot in slots)


def test_no_slots_for_an_opted_out_debtor():
    after = local(SAO_PAULO, 2026, 11, 24, 10, 0)
    assert next_slots(br_facts("SP", voice_opt_out=True), after, count=3, slot_minutes=30) == []


def test_slot_count_and_length_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        next_slots(br_facts("SP"), local(SAO_PAULO, 2026, 11, 24, 10, 0), count=0, slot_minutes=30)
