"""Personas pass or fail a campaign's second factor as the person who answers would:
calls through the real voice flow and the carrier emulator in virtual time, where
whoever assigns a persona to a number says whose facts (birth year, document) it has,
as `cordial simulate` does for the debtor it dials."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.models import Attempt, ContactEvent, Debtor
from ivr.runtime import Runtime
from ivr.simulation import called_person_facts
from ivr.telephony.carrier import CallRequest
from ivr.telephony.emulator import CarrierEmulator, Persona, PersonaChooser, WsgiTransport
from ivr.telephony.emulator.personas import person_facts
from ivr.voice.urls import answer_url, status_url
from tests.voice.carrier_helpers import PROFILES, Seeded, seed_call


def make_network(
    runtime: Runtime, clock: Any, chooser: PersonaChooser | None = None
) -> CarrierEmulator:
    app = create_app({"TESTING": True}, runtime=runtime)
    emulator = CarrierEmulator(
        clock=clock, transport=WsgiTransport(app), personas=chooser or PersonaChooser.default()
    )
    runtime.extras["carrier"] = emulator.carrier()
    return emulator


def seed(runtime: Runtime, profile: str, *, born: date | None = None, **kwargs: Any) -> Seeded:
    with runtime.db.session() as session:
        seeded = seed_call(session, PROFILES[profile], now=runtime.clock.now(), **kwargs)
        session.get(Attempt, seeded.attempt_id).state = "dialing"
        if born is not None:
            session.get(Debtor, seeded.debtor_id).birth_date = born
    return seeded


def debtor_facts(runtime: Runtime, seeded: Seeded) -> dict[str, str]:
    with runtime.db.session() as session:
        debtor = session.get(Debtor, seeded.debtor_id)
        return person_facts(birth_date=debtor.birth_date, document=debtor.document)


def call(
    runtime: Runtime,
    emulator: CarrierEmulator,
    seeded: Seeded,
    persona: Persona | str | None = None,
):
    """Place the seeded attempt's call and run it to its end; the attempt and its events."""
    if persona is not None:
        emulator.assign_persona(seeded.profile.number, persona)
    info = runtime.extras["carrier"].place_call(
        CallRequest(
            to=seeded.profile.number,
            from_="+551130000000",
            url=answer_url(runtime.config, seeded.attempt_id, seeded.profile.language),
            status_callback=status_url(runtime.config, seeded.attempt_id),
            idempotency_key=f"second-factor-{seeded.attempt_id}",
            machine_detection=True,
        )
    )
    with runtime.db.session() as session:
        session.get(Attempt, seeded.attempt_id).carrier_call_sid = info.sid
    emulator.run_until_idle()
    emulated = emulator.call(info.sid)
    assert emulated.ended
    with runtime.db.session() as session:
        attempt = session.get(Attempt, seeded.attempt_id)
        events = [
            (e.kind, e.data or {})
            for e in session.scalars(
                select(ContactEvent)
                .where(ContactEvent.attempt_id == seeded.attempt_id)
                .order_by(ContactEvent.id)
            )
        ]
    return emulated, attempt, events


def recorded(events: list[tuple[str, dict[str, Any]]], kind: str, **data: Any) -> bool:
    """Whether an event of `kind` carrying (at least) `data` was recorded."""
    return any(k == kind and data.items() <= d.items() for k, d in events)


def test_a_persona_answers_the_birth_year_of_the_debtor_it_was_assigned_for(sqlite_runtime, clock):
    # As a simulation assigns personas: the chooser is told whose number is being called.
    emulator = make_network(
        sqlite_runtime,
        clock,
        PersonaChooser.default(
            explicit={PROFILES["sp"].number: "asks_sms"},
            facts_for=called_person_facts(sqlite_runtime),
        ),
    )
    seeded = seed(sqlite_runtime, "sp", second_factor="birth_year", born=date(1972, 3, 9))
    emulated, attempt, events = call(sqlite_runtime, emulator, seeded)
    assert emulated.keys_pressed == ["1", "1972", "1"]
    assert attempt.right_party_verified and attempt.outcome == "second-copy-sent"
    assert recorded(events, "ivr.right_party", verified=True, second_factor="birth_year")
    assert "ivr.disclosed" in [kind for kind, _ in events]


@pytest.mark.parametrize(("profile", "digits"), [("sp", "529"), ("mg", "111"), ("us", "123")])
def test_a_persona_answers_the_first_digits_of_the_debtors_document(
    sqlite_runtime, clock, profile, digits
):
    emulator = make_network(sqlite_runtime, clock)
    seeded = seed(sqlite_runtime, profile, second_factor="cpf_digits")
    persona = emulator.personas.get("asks_sms").with_facts(debtor_facts(sqlite_runtime, seeded))
    emulated, attempt, events = call(sqlite_runtime, emulator, seeded, persona)
    assert emulated.keys_pressed[:2] == ["1", digits]
    assert attempt.right_party_verified and attempt.outcome == "second-copy-sent"
    assert recorded(events, "ivr.right_party", verified=True, second_factor="cpf_digits")


@pytest.mark.parametrize("factor", ["birth_year", "cpf_digits"])
def test_someone_who_does_not_know_the_second_factor_is_told_nothing(sqlite_runtime, clock, factor):
    emulator = make_network(sqlite_runtime, clock)
    seeded = seed(sqlite_runtime, "sp", second_factor=factor, born=date(1972, 3, 9))
    persona = emulator.personas.get("fails_second_factor").with_facts(
        debtor_facts(sqlite_runtime, seeded)
    )
    emulated, attempt, events = call(sqlite_runtime, emulator, seeded, persona)
    assert emulated.keys_pressed[0] == "1" and len(emulated.keys_pressed) > 1
    assert not attempt.right_party_verified and attempt.outcome == "unverified"
    assert recorded(events, "ivr.unverified", reason="second-factor-mismatch", second_factor=factor)
    kinds = [kind for kind, _ in events]
    assert "ivr.disclosed" not in kinds and "ivr.right_party" not in kinds
    heard = " ".join(emulated.transcript)
    assert "Banco Exemplo" not in heard and "reais" not in heard


def test_a_wrong_person_typing_their_own_birth_year_is_not_verified(sqlite_runtime, clock):
    emulator = make_network(sqlite_runtime, clock)
    seeded = seed(sqlite_runtime, "mg", second_factor="birth_year", born=date(1972, 3, 9))
    someone_else = person_facts(birth_date=date(1990, 7, 1), document="98765432100")
    persona = emulator.personas.get("asks_sms").with_facts(someone_else)
    emulated, attempt, events = call(sqlite_runtime, emulator, seeded, persona)
    assert "1990" in emulated.keys_pressed
    assert not attempt.right_party_verified and attempt.outcome == "unverified"
    assert "ivr.disclosed" not in [kind for kind, _ in events]
