"""Taking a transferred call: one agent wins, the carrier moves the caller from the
agents' queue to the TwiML that dials that agent.

The claim is a `transfer.taken` event written while the attempt row is locked
(FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers), so two
agents clicking at once cannot both win. The carrier is asked only after that
commit: never hold a database lock across an HTTP request. If the carrier fails,
a `transfer.take_failed` event puts the call back in the queue for everyone.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy import select

from agent_console.live_queue import TransferState, transfer_state
from ivr.config import Config
from ivr.models import Attempt, ContactEvent, User
from ivr.runtime import Runtime
from ivr.telephony.carrier import CarrierOutcomeUnknown
from ivr.voice.urls import public_base_url

log = logging.getLogger(__name__)


class TakeRefused(RuntimeError):
    """The call could not be taken; `reason` is a code the console translates."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"transfer not taken: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.detail = detail


def agent_connect_url(config: Config, attempt_id: int, user_id: int) -> str:
    """The voice flow's TwiML that bridges the queued caller to this agent."""
    query = urlencode({"attempt": attempt_id, "user": user_id})
    return f"{public_base_url(config)}/voice/agent-connect?{query}"


def actor_of(user: User) -> str:
    return f"{user.role}:{user.username}"


def take_transfer(runtime: Runtime, attempt_id: int, user: User) -> TransferState:
    carrier = runtime.extras.get("carrier")
    if carrier is None:
        raise TakeRefused("no-carrier")
    if runtime.config.get("CORDIAL_CARRIER") == "twilio" and not user.dial_target:
        raise TakeRefused("no-dial-target")
    now = runtime.clock.now()
    with runtime.db.session() as session:
        attempt = session.scalars(
            select(Attempt).where(Attempt.id == attempt_id).with_for_update(key_share=True)
        ).one_or_none()
        if attempt is None:
            raise TakeRefused("unknown-call")
        events = list(
            session.scalars(
                select(ContactEvent)
                .where(ContactEvent.attempt_id == attempt_id, ContactEvent.kind.like("transfer.%"))
                .order_by(ContactEvent.id)
            )
        )
        state = transfer_state(attempt, events)
        if state is None:
            raise TakeRefused("unknown-call")
        if state.status == "taken":
            raise TakeRefused("already-taken", state.taken_by or "")
        if state.status != "waiting":
            raise TakeRefused("call-ended")
        if not state.call_sid:
            raise TakeRefused("no-call-sid")
        session.add(
            ContactEvent(
                debtor_id=attempt.debtor_id,
                attempt_id=attempt.id,
                phone_id=attempt.phone_id,
                debt_id=attempt.debt_id,
                kind="transfer.taken",
                channel="voice",
                actor=actor_of(user),
                occurred_at=now,
                data={
                    "user_id": user.id,
                    "user_name": user.display_name,
                    "call_sid": state.call_sid,
                },
            )
        )
        debtor_id, phone_id, debt_id, call_sid = (
            attempt.debtor_id,
            attempt.phone_id,
            attempt.debt_id,
            state.call_sid,
        )

    url = agent_connect_url(runtime.config, attempt_id, user.id)
    confirmed = True

    def record(kind: str, exc: Exception) -> None:
        log.warning(
            "take transfer: redirect of call %s for attempt %s: %s: %s",
            call_sid,
            attempt_id,
            kind,
            exc,
        )
        with runtime.db.session() as session:
            session.add(
                ContactEvent(
                    debtor_id=debtor_id,
                    attempt_id=attempt_id,
                    phone_id=phone_id,
                    debt_id=debt_id,
                    kind=kind,
                    channel="voice",
                    actor=actor_of(user),
                    occurred_at=runtime.clock.now(),
                    data={"user_id": user.id, "call_sid": call_sid, "error": str(exc)[:200]},
                )
            )

    try:
        carrier.redirect_call(call_sid, url)
    except CarrierOutcomeUnknown as exc:
        # The redirect may have been applied (the call rings this agent's line): back in
        # the queue, another agent's take would pull the call away from this one. The
        # take stands; had the redirect not been applied, the caller leaves the queue at
        # the campaign's transfer timeout as when no agent answers.
        confirmed = False
        record("transfer.take_unconfirmed", exc)
    except Exception as exc:  # any other carrier failure puts the call back in the queue
        record("transfer.take_failed", exc)
        raise TakeRefused("carrier-error", str(exc)[:200]) from None
    return TransferState(
        attempt_id=attempt_id,
        debtor_id=debtor_id,
        requested_at=state.requested_at,
        call_sid=call_sid,
        status="taken",
        taken_by_user_id=user.id,
        taken_by=user.display_name,
        right_party_verified=state.right_party_verified,
        confirmed=confirmed,
    )


__all__ = ["TakeRefused", "actor_of", "agent_connect_url", "take_transfer"]
