"""CSV exports of the contact log and of promises to pay, streamed as they are read so
a year of events never sits in memory. Cells that a spreadsheet would run as a formula
(starting with = + - @) are prefixed with a quote.

A download lasts as long as the client takes to receive it, so nothing is held open
across it: the rows are read FETCH_SIZE at a time, in order of id after the last one
sent, each chunk one statement outside any transaction (`Database.read`), on a
connection given back before the chunk is sent. No writer waits for an export (SQLite's
writer lock, PostgreSQL's long transactions). An export ends with the newest row there
was when it began; each row is as it was when its chunk was read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from ivr.db import Database
from ivr.models import ContactEvent, Debt, Debtor, PromiseToPay, User

FETCH_SIZE = 1000
FLUSH_BYTES = 64 * 1024  # CSV text gathered before it is handed to the client
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
        if buffer.tell() > FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _read_all(db: Database, statement: Select[Any]) -> Sequence[Row[Any]]:
    return db.read(lambda conn: conn.execute(statement).all())


def _in_chunks(
    db: Database, query: Select[Any], key: InstrumentedAttribute[int]
) -> Iterator[Row[Any]]:
    """The rows of `query` (whose first column is `key`, the table's id) in order of
    `key`, read FETCH_SIZE at a time (see the module's docstring)."""
    last = db.read(lambda conn: conn.execute(select(func.max(key))).scalar())
    if last is None:
        return
    query = query.where(key <= last).order_by(key).limit(FETCH_SIZE)
    chunk = _read_all(db, query)
    while chunk:
        yield from chunk
        if len(chunk) < FETCH_SIZE:
            return
        chunk = _read_all(db, query.where(key > chunk[-1][0]))


def contact_events_csv(
    db: Database, since: datetime | None, until: datetime | None
) -> Iterator[str]:
    def rows() -> Iterator[tuple[object, ...]]:
        query = (
            select(
                ContactEvent.id,
                ContactEvent.occurred_at,
                Debtor.external_id,
                ContactEvent.kind,
                ContactEvent.channel,
                ContactEvent.actor,
                ContactEvent.attempt_id,
                ContactEvent.phone_id,
                Debt.external_id,
                ContactEvent.data,
            )
            .join(Debtor, Debtor.id == ContactEvent.debtor_id)
            .outerjoin(Debt, Debt.id == ContactEvent.debt_id)
        )
        if since:
            query = query.where(ContactEvent.occurred_at >= since)
        if until:
            query = query.where(ContactEvent.occurred_at < until)
        for row in _in_chunks(db, query, ContactEvent.id):
            *columns, data = row
            yield (
                *columns,
                json.dumps(data or {}, ensure_ascii=False, sort_keys=True, default=str),
            )

    return _csv_lines(EVENT_COLUMNS, rows())


def promises_csv(db: Database, since: datetime | None, until: datetime | None) -> Iterator[str]:
    agent = aliased(User)

    def rows() -> Iterator[tuple[object, ...]]:
        query = (
            select(
                PromiseToPay.id,
                PromiseToPay.created_at,
                Debtor.external_id,
                Debt.external_id,
                agent.username,
                PromiseToPay.status,
                PromiseToPay.down_payment,
                PromiseToPay.installments,
                PromiseToPay.installment_amount,
                PromiseToPay.first_due_date,
                PromiseToPay.monthly_interest_rate,
                PromiseToPay.late_fee_rate,
                PromiseToPay.total,
                PromiseToPay.plan,
            )
            .join(Debtor, Debtor.id == PromiseToPay.debtor_id)
            .join(Debt, Debt.id == PromiseToPay.debt_id)
            .outerjoin(agent, agent.id == PromiseToPay.user_id)
        )
        if since:
            query = query.where(PromiseToPay.created_at >= since)
        if until:
            query = query.where(PromiseToPay.created_at < until)
        for promise in _in_chunks(db, query, PromiseToPay.id):
            plan = promise.plan or {}
            yield (
                *promise[:9],
                promise.first_due_date.isoformat(),
                plan.get("monthly_interest_rate", promise.monthly_interest_rate),
                plan.get("late_fee_rate", promise.late_fee_rate),
                promise.total,
                json.dumps(plan.get("installments", []), sort_keys=True),
            )

    return _csv_lines(PROMISE_COLUMNS, rows())


__all__ = ["contact_events_csv", "promises_csv"]
