"""Candidate selection: who the dialer looks at next, index-driven.

Debtors wait in a queue ordered by priority bucket (0..9, higher first) and by
`next_call_at`; each bucket is one range scan of `ix_debtor_dial_queue`, so the
cost of a tick grows with the batch, not with the portfolio. Due callbacks come
before everything else (`ix_callback_due`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.db import is_postgres
from ivr.models import Callback, Debtor

PRIORITY_BUCKETS = range(9, -1, -1)


@dataclass(frozen=True)
class Candidate:
    debtor_id: int
    callback_id: int | None = None
    callback_phone_id: int | None = None
    callback_debt_id: int | None = None
    callback_campaign_id: int | None = None
    callback_due_at: datetime | None = None


def due_callbacks(session: Session, now: datetime, limit: int, lock: bool = True) -> list[Candidate]:
    query = (
        select(Callback.id, Callback.debtor_id, Callback.phone_id, Callback.debt_id, Callback.campaign_id,
               Callback.due_at)
        .where(Callback.status == "scheduled", Callback.due_at <= now)
        .order_by(Callback.due_at)
        .limit(limit)
    )
    if lock and is_postgres(session.get_bind()):
        query = query.with_for_update(skip_locked=True, key_share=True)
    return [
        Candidate(debtor_id=row.debtor_id, callback_id=row.id, callback_phone_id=row.phone_id,
                  callback_debt_id=row.debt_id, callback_campaign_id=row.campaign_id, callback_due_at=row.due_at)
        for row in session.execute(query)
    ]


def due_debtors(session: Session, now: datetime, limit: int, exclude: set[int] | None = None,
                lock: bool = True) -> list[Candidate]:
    """Debtors whose `next_call_at` has come, most urgent bucket first.

    On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers take
    disjoint batches; SQLite serialises writers (BEGIN IMMEDIATE) instead.
    """
    exclude = exclude or set()
    found: list[Candidate] = []
    postgres = is_postgres(session.get_bind())
    for bucket in PRIORITY_BUCKETS:
        room = limit - len(found)
        if room <= 0:
            break
        query = (
            select(Debtor.id)
            .where(Debtor.dial_priority == bucket, Debtor.next_call_at <= now)
            .order_by(Debtor.next_call_at)
            .limit(room + len(exclude))
        )
        if lock and postgres:
            query = query.with_for_update(skip_locked=True, key_share=True)
        for debtor_id in session.scalars(query):
            if debtor_id not in exclude and len(found) < limit:
                found.append(Candidate(debtor_id=debtor_id))
    return found


def priority_bucket(days_past_due: int, open_balance: Decimal) -> int:
    """Urgency bucket 0..9: older and larger debts first.

    Age contributes 0..5 (a step every 60 days past due), size 0..4 (by order of
    magnitude of the open balance from 100 up). Recomputed on import.
    """
    if days_past_due <= 0 or open_balance <= 0:
        return 0
    age = min(days_past_due // 60, 5)
    size = 0
    threshold = Decimal(100)
    while size < 4 and open_balance >= threshold * 10:
        size += 1
        threshold *= 10
    return age + size
