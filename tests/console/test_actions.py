"""Agent actions as services, without Flask: each records a contact event, and the
ones that must stop calls are seen at once by the dialer's own rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from agent_console import actions
from ivr.dialer.facts import explain_debtor
from ivr.messaging.second_copy import SecondCopyRefused
from ivr.models import Callback, ContactEvent, Debt, Debtor, Phone, PromiseToPay
from ivr.promises.installments import PlanError
from ivr.promises.service import configured_terms, plan_for_debt, record_promise

from .factories import World

ACTOR = "agent:ana"


def events(session, debtor_id: int, kind: str) -> list[ContactEvent]:
    return list(
        session.scalars(
            select(ContactEvent).where(
                ContactEvent.debtor_id == debtor_id, ContactEvent.kind == kind
            )
        )
    )


def rules_blocking(session, debtor_id: int, now: datetime) -> set[str]:
    return {
        reason["rule"] for reason in explain_debtor(session, debtor_id, now, "en-US")["reasons"]
    }


def test_the_world_is_callable_before_any_action(sqlite_runtime, world: World) -> None:
    with sqlite_runtime.db.session() as session:
        assert (
            explain_debtor(session, world.debtor_id, sqlite_runtime.clock.now(), "en-US")["allowed"]
            is True
        )


def test_note_and_disposition_are_logged(sqlite_runtime, world: World) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, world.debtor_id)
        actions.add_note(
            session, debtor, "  Pediu para falar depois do almoço. ", now=now, actor=ACTOR
        )
        actions.record_disposition(session, debtor, "callback_requested", now=now, actor=ACTOR)
    with sqlite_runtime.db.session() as session:
        assert events(session, world.debtor_id, "note")[0].data == {
            "text": "Pediu para falar depois do almoço."
        }
        assert events(session, world.debtor_id, "disposition")[0].data == {
            "code": "callback_requested"
        }


@pytest.mark.parametrize("text, code", [("   ", "required"), ("x" * 2001, "too_long")])
def test_bad_notes_are_refused(sqlite_runtime, world: World, text: str, code: str) -> None:
    with sqlite_runtime.db.session() as session, pytest.raises(actions.ActionRefused) as refused:
        actions.add_note(
            session,
            session.get(Debtor, world.debtor_id),
            text,
            now=sqlite_runtime.clock.now(),
            actor=ACTOR,
        )
    assert (refused.value.code, refused.value.field) == (code, "note")


def test_unknown_disposition_is_refused(sqlite_runtime, world: World) -> None:
    with (
        sqlite_runtime.db.session() as session,
        pytest.raises(actions.ActionRefused, match="unknown_disposition"),
    ):
        actions.record_disposition(
            session,
            session.get(Debtor, world.debtor_id),
            "made-up",
            now=sqlite_runtime.clock.now(),
            actor=ACTOR,
        )


def test_voice_opt_out_stops_calls_at_once_and_cancels_callbacks(
    sqlite_runtime, world: World
) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        session.add(
            Callback(
                debtor_id=world.debtor_id,
                phone_id=world.phone_id,
                due_at=now + timedelta(days=1),
                status="scheduled",
            )
        )
    with sqlite_runtime.db.session() as session:
        logged = actions.record_opt_out(
            session, session.get(Debtor, world.debtor_id), ["voice", "sms"], now=now, actor=ACTOR
        )
        assert [e.data["opted_out_channel"] for e in logged] == ["voice", "sms"]
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, world.debtor_id)
        assert (
            debtor.voice_opt_out_at == now
            and debtor.sms_opt_out_at == now
            and debtor.whatsapp_opt_out_at is None
        )
        assert session.scalars(select(Callback.status)).all() == ["canceled"]
        assert events(session, world.debtor_id, "opt_out")[0].data["callbacks_canceled"] == 1
        assert "OPT-OUT" in rules_blocking(session, world.debtor_id, now)


def test_opt_out_needs_a_known_channel(sqlite_runtime, world: World) -> None:
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, world.debtor_id)
        with pytest.raises(actions.ActionRefused, match="required"):
            actions.record_opt_out(session, debtor, [], now=sqlite_runtime.clock.now(), actor=ACTOR)
        with pytest.raises(actions.ActionRefused, match="unknown_channel"):
            actions.record_opt_out(
                session, debtor, ["fax"], now=sqlite_runtime.clock.now(), actor=ACTOR
            )


def test_wrong_number_stops_calls_to_that_phone(sqlite_runtime, world: World) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        actions.mark_wrong_number(
            session, session.get(Debtor, world.debtor_id), world.phone_id, now=now, actor=ACTOR
        )
    with sqlite_runtime.db.session() as session:
        assert session.get(Phone, world.phone_id).wrong_number_at == now
        assert events(session, world.debtor_id, "phone.wrong_number")[0].phone_id == world.phone_id
        assert explain_debtor(session, world.debtor_id, now, "en-US")["allowed"] is False


def test_another_debtors_phone_cannot_be_marked(sqlite_runtime, world: World) -> None:
    with (
        sqlite_runtime.db.session() as session,
        pytest.raises(actions.ActionRefused, match="unknown_phone"),
    ):
        actions.mark_wrong_number(
            session,
            session.get(Debtor, world.debtor_id),
            world.other_phone_id,
            now=sqlite_runtime.clock.now(),
            actor=ACTOR,
        )


@pytest.mark.parametrize("status", ["disputed", "paid"])
def test_disputed_or_paid_debt_is_never_called_about_again(
    sqlite_runtime, world: World, status: str
) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        actions.mark_debt_status(
            session,
            session.get(Debtor, world.debtor_id),
            world.debt_id,
            status,
            now=now,
            actor=ACTOR,
            reason="cliente enviou comprovante",
        )
    with sqlite_runtime.db.session() as session:
        assert session.get(Debt, world.debt_id).status == status
        event = events(session, world.debtor_id, f"debt.{status}")[0]
        assert event.data == {"previous_status": "open", "reason": "cliente enviou comprovante"}
        assert explain_debtor(session, world.debtor_id, now, "en-US")["allowed"] is False


def test_agents_cannot_set_other_debt_statuses(sqlite_runtime, world: World) -> None:
    with (
        sqlite_runtime.db.session() as session,
        pytest.raises(actions.ActionRefused, match="unknown_debt_status"),
    ):
        actions.mark_debt_status(
            session,
            session.get(Debtor, world.debtor_id),
            world.debt_id,
            "closed",
            now=sqlite_runtime.clock.now(),
            actor=ACTOR,
        )


def test_callback_inside_the_window_is_booked(sqlite_runtime, world: World) -> None:
    due = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # Wednesday 11:00 in São Paulo
    with sqlite_runtime.db.session() as session:
        booked = actions.schedule_callback(
            session,
            session.get(Debtor, world.debtor_id),
            phone_id=world.phone_id,
            due_at=due,
            now=sqlite_runtime.clock.now(),
            actor=ACTOR,
            language="en-US",
            user_id=world.agent_id,
        )
        assert (booked.status, booked.requested_via, booked.campaign_id) == (
            "scheduled",
            "agent",
            world.campaign_id,
        )
    with sqlite_runtime.db.session() as session:
        assert events(session, world.debtor_id, "callback.booked")[0].data["via"] == "agent"


def test_callback_outside_the_window_is_refused_with_the_reason(
    sqlite_runtime, world: World
) -> None:
    due = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)  # Wednesday 21:30 in São Paulo
    with sqlite_runtime.db.session() as session, pytest.raises(actions.CallbackRefused) as refused:
        actions.schedule_callback(
            session,
            session.get(Debtor, world.debtor_id),
            phone_id=world.phone_id,
            due_at=due,
            now=sqlite_runtime.clock.now(),
            actor=ACTOR,
            language="en-US",
        )
    assert any("calling window" in reason for reason in refused.value.reasons)
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback)).all() == []


@pytest.mark.parametrize(
    "delta, code",
    [(timedelta(minutes=-5), "callback_in_past"), (timedelta(days=45), "callback_too_far")],
)
def test_callback_in_the_past_or_too_far_is_refused(
    sqlite_runtime, world: World, delta, code: str
) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session, pytest.raises(actions.ActionRefused) as refused:
        actions.schedule_callback(
            session,
            session.get(Debtor, world.debtor_id),
            phone_id=world.phone_id,
            due_at=now + delta,
            now=now,
            actor=ACTOR,
            language="en-US",
        )
    assert refused.value.code == code


def test_revealing_personal_data_is_logged_without_the_value(sqlite_runtime, world: World) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, world.debtor_id)
        assert (
            actions.reveal_pii(session, debtor, "document", now=now, actor=ACTOR) == "52998224725"
        )
        phone = actions.reveal_pii(
            session, debtor, "phone", now=now, actor=ACTOR, phone_id=world.phone_id
        )
        assert phone == "+5511987654321"
    with sqlite_runtime.db.session() as session:
        logged = events(session, world.debtor_id, "pii.revealed")
        assert [e.data["field"] for e in logged] == ["document", "phone"]
        assert all(e.actor == ACTOR for e in logged)
        assert "52998224725" not in str([e.data for e in logged]) and "987654321" not in str(
            [e.data for e in logged]
        )


def test_second_copy_goes_through_the_messaging_service(
    sqlite_runtime, world: World, carrier
) -> None:
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, world.debtor_id)
        message = actions.request_second_copy(
            session, sqlite_runtime, debtor, world.debt_id, actor=ACTOR
        )
        assert message.status == "queued"
    with sqlite_runtime.db.session() as session:
        assert events(session, world.debtor_id, "sms.sent")[0].actor == ACTOR


def test_second_copy_refusal_is_logged(sqlite_runtime, world: World) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        actions.record_opt_out(
            session, session.get(Debtor, world.debtor_id), ["sms"], now=now, actor=ACTOR
        )
    with sqlite_runtime.db.session() as session:
        with pytest.raises(SecondCopyRefused) as refused:
            actions.request_second_copy(
                session,
                sqlite_runtime,
                session.get(Debtor, world.debtor_id),
                world.debt_id,
                actor=ACTOR,
            )
        assert refused.value.reason == "sms-opt-out"
    with sqlite_runtime.db.session() as session:
        assert events(session, world.debtor_id, "sms.refused")


def test_promise_to_pay_records_the_plan_and_puts_the_debt_under_agreement(
    sqlite_runtime, world: World
) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        debt = session.get(Debt, world.debt_id)
        plan = plan_for_debt(
            debt,
            down_payment=Decimal("260.50"),
            installments=4,
            first_payment=date(2026, 12, 1),
            today=date(2026, 11, 24),
        )
        promise = record_promise(session, debt, plan, now=now, actor=ACTOR, user_id=world.agent_id)
        assert promise.id
    with sqlite_runtime.db.session() as session:
        stored = session.scalars(select(PromiseToPay)).one()
        assert stored.total == plan.total and stored.installments == 4
        assert stored.plan["installments"][3]["amount"] == str(plan.installments[3].amount)
        assert session.get(Debt, world.debt_id).status == "agreement"
        event = events(session, world.debtor_id, "promise.made")[0]
        assert event.data["total"] == str(plan.total) and event.data["promise_id"] == stored.id
        assert explain_debtor(session, world.debtor_id, now, "en-US")["allowed"] is False


def test_promise_first_payment_must_be_soon(sqlite_runtime, world: World) -> None:
    with sqlite_runtime.db.session() as session:
        debt = session.get(Debt, world.debt_id)
        for first in (date(2026, 11, 23), date(2027, 1, 30)):
            with pytest.raises(PlanError) as refused:
                plan_for_debt(
                    debt,
                    down_payment=Decimal("0"),
                    installments=2,
                    first_payment=first,
                    today=date(2026, 11, 24),
                )
            assert refused.value.code == "first_payment_out_of_range"


def test_configured_terms_respect_the_legal_cap() -> None:
    terms = configured_terms("BR")
    assert terms.late_fee_rate <= Decimal("0.02") and terms.monthly_interest_rate == Decimal("0.01")
