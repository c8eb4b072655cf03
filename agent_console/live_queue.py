"""The agents' live queue: transferred calls waiting for a person, and callbacks
that are due, being dialled or were missed.

A transfer is waiting while its attempt is still live, its last `transfer.*`
event is `transfer.requested`, and no agent's take stands. Every query starts
from live attempts (a partial, indexed set) or the callback due index, so the
cost follows the size of the floor, not of the contact log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.models import Attempt, Callback, ContactEvent, Debt, Debtor, DebtStatus

TRANSFER_KINDS = (
    "transfer.requested",
    "transfer.taken",
    "transfer.take_failed",
    "transfer.ended",
    "transfer.no_agent",
)
CALLBACK_AHEAD = timedelta(minutes=30)
MISSED_WITHIN = timedelta(days=2)
RECENT_TAKE = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class TransferState:
    attempt_id: int
    debtor_id: int
    requested_at: datetime | None
    call_sid: str | None
    status: str  # waiting | taken | ended
    taken_by_user_id: int | None = None
    taken_by: str | None = None
    right_party_verified: bool = False
    reason: str | None = None
    confirmed: bool = True  # a take whose redirect the carrier did not confirm: False


@dataclass(frozen=True, slots=True)
class WaitingCall:
    transfer: TransferState
    debtor: Debtor
    open_total: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class CallbackItem:
    callback: Callback
    debtor: Debtor
    state: str  # due | upcoming | dialing | missed


def transfer_state(attempt: Attempt, events: list[ContactEvent]) -> TransferState | None:
    """The transfer state of one attempt from its `transfer.*` events (id order)."""
    requested = next((e for e in reversed(events) if e.kind == "transfer.requested"), None)
    if requested is None:
        return None
    status, user_id, by = "waiting", None, None
    for item in events:
        if item.id < requested.id:
            continue
        if item.kind == "transfer.taken":
            status, user_id, by = (
                "taken",
                item.data.get("user_id"),
                item.data.get("user_name") or item.actor,
            )
        elif (
            item.kind == "transfer.take_failed"
            and status == "taken"
            and user_id == item.data.get("user_id")
        ):
            status, user_id, by = "waiting", None, None
        elif item.kind in ("transfer.ended", "transfer.no_agent"):
            # The caller left the queue, or the agent's leg is over: nobody waits, nobody is busy.
            status = "ended"
    if not attempt.active and status == "waiting":
        status = "ended"
    return TransferState(
        attempt_id=attempt.id,
        debtor_id=attempt.debtor_id,
        requested_at=requested.occurred_at,
        call_sid=requested.data.get("call_sid") or attempt.carrier_call_sid,
        status=status,
        taken_by_user_id=user_id,
        taken_by=by,
        right_party_verified=bool(
            requested.data.get("right_party_verified", attempt.right_party_verified)
        ),
        reason=requested.data.get("reason"),
    )


def _transfer_events(session: Session, attempt_ids: list[int]) -> dict[int, list[ContactEvent]]:
    found: dict[int, list[ContactEvent]] = {i: [] for i in attempt_ids}
    if not attempt_ids:
        return found
    rows = session.scalars(
        select(ContactEvent)
        .where(ContactEvent.attempt_id.in_(attempt_ids), ContactEvent.kind.in_(TRANSFER_KINDS))
        .order_by(ContactEvent.id)
    )
    for row in rows:
        found[row.attempt_id].append(row)  # type: ignore[index]
    return found


def transfers_of_live_calls(session: Session) -> list[TransferState]:
    live = session.scalars(select(Attempt).where(Attempt.active.is_(True))).all()
    events = _transfer_events(session, [a.id for a in live])
    states = [transfer_state(a, events[a.id]) for a in live]
    return [s for s in states if s is not None]


def attempt_transfer_state(session: Session, attempt_id: int) -> TransferState | None:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        return None
    return transfer_state(attempt, _transfer_events(session, [attempt_id])[attempt_id])


def waiting_calls(session: Session) -> list[WaitingCall]:
    """Transferred calls nobody has taken yet, longest waiting first."""
    waiting = [s for s in transfers_of_live_calls(session) if s.status == "waiting"]
    return _with_debtors(
        session, sorted(waiting, key=lambda s: (s.requested_at is None, s.requested_at))
    )


def calls_taken_by(session: Session, user_id: int) -> list[WaitingCall]:
    taken = [
        s
        for s in transfers_of_live_calls(session)
        if s.status == "taken" and s.taken_by_user_id == user_id
    ]
    return _with_debtors(session, taken)


def agent_is_busy(session: Session, user_id: int) -> bool:
    """Whether the agent is on a live call they took (busy agents get no screen pop)."""
    return any(
        s.status == "taken" and s.taken_by_user_id == user_id
        for s in transfers_of_live_calls(session)
    )


def waiting_call(session: Session, attempt_id: int) -> WaitingCall | None:
    state = attempt_transfer_state(session, attempt_id)
    if state is None:
        return None
    found = _with_debtors(session, [state])
    return found[0] if found else None


def _with_debtors(session: Session, states: list[TransferState]) -> list[WaitingCall]:
    if not states:
        return []
    debtor_ids = {s.debtor_id for s in states}
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(Debtor.id.in_(debtor_ids)))}
    totals: dict[int, tuple[Decimal, str]] = {}
    for debt in session.scalars(
        select(Debt).where(Debt.debtor_id.in_(debtor_ids), Debt.status == DebtStatus.OPEN.value)
    ):
        amount, _ = totals.get(debt.debtor_id, (Decimal("0"), debt.currency))
        totals[debt.debtor_id] = (amount + debt.total, debt.currency)
    calls = []
    for state in states:
        debtor = debtors.get(state.debtor_id)
        if debtor is None:
            continue
        default_currency = "BRL" if debtor.country == "BR" else "USD"
        amount, currency = totals.get(debtor.id, (Decimal("0"), default_currency))
        calls.append(
            WaitingCall(transfer=state, debtor=debtor, open_total=amount, currency=currency)
        )
    return calls


def recent_take(session: Session, user_id: int, debtor_id: int, now: datetime) -> int | None:
    """The attempt this agent most recently took for this debtor (live or just ended):
    the call a disposition or note written right after hanging up belongs to."""
    takes = session.scalars(
        select(ContactEvent)
        .where(
            ContactEvent.debtor_id == debtor_id,
            ContactEvent.occurred_at >= now - RECENT_TAKE,
            ContactEvent.kind == "transfer.taken",
        )
        .order_by(ContactEvent.id.desc())
    )
    return next((e.attempt_id for e in takes if e.data.get("user_id") == user_id), None)


def callbacks_for_agents(session: Session, now: datetime) -> list[CallbackItem]:
    """Callbacks due now or within CALLBACK_AHEAD, being dialled, or missed recently."""
    rows = session.execute(
        select(Callback, Debtor)
        .join(Debtor, Debtor.id == Callback.debtor_id)
        .where(
            ((Callback.status == "scheduled") & (Callback.due_at <= now + CALLBACK_AHEAD))
            | ((Callback.status == "dialing") & (Callback.due_at >= now - MISSED_WITHIN))
            | ((Callback.status == "missed") & (Callback.due_at >= now - MISSED_WITHIN))
        )
        .order_by(Callback.due_at)
        .limit(200)
    ).all()
    items = []
    for callback, debtor in rows:
        if callback.status == "scheduled":
            state = "due" if callback.due_at <= now else "upcoming"
        else:
            state = callback.status
        items.append(CallbackItem(callback=callback, debtor=debtor, state=state))
    return items


__all__ = [
    "CallbackItem",
    "TransferState",
    "WaitingCall",
    "agent_is_busy",
    "attempt_transfer_state",
    "callbacks_for_agents",
    "calls_taken_by",
    "recent_take",
    "transfer_state",
    "transfers_of_live_calls",
    "waiting_call",
    "waiting_calls",
]
