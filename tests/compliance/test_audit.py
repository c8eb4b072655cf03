"""The independent audit of the contact log (ivr.audit), rule by rule, on hand-made logs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from ivr.audit import audit_contact_log
from ivr.models import Attempt, BlockListEntry, Callback, ContactEvent, Debtor
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


def _us_debtor(runtime: Runtime) -> int:
    with runtime.db.session() as s:
        return factories.debtor(s, None, country="US", state="TX", number="+17135550100").id


def _violations(runtime: Runtime, rule: str) -> list[int]:
    with runtime.db.session() as s:
        return [v["attempt"] for v in audit_contact_log(s).violations if v["rule"] == rule]


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
