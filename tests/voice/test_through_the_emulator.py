"""The call flow end to end: the local carrier emulator places the call, fetches the
webhooks exactly as Twilio does (signed, same fields), plays a scripted persona and posts
the status callbacks; the clock is virtual, so each call takes milliseconds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import ivr.telephony.emulator as emulator_module  # noqa: E402
from ivr.app import create_app
from ivr.models import Attempt, Callback, ContactEvent, Debtor, Phone
from ivr.telephony.carrier import CallRequest
from ivr.voice.urls import answer_url, status_url

from .carrier_helpers import PROFILES, seed_call


@pytest.fixture
def network(sqlite_runtime, clock):
    """The app, and an emulator in virtual time that reaches it in-process."""
    app = create_app({"TESTING": True}, runtime=sqlite_runtime)
    emulator = emulator_module.CarrierEmulator(
        clock=clock, transport=emulator_module.WsgiTransport(app)
    )
    sqlite_runtime.extras["carrier"] = emulator.carrier()
    return emulator


def place(runtime, emulator, profile: str, persona: str, **kwargs):
    with runtime.db.session() as session:
        seeded = seed_call(session, PROFILES[profile], now=runtime.clock.now(), **kwargs)
        session.get(Attempt, seeded.attempt_id).state = "dialing"
    emulator.assign_persona(seeded.profile.number, persona)
    language = seeded.profile.language
    info = runtime.extras["carrier"].place_call(
        CallRequest(
            to=seeded.profile.number,
            from_="+551130000000",
            url=answer_url(runtime.config, seeded.attempt_id, language),
            status_callback=status_url(runtime.config, seeded.attempt_id),
            idempotency_key=f"e2e-{seeded.attempt_id}",
            machine_detection=True,
        )
    )
    with runtime.db.session() as session:
        session.get(Attempt, seeded.attempt_id).carrier_call_sid = info.sid
    emulator.run_until_idle()
    call = emulator.call(info.sid)
    assert call.ended
    with runtime.db.session() as session:
        attempt = session.get(Attempt, seeded.attempt_id)
        kinds = list(
            session.scalars(
                select(ContactEvent.kind)
                .where(ContactEvent.attempt_id == seeded.attempt_id)
                .order_by(ContactEvent.id)
            )
        )
    assert not attempt.active and attempt.ended_at is not None
    if call.answered_at is not None and call.hangup_source not in ("caller", "persona"):
        assert call.duration >= 6  # never hang up on anyone in under 6 seconds
    return seeded, call, attempt, kinds


def test_a_debtor_asking_for_the_second_copy_gets_it(sqlite_runtime, network):
    seeded, call, attempt, kinds = place(sqlite_runtime, network, "mg", "asks_sms")
    assert call.keys_pressed[:2] == ["1", "1"]
    assert attempt.state == "completed" and attempt.outcome == "second-copy-sent"
    assert attempt.right_party_verified and attempt.answered_by == "human"
    [message] = network.messages.values()
    assert message.to == seeded.profile.number and "Banco Exemplo" in message.body
    assert {"ivr.answered", "ivr.right_party", "ivr.disclosed", "sms.sent", "call.status"} <= set(
        kinds
    )


def test_a_debtor_asking_for_a_callback_gets_one_the_rules_allow(sqlite_runtime, network):
    seeded, call, attempt, kinds = place(
        sqlite_runtime, network, "sp", "asks_callback", second_factor="birth_year"
    )
    assert attempt.outcome == "callback-booked" and "callback.booked" in kinds
    with sqlite_runtime.db.session() as session:
        booked = session.scalars(select(Callback)).one()
    assert booked.debtor_id == seeded.debtor_id and booked.due_at > sqlite_runtime.clock.now() - (
        call.end_time - call.answered_at
    )


def test_a_debtor_waiting_too_long_for_an_agent_is_offered_a_callback(sqlite_runtime, network):
    _, call, attempt, kinds = place(
        sqlite_runtime, network, "mg", "asks_agent", transfer_timeout_seconds=30
    )
    assert "transfer.requested" in kinds and "transfer.no_agent" in kinds
    assert any("ocupados" in line for line in call.transcript)
    assert attempt.outcome == "no-agent"


def test_a_debtor_pressing_9_is_never_called_again(sqlite_runtime, network):
    seeded, call, attempt, kinds = place(sqlite_runtime, network, "us", "opts_out")
    assert attempt.outcome == "opted-out" and "opt_out" in kinds
    with sqlite_runtime.db.session() as session:
        assert session.get(Debtor, seeded.debtor_id).voice_opt_out_at is not None
        assert session.get(Phone, seeded.phone_id).voice_opt_out_at is not None


def test_a_voicemail_gets_the_neutral_message_and_the_attempt_ends_as_machine(
    sqlite_runtime, network
):
    _, call, attempt, kinds = place(sqlite_runtime, network, "sp", "voicemail")
    assert attempt.state == "machine" and attempt.outcome == "voicemail"
    heard = " ".join(call.transcript).lower()
    assert "banco exemplo" not in heard and "reais" not in heard and "cobran" not in heard
    assert [k for k in kinds if k != "call.status"] == ["ivr.answered", "voicemail.left"]


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [("wrong_person", "wrong-number"), ("silent", "no-input"), ("invalid_keys", "no-input")],
)
def test_people_who_do_not_go_through_the_menu_end_politely(
    sqlite_runtime, network, persona, outcome
):
    _, call, attempt, kinds = place(sqlite_runtime, network, "mg", persona)
    assert attempt.outcome == outcome and not attempt.right_party_verified
    assert call.hangup_source not in (
        "caller",
        "persona",
    )  # we said goodbye, they did not give up on us
    assert "ivr.disclosed" not in kinds


@pytest.mark.parametrize(("persona", "state"), [("busy", "busy"), ("no_answer", "no-answer")])
def test_unanswered_calls_end_with_the_carriers_status(sqlite_runtime, network, persona, state):
    _, _, attempt, _ = place(sqlite_runtime, network, "us", persona)
    assert attempt.state == state and attempt.outcome == state


def test_duplicated_status_callbacks_change_nothing(sqlite_runtime, clock):
    app = create_app({"TESTING": True}, runtime=sqlite_runtime)
    emulator = emulator_module.CarrierEmulator(
        clock=clock, transport=emulator_module.WsgiTransport(app), duplicate_status_callbacks=True
    )
    sqlite_runtime.extras["carrier"] = emulator.carrier()
    seeded, call, attempt, _ = place(sqlite_runtime, emulator, "mg", "wrong_person")
    assert attempt.state == "completed"
    assert len(call.status_callbacks) >= 2  # each one delivered twice
    with sqlite_runtime.db.session() as session:
        statuses = [
            e.data["status"]
            for e in session.scalars(
                select(ContactEvent).where(
                    ContactEvent.attempt_id == seeded.attempt_id, ContactEvent.kind == "call.status"
                )
            )
        ]
    assert statuses and len(statuses) == len(set(statuses))
