"""A debtor's whole history for the agent: every attempt, IVR step and key, SMS,
callback, promise, note and opt-out, newest first, and the right-party check.

The contact log is the backbone; attempts and SMS rows add what only they hold
(state, duration, delivery status). Phone numbers inside event data are masked:
revealing one is a separate, logged action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.masking import mask_phone
from ivr.models import Attempt, ContactEvent, Phone, SmsMessage

TIMELINE_LIMIT = 500
_PHONE = re.compile(r"\+\d{8,15}")
_HIDDEN_DATA = frozenset({"call_sid", "sid", "idempotency_key"})
RIGHT_PARTY_KINDS = ("ivr.right_party", "ivr.wrong_person", "ivr.unverified")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str
    actor: str
    channel: str
    attempt_id: int | None
    details: tuple[tuple[str, Any], ...] = field(default=())
    source: str = "event"  # event | attempt | sms

    @property
    def kind_key(self) -> str:
        """The i18n key of the kind (`event_kind.<kind with _>`)."""
        return "event_kind." + self.kind.replace(".", "_")


@dataclass(frozen=True, slots=True)
class RightPartyCheck:
    status: str  # verified | wrong_person | unverified | not_checked
    attempt_id: int | None = None
    at: datetime | None = None


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        return _PHONE.sub(lambda m: mask_phone(m.group(0)), value)
    if isinstance(value, list):
        return ", ".join(str(_shown(v)) for v in value)
    return value


def _details(data: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (key, _shown(value))
        for key, value in data.items()
        if key not in _HIDDEN_DATA and value not in (None, "")
    )


def debtor_timeline(
    session: Session, debtor_id: int, limit: int = TIMELINE_LIMIT
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for event in session.scalars(
        select(ContactEvent)
        .where(ContactEvent.debtor_id == debtor_id)
        .order_by(ContactEvent.occurred_at.desc(), ContactEvent.id.desc())
        .limit(limit)
    ):
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind=event.kind,
                actor=event.actor,
                channel=event.channel,
                attempt_id=event.attempt_id,
                details=_details(event.data or {}),
            )
        )
    phones = {
        p.id: p.number for p in session.scalars(select(Phone).where(Phone.debtor_id == debtor_id))
    }
    for attempt in session.scalars(
        select(Attempt)
        .where(Attempt.debtor_id == debtor_id)
        .order_by(Attempt.created_at.desc())
        .limit(limit)
    ):
        details = {
            "phone": mask_phone(phones.get(attempt.phone_id, "")),
            "state": attempt.state,
            "outcome": attempt.outcome,
            "answered_by": attempt.answered_by,
            "right_party_verified": attempt.right_party_verified,
            "ivr_step": attempt.ivr_step,
            "duration_seconds": attempt.duration_seconds,
        }
        entries.append(
            TimelineEntry(
                at=attempt.placed_at or attempt.created_at,
                kind="attempt",
                actor=attempt.worker or "dialer",
                channel="voice",
                attempt_id=attempt.id,
                details=_details(details),
                source="attempt",
            )
        )
    for message in session.scalars(
        select(SmsMessage)
        .where(SmsMessage.debtor_id == debtor_id)
        .order_by(SmsMessage.created_at.desc())
        .limit(limit)
    ):
        details = {"phone": mask_phone(phones.get(message.phone_id, "")), "status": message.status}
        entries.append(
            TimelineEntry(
                at=message.created_at,
                kind="sms.message",
                actor="messaging",
                channel=message.channel,
                attempt_id=None,
                details=_details(details),
                source="sms",
            )
        )
    # Newest first; at one instant the attempt (where a call starts) goes below its events.
    entries.sort(key=lambda e: (e.at, e.source != "attempt"), reverse=True)
    return entries[:limit]


def right_party_check(session: Session, debtor_id: int) -> RightPartyCheck:
    """The latest right-party check of any call to this debtor."""
    event = session.scalars(
        select(ContactEvent)
        .where(ContactEvent.debtor_id == debtor_id, ContactEvent.kind.in_(RIGHT_PARTY_KINDS))
        .order_by(ContactEvent.id.desc())
        .limit(1)
    ).first()
    if event is None:
        return RightPartyCheck(status="not_checked")
    status = {"ivr.right_party": "verified", "ivr.wrong_person": "wrong_person"}.get(
        event.kind, "unverified"
    )
    return RightPartyCheck(status=status, attempt_id=event.attempt_id, at=event.occurred_at)


__all__ = ["RightPartyCheck", "TimelineEntry", "debtor_timeline", "right_party_check"]
