"""The independent audit of the contact log (ivr.audit), rule by rule, on hand-made logs."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ivr.audit import audit_contact_log
from ivr.models import Attempt, BlockListEntry, Callback, ContactEvent, Debtor, Holiday
from ivr.runtime import Runtime
from tests import factories

T0 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # Tuesday 10:00 in Houston
_keys = itertools.count(1)


def _call(runtime: Runtime, debtor_id: int, at: datetime, **fields) -> int:
    """A finished call to the debtor's first phone about their first debt."""
    with runtime.db.session() as s:
        debtor = s.get_one(Debtor, debtor_id)
        n = next(_keys)
        attempt = Attempt(
            debtor_id=debtor.id, phone_id=debtor.phones[0].id, debt_id=debtor.debts[0].id,
            state="completed", active=False, idempotency_key=f"audit-{n}", carrier_call_sid=f"CAaudit{n}",
            created_at=at, placed_at=at, ended_at=at + timedelta(minutes=2), **fields,
        )
        s.add(attempt)
        s.flush()
        return attempt.id


def _us_debtor(runtime: Runtime, **fields: Any) -> int:
    """A debtor in Houston whose mobile consented to prerecorded calls (unless told otherwise)."""
    fields.setdefault("consent", True)
    with runtime.db.session() as s:
        return factories.debtor(s, None, country="US", state="TX", number="+17135550100", **fields).id


def _reported(runtime: Runtime, rule: str) -> list[dict[str, Any]]:
    with runtime.db.session() as s:
        return [v for v in audit_contact_log(s).violations if v["rule"] == rule]


def _violations(runtime: Runtime, rule: str) -> list[int]:
    return [v["attempt"] for v in _reported(runtime, rule)]


def test_calls_within_seven_days_of_a_conversation_are_reported(sqlite_runtime: Runtime) -> None:
    debtor_id = _us_debtor(sqlite_runtime)
    _call(sqlite_runtime, debtor_id, T0, conversation=True)
    within = _call(sqlite_runtime, debtor_id, T0 + timedelta(days=3))
    last_day = _call(sqlite_runtime, debtor_id, T0 + timedelta(days=6, hours=10))  # local day 7, 20:00
    _call(sqlite_runtime, debtor_id, T0 + timedelta(days=7, hours=1))  # day 8: the quiet days are over
    assert _violations(sqlite_runtime, "US-REGF-7IN7") == [within, last_day]


def test_a_call_the_debtor_asked_for_is_exempt_from_the_quiet_days(sqlite_runtime: Runtime) -> None:
    debtor_id = _us_debtor(sqlite_runtime)
    _call(sqlite_runtime, debtor_id, T0, conversation=True)
    with sqlite_runtime.db.session() as s:
        debtor = s.get_one(Debtor, debtor_id)
        callback = Callback(debtor_id=debtor_id, phone_id=debtor.phones[0].id, due_at=T0 + timedelta(days=2))
        s.add(callback)
        s.flush()
        callback_id = callback.id
    _call(sqlite_runtime, debtor_id, T0 + timedelta(days=2), callback_id=callback_id)
    assert _violations(sqlite_runtime, "US-REGF-7IN7") == []


def test_only_a_voice_opt_out_makes_a_later_call_a_violation(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        by_sms = factories.debtor(s, None).id
        by_voice = factories.debtor(s, None).id
        for debtor_id, channel in ((by_sms, "sms"), (by_voice, "voice")):
            s.add(ContactEvent(debtor_id=debtor_id, kind="opt_out", channel=channel, occurred_at=T0,
                               data={"opted_out_channel": channel}))
    after_sms = _call(sqlite_runtime, by_sms, T0 + timedelta(hours=1))
    after_voice = _call(sqlite_runtime, by_voice, T0 + timedelta(hours=1))
    violations = _violations(sqlite_runtime, "OPT-OUT")
    assert after_voice in violations and after_sms not in violations


def test_calls_after_a_number_or_document_was_block_listed_are_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        by_number = factories.debtor(s, None)
        by_document = factories.debtor(s, None)
        s.add(BlockListEntry(kind="phone", value=by_number.phones[0].number, created_at=T0))
        s.add(BlockListEntry(kind="document", value=by_document.document, created_at=T0))
        by_number_id, by_document_id = by_number.id, by_document.id
    before = _call(sqlite_runtime, by_number_id, T0 - timedelta(hours=1))
    after_number = _call(sqlite_runtime, by_number_id, T0 + timedelta(hours=1))
    after_document = _call(sqlite_runtime, by_document_id, T0 + timedelta(hours=1))
    violations = _violations(sqlite_runtime, "BLOCK-LIST")
    assert sorted(violations) == [after_number, after_document] and before not in violations


def test_a_debtor_without_a_state_is_audited_under_the_law_of_their_phones_state(
    sqlite_runtime: Runtime,
) -> None:
    with sqlite_runtime.db.session() as s:
        rio = factories.debtor(s, None, state=None, number="+5521987650001").id
        sao_paulo = factories.debtor(s, None, state=None, number="+5511987650002").id
    saturday = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # 10:00 in Rio and São Paulo
    called_in_rio = _call(sqlite_runtime, rio, saturday)
    _call(sqlite_runtime, sao_paulo, saturday)
    assert _violations(sqlite_runtime, "BR-RJ-HOURS") == [called_in_rio]
    assert _violations(sqlite_runtime, "BR-DEFAULT") == []


def test_a_call_to_a_us_mobile_without_consent_at_the_time_is_reported(sqlite_runtime: Runtime) -> None:
    never = _us_debtor(sqlite_runtime, consent=False)
    unknown_line = _us_debtor(sqlite_runtime, consent=False, line_type="unknown")
    landline = _us_debtor(sqlite_runtime, consent=False, line_type="landline")
    consented_later = _us_debtor(sqlite_runtime)
    with sqlite_runtime.db.session() as s:
        s.get_one(Debtor, consented_later).phones[0].consent_at = T0 + timedelta(days=1)
    without = _call(sqlite_runtime, never, T0)
    to_unknown_line = _call(sqlite_runtime, unknown_line, T0)
    _call(sqlite_runtime, landline, T0)
    before_consent = _call(sqlite_runtime, consented_later, T0)
    _call(sqlite_runtime, consented_later, T0 + timedelta(days=2))
    assert _violations(sqlite_runtime, "US-TCPA-CONSENT") == [without, to_unknown_line, before_consent]


def test_a_call_about_a_debt_with_a_payment_pending_is_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        debtor = factories.debtor(s, None)
        debtor.debts[0].payment_pending = True
        debtor_id = debtor.id
    called = _call(sqlite_runtime, debtor_id, T0)
    assert _violations(sqlite_runtime, "BR-CDC-42-UNDUE") == [called]


def test_a_call_about_a_debt_closed_at_an_unknown_instant_is_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        unknown = factories.debtor(s, None, status="paid").id
        paid_later = factories.debtor(s, None, status="paid")
        paid_later.debts[0].status_changed_at = T0 + timedelta(hours=1)
        paid_later_id = paid_later.id
    about_unknown = _call(sqlite_runtime, unknown, T0)
    _call(sqlite_runtime, paid_later_id, T0)  # the debt was still open then
    after_payment = _call(sqlite_runtime, paid_later_id, T0 + timedelta(days=1))
    assert _violations(sqlite_runtime, "BR-CDC-42-UNDUE") == [about_unknown, after_payment]


def test_a_call_on_the_sao_paulo_city_anniversary_is_reported_in_that_city_only(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        capital = factories.debtor(s, None, city="São Paulo").id
        campinas = factories.debtor(s, None, city="Campinas").id
    anniversary = datetime(2027, 1, 25, 13, 0, tzinfo=UTC)  # Monday 10:00 in São Paulo
    in_the_capital = _call(sqlite_runtime, capital, anniversary)
    _call(sqlite_runtime, campinas, anniversary)
    assert _violations(sqlite_runtime, "HOLIDAY") == [in_the_capital]


def test_a_listed_city_holiday_matches_the_city_without_accents_or_case(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        debtor_id = factories.debtor(s, None, state="MG", city="São João del-Rei").id
        s.add(Holiday(country="BR", state="MG", city=" SAO JOAO DEL-REI", day=date(2026, 11, 24), name="Listed"))
    called = _call(sqlite_runtime, debtor_id, T0)  # Tuesday 13:00 in São João del-Rei
    assert _violations(sqlite_runtime, "HOLIDAY") == [called]


def test_a_preferred_start_without_an_end_is_checked(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        debtor_id = factories.debtor(s, None, preferred_start=time(18, 0)).id
    too_early = _call(sqlite_runtime, debtor_id, datetime(2026, 11, 24, 13, 0, tzinfo=UTC))  # 10:00
    _call(sqlite_runtime, debtor_id, datetime(2026, 11, 25, 22, 0, tzinfo=UTC))  # 19:00
    assert _violations(sqlite_runtime, "DEBTOR-PREFERENCE") == [too_early]


def test_an_overnight_preference_allows_the_evening_and_the_morning(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        debtor_id = factories.debtor(s, None, preferred_start=time(18, 0), preferred_end=time(9, 0)).id
    _call(sqlite_runtime, debtor_id, datetime(2026, 11, 24, 22, 0, tzinfo=UTC))  # Tue 19:00
    _call(sqlite_runtime, debtor_id, datetime(2026, 11, 25, 11, 30, tzinfo=UTC))  # Wed 08:30
    midday = _call(sqlite_runtime, debtor_id, datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # Thu 12:00
    assert _violations(sqlite_runtime, "DEBTOR-PREFERENCE") == [midday]


def test_the_call_over_a_campaign_weekly_cap_is_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        campaign_id = factories.campaign(s, max_per_week=1).id
        debtor_id = factories.debtor(s, None).id
    _call(sqlite_runtime, debtor_id, T0, campaign_id=campaign_id)  # Tuesday
    next_day = _call(sqlite_runtime, debtor_id, T0 + timedelta(days=1), campaign_id=campaign_id)
    # A week and an hour after Wednesday's call: it no longer counts.
    _call(sqlite_runtime, debtor_id, T0 + timedelta(days=8, hours=1), campaign_id=campaign_id)
    assert _violations(sqlite_runtime, "CAMPAIGN-CAP") == [next_day]


def test_the_call_over_a_campaign_daily_cap_is_named(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        campaign_id = factories.campaign(s, max_per_day=2).id
    debtor_id = _us_debtor(sqlite_runtime)  # no legal daily cap in Texas
    calls = [_call(sqlite_runtime, debtor_id, T0 + timedelta(hours=h), campaign_id=campaign_id) for h in (0, 1, 2)]
    assert _violations(sqlite_runtime, "CAMPAIGN-CAP") == [calls[2]]


def test_the_calls_over_a_legal_cap_are_named(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        debtor_id = factories.debtor(s, None).id
    # BR-FREQ: 1 a day, 3 in 7 days. Tuesday twice, then Wednesday, Thursday and Friday.
    calls = [_call(sqlite_runtime, debtor_id, T0 + offset)
             for offset in (timedelta(0), timedelta(hours=2), timedelta(days=1), timedelta(days=2), timedelta(days=3))]
    assert _violations(sqlite_runtime, "BR-FREQ") == [calls[1], calls[3], calls[4]]


def test_a_call_after_the_phone_stopped_voice_calls_is_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        debtor = factories.debtor(s, None)
        debtor.phones[0].voice_opt_out_at = T0
        debtor_id = debtor.id
    _call(sqlite_runtime, debtor_id, T0 - timedelta(days=1))
    after = _call(sqlite_runtime, debtor_id, T0 + timedelta(days=1))
    assert _violations(sqlite_runtime, "OPT-OUT") == [after]


def _message(runtime: Runtime, debtor_id: int, at: datetime, channel: str = "sms") -> int:
    """An sms.sent event: a message that went to the debtor's first phone."""
    with runtime.db.session() as s:
        debtor = s.get_one(Debtor, debtor_id)
        event = ContactEvent(debtor_id=debtor_id, phone_id=debtor.phones[0].id, debt_id=debtor.debts[0].id,
                             kind="sms.sent", channel=channel, occurred_at=at, data={"purpose": "second-copy"})
        s.add(event)
        s.flush()
        return event.id


def _reported_messages(runtime: Runtime, rule: str) -> list[int]:
    return sorted(int(v["detail"].split("(event ")[1].split(")")[0]) for v in _reported(runtime, rule)
                  if "(event " in v["detail"])


def test_a_message_on_a_channel_stopped_earlier_is_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        by_reply = factories.debtor(s, None)
        s.add(ContactEvent(debtor_id=by_reply.id, phone_id=by_reply.phones[0].id, kind="opt_out", channel="sms",
                           occurred_at=T0, data={"opted_out_channel": "sms", "scope": ["phone"]}))
        by_agent = factories.debtor(s, None, sms_opt_out_at=T0).id  # a stored fact, no event
        by_voice = factories.debtor(s, None, voice_opt_out_at=T0).id
        by_reply_id = by_reply.id
    before = _message(sqlite_runtime, by_reply_id, T0 - timedelta(hours=1))
    after_reply = _message(sqlite_runtime, by_reply_id, T0 + timedelta(hours=1))
    whatsapp = _message(sqlite_runtime, by_reply_id, T0 + timedelta(hours=1), channel="whatsapp")
    after_agent = _message(sqlite_runtime, by_agent, T0 + timedelta(hours=1))
    after_voice = _message(sqlite_runtime, by_voice, T0 + timedelta(hours=1))
    reported = _reported_messages(sqlite_runtime, "OPT-OUT")
    assert reported == [after_reply, after_agent]
    assert not {before, whatsapp, after_voice} & set(reported)


def test_a_message_to_a_block_listed_or_wrong_number_is_reported(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as s:
        by_number = factories.debtor(s, None)
        by_document = factories.debtor(s, None)
        wrong = factories.debtor(s, None)
        # Listed as bare digits: the message rules match it all the same.
        s.add(BlockListEntry(kind="phone", value=by_number.phones[0].number.lstrip("+"), created_at=T0))
        s.add(BlockListEntry(kind="document", value=by_document.document, created_at=T0))
        wrong.phones[0].wrong_number_at = T0
        ids = by_number.id, by_document.id, wrong.id
    before = _message(sqlite_runtime, ids[0], T0 - timedelta(hours=1))
    after_number = _message(sqlite_runtime, ids[0], T0 + timedelta(hours=1))
    after_document = _message(sqlite_runtime, ids[1], T0 + timedelta(hours=1))
    _message(sqlite_runtime, ids[2], T0 - timedelta(hours=1))
    to_wrong_number = _message(sqlite_runtime, ids[2], T0 + timedelta(hours=1))
    assert _reported_messages(sqlite_runtime, "BLOCK-LIST") == [after_number, after_document]
    assert before not in _reported_messages(sqlite_runtime, "BLOCK-LIST")
    assert _reported_messages(sqlite_runtime, "WRONG-NUMBER") == [to_wrong_number]


def _line(runtime: Runtime, attempt_id: int, **seen: Any) -> list[dict[str, Any]]:
    """The audit given what the carrier saw of the attempt's call (the emulator's record)."""
    from types import SimpleNamespace

    with runtime.db.session() as s:
        sid = s.get_one(Attempt, attempt_id).carrier_call_sid
        call = SimpleNamespace(sid=sid, parent_call_sid=None, answered_at=T0, answered_by=None,
                               hangup_source=None, duration=None, transcript=[])
        for name, value in seen.items():
            setattr(call, name, value)
        return audit_contact_log(s, [call]).violations


def test_hanging_up_on_whoever_answered_within_6_seconds_is_reported_unless_a_machine(
    sqlite_runtime: Runtime,
) -> None:
    """AMD said "unknown": it may be a person, who must not be hung up on (BR-ANATEL-SHORT)."""
    debtor_id = _us_debtor(sqlite_runtime)
    attempt_id = _call(sqlite_runtime, debtor_id, T0)
    for answered_by, reported in (("human", True), ("unknown", True), (None, True), ("machine_end_beep", False)):
        violations = _line(sqlite_runtime, attempt_id, answered_by=answered_by, hangup_source="twiml", duration=4)
        assert [v["rule"] for v in violations] == (["BR-ANATEL-SHORT"] if reported else []), answered_by
    assert _line(sqlite_runtime, attempt_id, answered_by="unknown", hangup_source="twiml", duration=6) == []


def test_a_voicemail_that_says_what_it_is_about_is_reported(sqlite_runtime: Runtime) -> None:
    debtor_id = _us_debtor(sqlite_runtime)
    attempt_id = _call(sqlite_runtime, debtor_id, T0)
    neutral = "Hello, this is Ana from Horizon Services. Please call us back at 555 0100. Thank you!"
    assert _line(sqlite_runtime, attempt_id, answered_by="machine_end_beep", transcript=[neutral]) == []
    for said in ("This is about your past due balance.", "Ligamos sobre a sua cobrança.",
                 "Your payment of $120.50 is due."):
        violations = _line(sqlite_runtime, attempt_id, answered_by="machine_end_beep", transcript=[said])
        assert [v["rule"] for v in violations] == ["US-REGF-LCM"], said
