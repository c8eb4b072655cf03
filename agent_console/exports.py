"""CSV exports of the contact log and of promises to pay, streamed row by row so a
year of events never sits in memory. Cells that a spreadsheet would run as a
formula (starting with = + - @) are prefixed with a quote."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from ivr.db import Database
from ivr.models import ContactEvent, Debt, Debtor, PromiseToPay, User

FETCH_SIZE = 1000
EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "debtor_external_id",
    "kind",
    "channel",
    "actor",
    "attempt_id",
    "phone_id",
    "debt_external_id",
    "data",
)
PROMISE_COLUMNS = (
    "id",
    "created_at",
    "debtor_external_id",
    "debt_external_id",
    "agent",
    "status",
    "down_payment",
    "installments",
    "installment_amount",
    "first_due_date",
    "monthly_interest_rate",
    "late_fee_rate",
    "total",
    "plan",
)


def _safe(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_lines(header: tuple[str, ...], rows: Iterator[tuple[object, ...]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def contact_events_csv(
    db: Database, since: datetime | None, until: datetime | None
) -> Iterator[str]:
    def rows() -> Iterator[tuple[object, ...]]:
        with db.session() as session:
            query = (
                select(ContactEvent, Debtor.external_id, Debt.external_id)
                .join(Debtor, Debtor.id == ContactEvent.debtor_id)
                .outerjoin(Debt, Debt.id == ContactEvent.debt_id)
                .order_by(ContactEvent.id)
            )
            if since:
                query = query.where(ContactEvent.occurred_at >= since)
            if until:
                query = query.where(ContactEvent.occurred_at < until)
            for event, debtor_ext, debt_ext in session.execute(
                query.execution_options(yield_per=FETCH_SIZE)
            ):
                yield (
                    event.id,
                    event.occurred_at,
                    debtor_ext,
                    event.kind,
                    event.channel,
                    event.actor,
                    event.attempt_id,
                    event.phone_id,
                    debt_ext,
                    json.dumps(event.data or {}, ensure_ascii=False, sort_keys=True, default=str),
                )

    return _csv_lines(EVENT_COLUMNS, rows())


def promises_csv(db: Database, since: datetime | None, until: datetime | None) -> Iterator[str]:
    agent = aliased(User)

    def rows() -> Iterator[tuple[object, ...]]:
        with db.session() as session:
            query = (
                select(PromiseToPay, Debtor.external_id, Debt.external_id, agent.username)
                .join(Debtor, Debtor.id == PromiseToPay.debtor_id)
                .join(Debt, Debt.id == PromiseToPay.debt_id)
                .outerjoin(agent, agent.id == PromiseToPay.user_id)
                .order_by(PromiseToPay.id)
            )
            if since:
                query = query.where(PromiseToPay.created_at >= since)
            if until:
                query = query.where(PromiseToPay.created_at < until)
            for promise, debtor_ext, debt_ext, username in session.execute(
                query.execution_options(yield_per=FETCH_SIZE)
            ):
                plan = promise.plan or {}
                yield (
                    promise.id,
                    promise.created_at,
                    debtor_ext,
                    debt_ext,
                    username,
                    promise.status,
                    promise.down_payment,
                    promise.installments,
                    promise.installment_amount,
                    promise.first_due_date.isoformat(),
                    plan.get("monthly_interest_rate", promise.monthly_interest_rate),
                    plan.get("late_fee_rate", promise.late_fee_rate),
                    promise.total,
                    json.dumps(plan.get("installments", []), sort_keys=True),
                )

    return _csv_lines(PROMISE_COLUMNS, rows())


__all__ = ["contact_events_csv", "promises_csv"]
