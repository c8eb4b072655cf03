"""What an agent does about a debtor, as services usable without Flask. Each one
checks its input, changes what the dialer reads (so an opt-out, a wrong number or
a disputed or paid debt stops calls at once, in every worker: they all read the
database), and appends a contact event. The caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.db import rows_changed
from ivr.dialer.facts import decide_callback_at
from ivr.messaging.second_copy import send_second_copy
from ivr.models import Callback, ContactEvent, Debt, Debtor, DebtStatus, Phone, SmsMessage
from ivr.runtime import Runtime

DISPOSITIONS_FILE = Path(__file__).with_name("dispositions.yaml")
NOTE_MAX_LENGTH = 2000
CALLBACK_HORIZON = timedelta(days=30)
OPT_OUT_CHANNELS = ("voice", "sms", "whatsapp")
AGENT_DEBT_STATUSES = (DebtStatus.DISPUTED.value, DebtStatus.PAID.value)
PII_FIELDS = ("document", "phone")


class ActionRefused(ValueError):
    """An action the agent can fix or must not do; `code` is translated by the console
    (`action_error.<code>`), `field` names the input when there is one."""

    def __init__(self, code: str, field: str | None = None, /, **values: object) -> None:
        super().__init__(
            f"{code}" + (f" ({field})" if field else "") + (f" {values}" if values else "")
        )
        self.code = code
        self.field = field
        self.values = values


class CallbackRefused(ActionRefused):
    """The rules do not allow a call at the requested instant; `reasons` explain why,
    already in the agent's language."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("callback_not_allowed", "due_at")
        self.reasons = reasons


@lru_cache(maxsize=1)
def disposition_codes() -> tuple[str, ...]:
    raw = yaml.safe_load(DISPOSITIONS_FILE.read_text(encoding="utf-8"))
    return tuple(str(code) for code in raw["codes"])


def _event(
    debtor_id: int,
    kind: str,
    *,
    now: datetime,
    actor: str,
    attempt_id: int | None = None,
    phone_id: int | None = None,
    debt_id: int | None = None,
    channel: str = "agent",
    **data: object,
) -> ContactEvent:
    return ContactEvent(
        debtor_id=debtor_id,
        attempt_id=attempt_id,
        phone_id=phone_id,
        debt_id=debt_id,
        kind=kind,
        channel=channel,
        actor=actor,
        occurred_at=now,
        data=data,
    )


def add_note(
    session: Session,
    debtor: Debtor,
    text: str,
    *,
    now: datetime,
    actor: str,
    attempt_id: int | None = None,
) -> ContactEvent:
    text = text.strip()
    if not text:
        raise ActionRefused("required", "note")
    if len(text) > NOTE_MAX_LENGTH:
        raise ActionRefused("too_long", "note", maximum=NOTE_MAX_LENGTH, length=len(text))
    event = _event(debtor.id, "note", now=now, actor=actor, attempt_id=attempt_id, text=text)
    session.add(event)
    return event


def record_disposition(
    session: Session,
    debtor: Debtor,
    code: str,
    *,
    now: datetime,
    actor: str,
    attempt_id: int | None = None,
) -> ContactEvent:
    if code not in disposition_codes():
        raise ActionRefused("unknown_disposition", "disposition", value=code)
    event = _event(debtor.id, "disposition", now=now, actor=actor, attempt_id=attempt_id, code=code)
    session.add(event)
    return event


def _debtor_phone(session: Session, debtor: Debtor, phone_id: int) -> Phone:
    phone = session.get(Phone, phone_id)
    if phone is None or phone.debtor_id != debtor.id:
        raise ActionRefused("unknown_phone", "phone")
    return phone


def _debtor_debt(session: Session, debtor: Debtor, debt_id: int) -> Debt:
    debt = session.get(Debt, debt_id)
    if debt is None or debt.debtor_id != debtor.id:
        raise ActionRefused("unknown_debt", "debt")
    return debt


def schedule_callback(
    session: Session,
    debtor: Debtor,
    *,
    phone_id: int,
    due_at: datetime,
    now: datetime,
    actor: str,
    language: str,
    user_id: int | None = None,
    attempt_id: int | None = None,
) -> Callback:
    """Book a callback the rules allow at `due_at` (effective window, holidays, caps
    re-checked by the dialer at that moment); CallbackRefused with the reasons if not."""
    phone = _debtor_phone(session, debtor, phone_id)
    if phone.wrong_number_at is not None:
        raise ActionRefused("phone_wrong_number", "phone")
    if due_at <= now:
        raise ActionRefused("callback_in_past", "due_at")
    if due_at > now + CALLBACK_HORIZON:
        raise ActionRefused("callback_too_far", "due_at", days=CALLBACK_HORIZON.days)
    debt = session.scalars(
        select(Debt)
        .where(Debt.debtor_id == debtor.id, Debt.status == DebtStatus.OPEN.value)
        .order_by(Debt.campaign_id.is_(None), Debt.due_date)
    ).first()
    campaign_id = debt.campaign_id if debt else None
    allowed, reasons = decide_callback_at(
        session, debtor.id, phone.id, campaign_id, due_at, language=language
    )
    if not allowed:
        raise CallbackRefused(reasons)
    callback = Callback(
        debtor_id=debtor.id,
        phone_id=phone.id,
        debt_id=debt.id if debt else None,
        campaign_id=campaign_id,
        due_at=due_at,
        status="scheduled",
        requested_via="agent",
        user_id=user_id,
        created_at=now,
    )
    session.add(callback)
    session.flush()
    session.add(
        _event(
            debtor.id,
            "callback.booked",
            now=now,
            actor=actor,
            attempt_id=attempt_id,
            phone_id=phone.id,
            debt_id=callback.debt_id,
            callback_id=callback.id,
            due_at=due_at.isoformat(),
            via="agent",
        )
    )
    return callback


def record_opt_out(
    session: Session,
    debtor: Debtor,
    channels: list[str],
    *,
    now: datetime,
    actor: str,
    attempt_id: int | None = None,
) -> list[ContactEvent]:
    """Stop contact on `channels` for the debtor, in every campaign, at once."""
    if not channels:
        raise ActionRefused("required", "channels")
    unknown = [c for c in channels if c not in OPT_OUT_CHANNELS]
    if unknown:
        raise ActionRefused("unknown_channel", "channels", channels=", ".join(unknown))
    events = []
    for channel in dict.fromkeys(channels):
        column = f"{channel}_opt_out_at"
        if getattr(debtor, column) is None:
            setattr(debtor, column, now)
        canceled = 0
        if channel == "voice":
            canceled = (
                rows_changed(
                    session.execute(
                        update(Callback)
                        .where(Callback.debtor_id == debtor.id, Callback.status == "scheduled")
                        .values(status="canceled")
                    )
                )
                or 0
            )
        event = _event(
            debtor.id,
            "opt_out",
            now=now,
            actor=actor,
            attempt_id=attempt_id,
            scope=["debtor"],
            opted_out_channel=channel,
            via="agent",
            callbacks_canceled=canceled,
        )
        session.add(event)
        events.append(event)
    return events


def mark_wrong_number(
    session: Session,
    debtor: Debtor,
    phone_id: int,
    *,
    now: datetime,
    actor: str,
    attempt_id: int | None = None,
) -> ContactEvent:
    phone = _debtor_phone(session, debtor, phone_id)
    phone.wrong_number_at = phone.wrong_number_at or now
    session.execute(
        update(Callback)
        .where(Callback.phone_id == phone.id, Callback.status == "scheduled")
        .values(status="canceled")
    )
    event = _event(
        debtor.id,
        "phone.wrong_number",
        now=now,
        actor=actor,
        attempt_id=attempt_id,
        phone_id=phone.id,
    )
    session.add(event)
    return event


def mark_debt_status(
    session: Session,
    debtor: Debtor,
    debt_id: int,
    status: str,
    *,
    now: datetime,
    actor: str,
    reason: str = "",
    attempt_id: int | None = None,
) -> ContactEvent:
    """Mark a debt disputed or paid: the dialer never calls about it again (invariant 5)."""
    if status not in AGENT_DEBT_STATUSES:
        raise ActionRefused("unknown_debt_status", "status", status=status)
    debt = _debtor_debt(session, debtor, debt_id)
    if len(reason) > NOTE_MAX_LENGTH:
        raise ActionRefused("too_long", "reason", maximum=NOTE_MAX_LENGTH, length=len(reason))
    previous = debt.status
    debt.status = status
    debt.status_changed_at = now
    session.execute(
        update(Callback)
        .where(Callback.debt_id == debt.id, Callback.status == "scheduled")
        .values(status="canceled")
    )
    event = _event(
        debtor.id,
        f"debt.{status}",
        now=now,
        actor=actor,
        attempt_id=attempt_id,
        debt_id=debt.id,
        previous_status=previous,
        reason=reason.strip(),
    )
    session.add(event)
    return event


def request_second_copy(
    session: Session,
    runtime: Runtime,
    debtor: Debtor,
    debt_id: int,
    *,
    actor: str,
    attempt_id: int | None = None,
) -> SmsMessage:
    """Send the debt's second copy by the debtor's channel. Raises SecondCopyRefused
    after recording why; commit anyway so the refusal stays in the log."""
    debt = _debtor_debt(session, debtor, debt_id)
    return send_second_copy(session, runtime, debtor, debt, actor, attempt_id=attempt_id)


def reveal_pii(
    session: Session,
    debtor: Debtor,
    field: str,
    *,
    now: datetime,
    actor: str,
    phone_id: int | None = None,
) -> str:
    """The unmasked value, and a `pii.revealed` event saying who saw what (never the value)."""
    if field not in PII_FIELDS:
        raise ActionRefused("unknown_field", "field", field=field)
    if field == "phone":
        phone = _debtor_phone(session, debtor, phone_id or 0)
        session.add(
            _event(
                debtor.id, "pii.revealed", now=now, actor=actor, phone_id=phone.id, field="phone"
            )
        )
        return phone.number
    session.add(
        _event(
            debtor.id,
            "pii.revealed",
            now=now,
            actor=actor,
            field="document",
            document_kind=debtor.document_kind,
        )
    )
    return debtor.document


__all__ = [
    "ActionRefused",
    "CallbackRefused",
    "add_note",
    "disposition_codes",
    "mark_debt_status",
    "mark_wrong_number",
    "record_disposition",
    "record_opt_out",
    "request_second_copy",
    "reveal_pii",
    "schedule_callback",
]
