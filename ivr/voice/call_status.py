"""An attempt's state as the carrier reports it: a one-way progression.

Status callbacks arrive late, twice, or out of order (Twilio retries them);
`next_attempt_state` only ever moves an attempt forward, so a repeated or
stale report changes nothing, and `apply_call_status` records one event per
real change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from ivr.models import TERMINAL_ATTEMPT_STATES, Attempt, AttemptState, Callback, ContactEvent

# Twilio's CallStatus values (and "initiated", a status-callback event) mapped to attempt states.
_REPORTED = {
    "queued": AttemptState.QUEUED,
    "initiated": AttemptState.QUEUED,
    "ringing": AttemptState.RINGING,
    "in-progress": AttemptState.IN_PROGRESS,
    "answered": AttemptState.IN_PROGRESS,
    "completed": AttemptState.COMPLETED,
    "busy": AttemptState.BUSY,
    "no-answer": AttemptState.NO_ANSWER,
    "failed": AttemptState.FAILED,
    "canceled": AttemptState.CANCELED,
}

_RANK = {
    AttemptState.CLAIMED: 0,
    AttemptState.DIALING: 1,
    AttemptState.QUEUED: 2,
    AttemptState.RINGING: 3,
    AttemptState.IN_PROGRESS: 4,
}
_TERMINAL_RANK = 5


def _rank(state: str) -> int:
    try:
        value = AttemptState(state)
    except ValueError:
        return 0
    return _TERMINAL_RANK if value in TERMINAL_ATTEMPT_STATES else _RANK[value]


def answered_by_kind(answered_by: str | None) -> str | None:
    """Twilio's AnsweredBy (human, machine_start, machine_end_beep, fax, unknown, ...) as
    the attempt records it: human | machine | unknown."""
    if not answered_by:
        return None
    value = answered_by.strip().lower()
    if value.startswith(("machine", "fax")):
        return "machine"
    if value == "human":
        return "human"
    return "unknown"


def next_attempt_state(
    current: str, reported: str, answered_by: str | None = None
) -> AttemptState | None:
    """The state an attempt moves to when the carrier reports `reported`, or None when the
    report changes nothing (unknown, repeated, older than what we know, or after the end)."""
    new = _REPORTED.get((reported or "").strip().lower())
    if new is None:
        return None
    if _rank(current) >= _TERMINAL_RANK:
        return None
    if new is AttemptState.COMPLETED and answered_by_kind(answered_by) == "machine":
        new = AttemptState.MACHINE
    if _rank(new) <= _rank(current):
        return None
    return new


def apply_call_status(
    session: Session,
    attempt: Attempt,
    reported: str,
    *,
    now: datetime,
    call_sid: str | None = None,
    duration_seconds: int | None = None,
    answered_by: str | None = None,
    actor: str = "carrier",
) -> bool:
    """Move `attempt` forward to what the carrier reports; record a `call.status` event.
    Returns whether anything changed."""
    kind = answered_by_kind(answered_by)
    if attempt.active and kind and (attempt.answered_by in (None, "unknown") or kind == "machine"):
        attempt.answered_by = kind
    new = next_attempt_state(attempt.state, reported, attempt.answered_by)
    if new is None:
        return False
    attempt.state = new.value
    if call_sid and not attempt.carrier_call_sid:
        attempt.carrier_call_sid = call_sid
        # Its worker may not have recorded the call (it died after placing it): the call's
        # first callback says when it was placed, so that reconciliation can settle it.
        attempt.placed_at = attempt.placed_at or now
    if new is AttemptState.IN_PROGRESS and attempt.answered_at is None:
        attempt.answered_at = now
    if new in TERMINAL_ATTEMPT_STATES:
        attempt.active = False
        attempt.ended_at = now
        if duration_seconds is not None:
            attempt.duration_seconds = duration_seconds
        attempt.outcome = attempt.outcome or new.value
        if attempt.callback_id:
            # The booked callback did not reach an agent (a reached one is already "done").
            session.execute(
                update(Callback)
                .where(Callback.id == attempt.callback_id, Callback.status == "dialing")
                .values(status="missed")
            )
    data: dict[str, object] = {"status": new.value, "reported": reported}
    if call_sid:
        data["call_sid"] = call_sid
    if duration_seconds is not None and new in TERMINAL_ATTEMPT_STATES:
        data["duration_seconds"] = duration_seconds
    session.add(
        ContactEvent(
            debtor_id=attempt.debtor_id,
            attempt_id=attempt.id,
            phone_id=attempt.phone_id,
            debt_id=attempt.debt_id,
            kind="call.status",
            channel="voice",
            actor=actor,
            occurred_at=now,
            data=data,
        )
    )
    return True


__all__ = ["answered_by_kind", "apply_call_status", "next_attempt_state"]
