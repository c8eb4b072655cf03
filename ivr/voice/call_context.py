"""What one voice webhook knows of its call, and how it writes what it changed.

A webhook reads its attempt and everything the call needs in one indexed
statement of plain columns, outside any write transaction; it decides from
that snapshot; then it writes all its changes in one short transaction: the
attempt's UPDATE and the contact events' INSERT. On SQLite the write lock is
held for those two statements only, so webhooks in several processes hardly
ever wait for each other.

The snapshot may be a few milliseconds old when the changes are written, and a
status callback of the same call may have landed in between (Twilio sends them
concurrently with the call's webhooks). So the attempt's UPDATE never undoes
what another writer did: the state only moves forward, first answers and call
SIDs are kept, and a weak outcome never replaces a stronger one, all decided by
the database in the UPDATE itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Insert,
    Update,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from ivr.db import Database, DriverLease
from ivr.models import (
    Attempt,
    AttemptState,
    Campaign,
    ContactEvent,
    Creditor,
    Debt,
    Debtor,
    Phone,
    table_of,
)

# The states before the callee answers: an answer moves any of them to in-progress.
_BEFORE_ANSWER = (
    AttemptState.CLAIMED.value,
    AttemptState.DIALING.value,
    AttemptState.QUEUED.value,
    AttemptState.RINGING.value,
)
# Outcomes a weak outcome (disclosed, unverified, no-input) may replace.
_REPLACEABLE_OUTCOMES = (None, "disclosed")


@dataclass(slots=True)
class AttemptView:
    """The attempt as the webhook found it, updated in memory as the flow decides."""

    id: int
    debtor_id: int
    phone_id: int
    debt_id: int | None
    campaign_id: int | None
    callback_id: int | None
    state: str
    active: bool
    answered_at: datetime | None
    answered_by: str | None
    carrier_call_sid: str | None
    right_party_verified: bool
    conversation: bool
    outcome: str | None
    ivr_step: str | None


@dataclass(frozen=True, slots=True)
class DebtorView:
    id: int
    full_name: str
    document_kind: str
    document: str
    birth_date: date | None
    country: str
    state: str | None
    language: str
    preferred_channel: str

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0] if self.full_name.strip() else ""


@dataclass(frozen=True, slots=True)
class PhoneView:
    id: int
    number: str


@dataclass(frozen=True, slots=True)
class DebtView:
    id: int
    currency: str
    principal: Decimal
    fee: Decimal
    interest: Decimal
    due_date: date
    status: str
    payment_pending: bool

    @property
    def total(self) -> Decimal:
        return self.principal + self.fee + self.interest


@dataclass(frozen=True, slots=True)
class CreditorView:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class CampaignView:
    id: int
    caller_id: str
    second_factor: str
    transfer_timeout_seconds: int


@dataclass
class CallContext:
    """An attempt and everything its call needs, loaded together."""

    attempt: AttemptView
    debtor: DebtorView
    phone: PhoneView
    debt: DebtView | None
    creditor: CreditorView | None
    campaign: CampaignView | None


_VIEWS: tuple[tuple[type, type], ...] = (
    (AttemptView, Attempt),
    (DebtorView, Debtor),
    (PhoneView, Phone),
    (DebtView, Debt),
    (CreditorView, Creditor),
    (CampaignView, Campaign),
)
_WIDTHS = tuple(len(fields(view)) for view, _model in _VIEWS)

_CALL_QUERY = (
    select(*(getattr(model, f.name) for view, model in _VIEWS for f in fields(view)))
    .join(Debtor, Debtor.id == Attempt.debtor_id)
    .join(Phone, Phone.id == Attempt.phone_id)
    .outerjoin(Debt, Debt.id == Attempt.debt_id)
    .outerjoin(Creditor, Creditor.id == Debt.creditor_id)
    .outerjoin(Campaign, Campaign.id == Attempt.campaign_id)
    .where(Attempt.id == bindparam("attempt_id"))
)


def load_call(
    db: Database, attempt_id: int, lease: DriverLease | None = None
) -> CallContext | None:
    """One indexed lookup, outside any write transaction: the attempt joined with its
    debtor, phone, debt, creditor and campaign, as plain values (on `lease`'s connection
    when given)."""
    row = db.read_first(_CALL_QUERY, {"attempt_id": attempt_id}, lease)
    if row is None:
        return None
    views: list[Any] = []
    start = 0
    for (view, _model), width in zip(_VIEWS, _WIDTHS, strict=True):
        values = row[start : start + width]
        start += width
        views.append(None if values[0] is None else view(*values))
    return CallContext(*views)


_ATTEMPT = table_of(Attempt)
# What the flow gives of every event (ivr.voice.flow.CallFlow.record).
_EVENT_COLUMNS = (
    "debtor_id",
    "attempt_id",
    "phone_id",
    "debt_id",
    "kind",
    "channel",
    "actor",
    "occurred_at",
    "data",
)

# How a column changes when the database, not the snapshot, must decide (see the module's
# docstring); each takes the bind parameter holding the webhook's value.
_GUARDED: dict[str, Callable[[BindParameter[Any]], ColumnElement[Any]]] = {
    "answered_at": lambda value: func.coalesce(_ATTEMPT.c.answered_at, value),
    "carrier_call_sid": lambda value: func.coalesce(_ATTEMPT.c.carrier_call_sid, value),
    # The states as SQL literals: an IN list of parameters would be re-rendered per call.
    "state": lambda value: case(
        (_ATTEMPT.c.state.in_([literal_column(f"'{s}'") for s in _BEFORE_ANSWER]), value),
        else_=_ATTEMPT.c.state,
    ),
    "weak_outcome": lambda value: case(
        (or_(_ATTEMPT.c.outcome.is_(None), _ATTEMPT.c.outcome == "disclosed"), value),
        else_=_ATTEMPT.c.outcome,
    ),
}


@functools.lru_cache(maxsize=64)
def _attempt_update(changes: tuple[str, ...]) -> Update:
    """UPDATE attempt SET <changes> WHERE id = :attempt_id, one statement per set of changes
    (built once; its parameters are named after the changes)."""
    values: dict[str, Any] = {}
    for name in changes:
        column = "outcome" if name == "weak_outcome" else name
        value = bindparam(f"new_{name}", type_=_ATTEMPT.c[column].type)
        values[column] = _GUARDED[name](value) if name in _GUARDED else value
    return update(_ATTEMPT).where(_ATTEMPT.c.id == bindparam("changed_attempt_id")).values(values)


@functools.lru_cache(maxsize=64)
def _event_insert_with(changes: tuple[str, ...]) -> Insert:
    """A contact event's INSERT; with changes, carrying the attempt's UPDATE as a
    data-modifying WITH (PostgreSQL): both or neither, in one statement."""
    # Parameters named event_<column>: a parameter named like an attempt column would
    # join the UPDATE's SET clause.
    table = table_of(ContactEvent)
    columns = table.c
    statement = insert(table).values(
        {name: bindparam(f"event_{name}", type_=columns[name].type) for name in _EVENT_COLUMNS}
    )
    if not changes:
        return statement
    return statement.add_cte(
        _attempt_update(changes).returning(_ATTEMPT.c.id).cte("changed_attempt")
    )


def _event_params(event: dict[str, Any]) -> dict[str, Any]:
    return {f"event_{name}": event[name] for name in _EVENT_COLUMNS}


class CallWrites:
    """The changes of one webhook: the attempt's columns and the contact events, written
    together by `commit`; a session for anything else, opened only when asked for."""

    def __init__(
        self, db: Database, attempt: AttemptView, lease: DriverLease | None = None
    ) -> None:
        self.db = db
        self.attempt = attempt
        self._lease = lease  # the connection the attempt was read on, for the write
        self._changes: dict[str, Any] = {}
        self._events: list[dict[str, Any]] = []
        self._session: Session | None = None
        self._wrote_events = False

    @property
    def session(self) -> Session:
        """The webhook's write transaction, for the rarer steps that need more than the
        attempt and its events (a second copy, a callback, an opt-out)."""
        if self._session is None:
            if self._lease is not None:
                self._lease.close()  # the session writes everything: one connection at a time
            self._session = self.db.sessions()
        return self._session

    # -- the attempt -----------------------------------------------------------------

    def set(self, **values: Any) -> None:
        """Columns whose new value does not depend on what another writer did."""
        for name, value in values.items():
            setattr(self.attempt, name, value)
            self._changes[name] = value

    def answered(self, now: datetime, answered_by: str | None, call_sid: str | None) -> None:
        """The callee answered: keep the first answer time and call SID, move the state
        forward to in-progress unless a status callback already moved it further."""
        attempt = self.attempt
        attempt.answered_at = attempt.answered_at or now
        self._changes["answered_at"] = now
        if answered_by:
            self.set(answered_by=answered_by)
        if call_sid:
            attempt.carrier_call_sid = attempt.carrier_call_sid or call_sid
            self._changes["carrier_call_sid"] = call_sid
        if attempt.state in _BEFORE_ANSWER:
            attempt.state = AttemptState.IN_PROGRESS.value
        self._changes["state"] = AttemptState.IN_PROGRESS.value

    def outcome(self, outcome: str, *, weak: bool = False) -> None:
        """The attempt's business outcome; a weak one never replaces a stronger one."""
        if not weak:
            self._changes.pop("weak_outcome", None)
            self.set(outcome=outcome)
            return
        if self.attempt.outcome in _REPLACEABLE_OUTCOMES:
            self.attempt.outcome = outcome
        if "outcome" in self._changes:  # a strong outcome of this same webhook stands
            if self._changes["outcome"] in _REPLACEABLE_OUTCOMES:
                self._changes["outcome"] = outcome
            return
        self._changes["weak_outcome"] = outcome

    # -- events ----------------------------------------------------------------------

    def event(self, values: dict[str, Any]) -> None:
        self._events.append(values)

    def write_events(self) -> None:
        """Write the events noted so far now, before what they caused (one INSERT)."""
        events, self._events = self._events, []
        for statement, values in self._statements({}, events):
            self.session.connection().execute(statement, values)
        self._wrote_events = self._wrote_events or bool(events)

    # -- the end ---------------------------------------------------------------------

    def commit(self) -> None:
        """Write the attempt's changes and the events in one transaction. A webhook that
        needed no session writes them straight through the driver (Database.write_driver):
        on PostgreSQL as one statement (the UPDATE as a data-modifying WITH of the INSERT,
        atomic by itself, so no BEGIN and COMMIT round trips), on SQLite in a short
        transaction."""
        statements = self._statements(self._changes, self._events)
        wrote_events = self._wrote_events or bool(self._events)
        if self._session is not None:
            for statement, values in statements:
                self._session.connection().execute(statement, values)
            self._session.commit()
        elif statements:
            self.db.write_driver(statements, self._lease)
        self._changes, self._events, self._wrote_events = {}, [], False
        if wrote_events:
            self.db.contact_events_written()

    def _statements(
        self, changes: dict[str, Any], events: list[dict[str, Any]]
    ) -> list[tuple[Executable, Any]]:
        """The attempt's UPDATE (guarded: see the module's docstring) and the events'
        INSERT, with their parameters; on PostgreSQL one event and the UPDATE are one
        statement."""
        names = tuple(sorted(changes))
        update_params = {f"new_{name}": changes[name] for name in names}
        update_params["changed_attempt_id"] = self.attempt.id
        rows = [_event_params(event) for event in events]
        if self.db.is_postgres and len(rows) == 1:
            return [(_event_insert_with(names), {**rows[0], **update_params})]
        statements: list[tuple[Executable, Any]] = []
        if changes:
            statements.append((_attempt_update(names), update_params))
        if rows:
            statements.append((_event_insert_with(()), rows[0] if len(rows) == 1 else rows))
        return statements

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


__all__ = ["CallContext", "CallWrites", "load_call"]
