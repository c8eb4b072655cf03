"""Blocks that time alone never lifts: opt-outs, block lists, wrong numbers,
consent, debt status, a live call, a stopped campaign, unknown zone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ivr.compliance.decision import decide
from ivr.compliance.facts import ContactHistory, DebtFacts, PhoneFacts

from .factories import NEW_YORK, SAO_PAULO, br_facts, local, open_campaign, us_facts

BR_NOON = local(SAO_PAULO, 2026, 11, 24, 12, 0)
US_NOON = local(NEW_YORK, 2026, 11, 24, 12, 0)


def reasons(decision):
    return [(r.rule_id, r.clause) for r in decision.reasons]


def assert_blocks_forever(decision):
    assert not decision.allowed
    assert all(r.until is None for r in decision.reasons)
    assert decision.next_allowed_at is None


def test_opt_out_blocks_forever():
    decision = decide(br_facts("SP", voice_opt_out=True), BR_NOON)
    assert reasons(decision) == [("OPT-OUT", "debtor")]
    assert_blocks_forever(decision)


def test_phone_opt_out_blocks_that_phone():
    facts = replace(br_facts("SP"), phone=PhoneFacts("+5511987654321", voice_opt_out=True))
    assert reasons(decide(facts, BR_NOON)) == [("OPT-OUT", "phone")]


def test_us_opt_out_is_the_regulation_f_rule():
    decision = decide(us_facts(voice_opt_out=True), US_NOON)
    assert reasons(decision) == [("US-REGF-OPTOUT", "debtor")]
    assert_blocks_forever(decision)


def test_nao_me_ligue_blocks_by_document_and_by_number():
    by_document = decide(br_facts("SP", document_blocked=True), BR_NOON)
    assert reasons(by_document) == [("BR-NAO-ME-LIGUE", "document")]
    facts = replace(br_facts("SP"), phone=PhoneFacts("+5511987654321", blocked=True))
    assert reasons(decide(facts, BR_NOON)) == [("BR-NAO-ME-LIGUE", "phone")]


def test_us_block_list_blocks_forever():
    decision = decide(us_facts(document_blocked=True), US_NOON)
    assert reasons(decision) == [("BLOCK-LIST", "document")]
    assert_blocks_forever(decision)


def test_wrong_number_blocks_forever():
    facts = replace(br_facts("SP"), phone=PhoneFacts("+5511987654321", wrong_number=True))
    decision = decide(facts, BR_NOON)
    assert reasons(decision) == [("WRONG-NUMBER", None)]
    assert_blocks_forever(decision)


@pytest.mark.parametrize("line_type", ["mobile", "unknown"])
def test_us_mobile_without_consent_is_never_robocalled(line_type):
    facts = replace(us_facts(), phone=PhoneFacts("+12125550100", line_type=line_type))
    decision = decide(facts, US_NOON)
    assert reasons(decision) == [("US-TCPA-CONSENT", line_type)]
    assert_blocks_forever(decision)


def test_us_landline_needs_no_mobile_consent():
    facts = replace(us_facts(), phone=PhoneFacts("+12125550100", line_type="landline"))
    assert decide(facts, US_NOON).allowed


def test_brazilian_mobile_needs_no_tcpa_consent():
    assert decide(br_facts("SP"), BR_NOON).allowed  # mobile, consent False


@pytest.mark.parametrize("status", ["paid", "disputed", "agreement", "closed"])
def test_debt_not_open_is_never_collected(status):
    facts = replace(br_facts("SP"), debt=DebtFacts(10, status=status))
    decision = decide(facts, BR_NOON)
    assert reasons(decision) == [("BR-CDC-42-UNDUE", status)]
    assert_blocks_forever(decision)


def test_payment_pending_clearance_blocks():
    facts = replace(br_facts("SP"), debt=DebtFacts(10, payment_pending=True))
    assert reasons(decide(facts, BR_NOON)) == [("BR-CDC-42-UNDUE", "payment-pending")]
    us = replace(us_facts(), debt=DebtFacts(20, status="disputed"))
    assert reasons(decide(us, US_NOON)) == [("DEBT-NOT-OPEN", "disputed")]


def test_live_attempt_blocks_a_second_call():
    facts = replace(br_facts("SP"), history=ContactHistory(live_attempt=True))
    decision = decide(facts, BR_NOON)
    assert reasons(decision) == [("LIVE-ATTEMPT", None)]
    assert decision.next_allowed_at is None


@pytest.mark.parametrize("status", ["draft", "paused", "finished"])
def test_campaign_not_running_blocks(status):
    facts = br_facts("SP", campaign=open_campaign(status=status))
    assert reasons(decide(facts, BR_NOON)) == [("CAMPAIGN-NOT-RUNNING", status)]


def test_no_plausible_zone_means_do_not_dial():
    decision = decide(br_facts("SP", zones=frozenset()), BR_NOON)
    assert reasons(decision) == [("ZONE-UNKNOWN", None)]
    assert decision.next_allowed_at is None


def test_every_blocking_reason_is_reported_not_just_the_first():
    facts = replace(
        br_facts("RJ", voice_opt_out=True, document_blocked=True),
        phone=PhoneFacts("+5521987654321", wrong_number=True, voice_opt_out=True),
        debt=DebtFacts(10, status="paid", payment_pending=True),
        history=ContactHistory(live_attempt=True),
        campaign=open_campaign(status="paused"),
    )
    saturday = local(SAO_PAULO, 2026, 11, 28, 10, 0)
    decision = decide(facts, saturday)
    assert reasons(decision) == [
        ("CAMPAIGN-NOT-RUNNING", "paused"),
        ("OPT-OUT", "debtor"),
        ("OPT-OUT", "phone"),
        ("BR-NAO-ME-LIGUE", "document"),
        ("WRONG-NUMBER", None),
        ("BR-CDC-42-UNDUE", "paid"),
        ("BR-CDC-42-UNDUE", "payment-pending"),
        ("LIVE-ATTEMPT", None),
        ("BR-RJ-HOURS", "BR-RJ"),
    ]
    # The time-based rule still says when it alone would open.
    assert decision.reasons[-1].until == local(SAO_PAULO, 2026, 11, 30, 9, 0)
    assert decision.next_allowed_at is None


def test_facts_refuse_values_the_rules_cannot_read():
    with pytest.raises(ValueError, match="not an IANA zone"):
        br_facts("SP", zones=frozenset({"America/Atlantis"}))
    with pytest.raises(ValueError, match="debt status"):
        DebtFacts(1, status="written-off")
    with pytest.raises(ValueError, match="E.164"):
        PhoneFacts("11987654321")
