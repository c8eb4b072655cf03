"""Server-Sent Events over the contact log.

`follow_contact_events` yields each new ContactEvent of the kinds a stream cares
about, in id order, waking on the process's EventHub (see event_hub.py) and never
holding a database connection while it waits. It resumes from `Last-Event-ID`
when the browser reconnects, so nothing is lost across a dropped connection or a
stream recycled after `max_seconds` (which frees a worker thread now and then).

Ids are not always committed in order on PostgreSQL (two transactions may commit
in the opposite order of their ids), so each read looks back LOOKBACK_IDS ids
below the highest one seen and skips ids already sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent_console.event_hub import EventHub
from ivr.db import Database
from ivr.models import ContactEvent

LOOKBACK_IDS = 64
HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 1000
BATCH = 200


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A detached copy of a contact event, safe to use after its session closed."""

    id: int
    kind: str
    debtor_id: int
    attempt_id: int | None
    actor: str
    occurred_at: datetime
    data: dict[str, Any]


def sse_message(event: str | None, data: Any, event_id: int | None = None) -> str:
    """One SSE message; `data` is sent as JSON (one line: JSON escapes newlines)."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, default=str))
    return "\n".join(lines) + "\n\n"


def sse_comment(text: str = "") -> str:
    return f": {text}\n\n"


def sse_retry(milliseconds: int = RETRY_MILLISECONDS) -> str:
    return f"retry: {milliseconds}\n\n"


def latest_event_id(session: Session) -> int:
    """The newest contact event id: where a page's stream starts (read in the page's
    own session: on SQLite a second session in one request would wait for the first)."""
    return session.scalar(select(func.max(ContactEvent.id))) or 0


def resume_point(last_event_id: str | None, after: str | None) -> int | None:
    """Where to start: the browser's Last-Event-ID, else the page's `after` id."""
    for text in (last_event_id, after):
        if text and text.strip().isdigit():
            return int(text.strip())
    return None


def follow_contact_events(
    db: Database,
    hub: EventHub,
    kinds: Iterable[str],
    *,
    start_after: int,
    max_seconds: float,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> Iterator[list[LoggedEvent]]:
    """Yield batches of new events of `kinds` with id > start_after; an empty batch is
    a heartbeat (nothing yielded for `heartbeat_seconds`, however busy the log is with
    other kinds). Ends after `max_seconds`."""
    wanted = tuple(sorted(set(kinds)))
    highest = start_after
    sent: set[int] = set()
    deadline = time.monotonic() + max_seconds
    last_yield = time.monotonic()
    with hub.watch():
        generation = hub.generation
        while True:
            batch = _read(db, wanted, floor=max(start_after, highest - LOOKBACK_IDS), skip=sent)
            if batch:
                for item in batch:
                    sent.add(item.id)
                highest = max([highest, *(item.id for item in batch)])
                sent = {i for i in sent if i > highest - LOOKBACK_IDS}
                last_yield = time.monotonic()
                yield batch
                if len(batch) == BATCH:
                    continue  # more are waiting
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            quiet_for = time.monotonic() - last_yield
            generation = hub.wait(generation, max(0.0, min(heartbeat_seconds - quiet_for, remaining)))
            if time.monotonic() - last_yield >= heartbeat_seconds and time.monotonic() < deadline:
                # Keeps proxies from closing the stream, and lets the server notice a closed
                # page (only a write can), even while the log grows with other kinds.
                last_yield = time.monotonic()
                yield []


def _read(db: Database, kinds: tuple[str, ...], *, floor: int, skip: set[int]) -> list[LoggedEvent]:
    with db.session() as session:
        rows = session.scalars(
            select(ContactEvent)
            .where(ContactEvent.id > floor, ContactEvent.kind.in_(kinds))
            .order_by(ContactEvent.id)
            .limit(BATCH + len(skip))
        ).all()
        return [
            LoggedEvent(
                id=row.id,
                kind=row.kind,
                debtor_id=row.debtor_id,
                attempt_id=row.attempt_id,
                actor=row.actor,
                occurred_at=row.occurred_at,
                data=dict(row.data or {}),
            )
            for row in rows
            if row.id not in skip
        ][:BATCH]


__all__ = [
    "LoggedEvent",
    "follow_contact_events",
    "latest_event_id",
    "resume_point",
    "sse_comment",
    "sse_message",
    "sse_retry",
]
