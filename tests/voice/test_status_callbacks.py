"""Status callbacks: idempotent (Twilio retries them) and monotonic (they arrive out of order)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ivr.models import TERMINAL_ATTEMPT_STATES, Attempt, AttemptState, Callback, ContactEvent
from ivr.voice.call_status import answered_by_kind, next_attempt_state

from .carrier_helpers import Call, parse_twiml

REPORTED = [
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
    "answered",
    "bogus",
    "",
]
ORDER = ["claimed", "dialing", "queued", "ringing", "in-progress"]


def status_events(runtime, attempt_id: int) -> list[dict]:
    with runtime.db.session() as session:
        return [
            e.data
            for e in session.scalars(
                select(ContactEvent)
                .where(ContactEvent.attempt_id == attempt_id, ContactEvent.kind == "call.status")
                .order_by(ContactEvent.id)
            )
        ]


def attempt_of(runtime, attempt_id: int) -> Attempt:
    with runtime.db.session() as session:
        return session.get(Attempt, attempt_id)


def _rank(state: str) -> int:
    return 5 if AttemptState(state) in TERMINAL_ATTEMPT_STATES else ORDER.index(state)


@given(
    start=st.sampled_from([s.value for s in AttemptState]),
    reports=st.lists(st.sampled_from(REPORTED)),
    answered_by=st.sampled_from([None, "human", "machine_start", "fax", "unknown"]),
)
def test_an_attempt_only_ever_moves_forward_and_the_end_is_final(start, reports, answered_by):
    state = start
    for reported in reports:
        new = next_attempt_state(state, reported, answered_by)
        if new is None:
            continue
        assert _rank(new.value) > _rank(state)
        assert AttemptState(state) not in TERMINAL_ATTEMPT_STATES
        assert (
            next_attempt_state(new.value, reported, answered_by) is None
        )  # the same report again: nothing
        state = new.value


def test_answered_by_is_recorded_as_human_machine_or_unknown():
    assert [
        answered_by_kind(v) for v in ("human", "machine_end_beep", "fax", "unknown", "", None)
    ] == ["human", "machine", "machine", "unknown", None, None]


def test_a_full_call_moves_through_the_states_and_ends_once(hooks, seed, sqlite_runtime, clock):
    seeded = seed("mg")
    with sqlite_runtime.db.session() as session:
        session.get(Attempt, seeded.attempt_id).state = "queued"
    call = Call(hooks, seeded.attempt_id)
    for status in ("queued", "ringing", "in-progress"):
        assert parse_twiml(call.status(status).data) is not None
    assert attempt_of(sqlite_runtime, seeded.attempt_id).state == "in-progress"
    clock.advance(timedelta(seconds=42))
    for _ in range(2):  # Twilio retries
        response = call.status("completed", CallDuration="42")
        assert response.status_code == 200
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.state == "completed" and not attempt.active
    assert (
        attempt.ended_at == clock.now()
        and attempt.duration_seconds == 42
        and attempt.outcome == "completed"
    )
    assert [e["status"] for e in status_events(sqlite_runtime, seeded.attempt_id)] == [
        "ringing",
        "in-progress",
        "completed",
    ]  # queued was already known


def test_a_late_ringing_does_not_move_the_call_back(hooks, seed, sqlite_runtime):
    seeded = seed("mg")
    call = Call(hooks, seeded.attempt_id)
    call.status("in-progress")
    call.status("ringing")
    call.status("queued")
    assert attempt_of(sqlite_runtime, seeded.attempt_id).state == "in-progress"
    call.status("completed", CallDuration="10")
    call.status("in-progress")
    call.status("busy")
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.state == "completed" and not attempt.active
    assert len(status_events(sqlite_runtime, seeded.attempt_id)) == 2


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
def test_an_unanswered_call_ends_with_its_status_as_outcome(hooks, seed, sqlite_runtime, status):
    seeded = seed("us")
    response = Call(hooks, seeded.attempt_id).status(status, CallDuration="0")
    assert response.status_code == 200
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.state == status and attempt.outcome == status and not attempt.active


def test_a_completed_call_answered_by_a_machine_ends_as_machine(hooks, seed, sqlite_runtime):
    seeded = seed("sp")
    call = Call(hooks, seeded.attempt_id)
    call.answer(answered_by="machine_end_beep")
    call.status("completed", CallDuration="21")
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert (
        attempt.state == "machine"
        and attempt.outcome == "voicemail"
        and attempt.duration_seconds == 21
    )


def test_asynchronous_machine_detection_in_the_status_callback_counts_too(
    hooks, seed, sqlite_runtime
):
    seeded = seed("sp")
    Call(hooks, seeded.attempt_id).status("completed", CallDuration="9", AnsweredBy="machine_start")
    assert attempt_of(sqlite_runtime, seeded.attempt_id).state == "machine"


def test_the_ivr_outcome_survives_the_end_of_the_call(hooks, seed, sqlite_runtime):
    seeded = seed("mg")
    call = Call(hooks, seeded.attempt_id)
    call.answer()
    call.press("2")
    call.status("completed", CallDuration="14")
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.state == "completed" and attempt.outcome == "wrong-number"


def test_a_booked_callback_that_reached_nobody_is_missed(hooks, seed, sqlite_runtime):
    seeded = seed("mg", callback_due_at=sqlite_runtime.clock.now())
    Call(hooks, seeded.attempt_id).status("no-answer")
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback.status)).one() == "missed"


def test_a_status_for_an_unknown_attempt_is_acknowledged(hooks):
    assert (
        hooks.post("/voice/status?attempt=424242", {"CallStatus": "completed"}).status_code == 200
    )
    assert hooks.post("/voice/status", {"CallStatus": "completed"}).status_code == 200
