"""CSV exports read in short chunks: a slow download keeps no writer waiting and holds
no transaction open, on either database, and still lists every row once, in order."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from agent_console import exports
from agent_console.exports import contact_events_csv, promises_csv
from ivr.db import Database
from ivr.models import ContactEvent, Debt
from ivr.promises.service import plan_for_debt, record_promise
from ivr.runtime import Runtime

from .conftest import post
from .factories import FakeCarrier, World, build_world


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rows per read, and each row handed on as soon as it is written: a download of
    a few rows then goes through every step a long one does."""
    monkeypatch.setattr(exports, "FETCH_SIZE", 2)
    monkeypatch.setattr(exports, "FLUSH_BYTES", 0)


def _add_notes(runtime: Runtime, debtor_id: int, count: int) -> None:
    with runtime.db.session() as session:
        for n in range(count):
            session.add(
                ContactEvent(
                    debtor_id=debtor_id,
                    kind="note",
                    actor="supervisor:sofia",
                    occurred_at=runtime.clock.now(),
                    data={"text": f"note {n}"},
                )
            )


def _event_ids(runtime: Runtime) -> list[int]:
    with runtime.db.session() as session:
        return list(session.scalars(select(ContactEvent.id).order_by(ContactEvent.id)))


def _ids_in(csv_text: str) -> list[int]:
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(csv_text))]


def _write_in_another_thread(url: str, debtor_id: int, clock_now) -> list[BaseException]:
    """Add a note through another engine (as another process would), in a thread, and
    wait for it. Its short busy timeout turns a wait for the export (the fault these
    tests guard against) into an error instead of a hang. The errors it met."""
    writer = Database(url, busy_timeout=2)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with writer.session() as session:
                session.add(
                    ContactEvent(
                        debtor_id=debtor_id,
                        kind="note",
                        actor="supervisor:sofia",
                        occurred_at=clock_now,
                        data={"text": "written during the download"},
                    )
                )
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(60)
    writer.dispose()
    if thread.is_alive():
        errors.append(TimeoutError("the writer was still waiting after 60 s"))
    return errors


def test_a_writer_commits_while_a_slow_client_downloads_the_contact_log(
    supervisor: FlaskClient, sqlite_runtime: Runtime, world: World, small_chunks: None
) -> None:
    _add_notes(sqlite_runtime, world.debtor_id, 5)
    before = _event_ids(sqlite_runtime)
    response = supervisor.get("/console/supervisor/exports/contact-events.csv", buffered=False)
    assert response.is_streamed
    pieces: Iterator[bytes] = iter(response.response)
    received = [next(pieces), next(pieces)]  # the client takes the first rows, then pauses

    errors = _write_in_another_thread(
        sqlite_runtime.config.database_url, world.debtor_id, sqlite_runtime.clock.now()
    )

    assert not errors  # the writer committed while the download was mid-way
    assert len(_event_ids(sqlite_runtime)) == len(before) + 1
    received.extend(pieces)  # the client takes the rest
    response.close()
    # Every row there was when the download began, once and in order; not the new one.
    assert _ids_in(b"".join(received).decode()) == before


def test_a_paused_export_holds_no_transaction_and_no_write_lock(
    runtime: Runtime, small_chunks: None
) -> None:
    runtime.extras["carrier"] = FakeCarrier()
    world = build_world(runtime)
    _add_notes(runtime, world.debtor_id, 5)
    before = _event_ids(runtime)
    stream = contact_events_csv(runtime.db, None, None)
    received = [next(stream), next(stream), next(stream)]  # mid-way through the second chunk

    if runtime.db.is_postgres:
        with runtime.db.engine.connect() as conn:
            open_transactions = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            ).scalar()
        assert open_transactions == 0
    errors = _write_in_another_thread(
        runtime.config.database_url, world.debtor_id, runtime.clock.now()
    )

    assert not errors
    received.extend(stream)
    assert _ids_in("".join(received)) == before


def test_the_promises_export_read_in_chunks_lists_every_promise_in_order(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "FETCH_SIZE", 1)
    runtime.extras["carrier"] = FakeCarrier()
    world = build_world(runtime)
    with runtime.db.session() as session:
        for debt_id in (world.debt_id, world.other_debt_id):
            debt = session.get(Debt, debt_id)
            assert debt is not None
            plan = plan_for_debt(
                debt,
                down_payment=Decimal("0"),
                installments=2,
                first_payment=date(2026, 12, 1),
                today=date(2026, 11, 24),
            )
            record_promise(
                session,
                debt,
                plan,
                now=runtime.clock.now(),
                actor="agent:ana",
                user_id=world.agent_id,
            )
    rows = list(csv.DictReader(io.StringIO("".join(promises_csv(runtime.db, None, None)))))
    assert [row["debtor_external_id"] for row in rows] == ["D-1001", "D-1002"]
    assert [int(row["id"]) for row in rows] == sorted(int(row["id"]) for row in rows)
    assert all(row["agent"] == "ana" and row["installments"] == "2" for row in rows)
    assert rows[0]["first_due_date"] == "2026-12-01" and rows[0]["plan"].startswith("[")


def test_an_export_of_an_empty_period_is_its_header(
    supervisor: FlaskClient, world: World, small_chunks: None
) -> None:
    response = supervisor.get("/console/supervisor/exports/promises.csv")
    assert response.get_data(as_text=True).strip() == ",".join(exports.PROMISE_COLUMNS)
    post(supervisor, f"/console/debtors/{world.debtor_id}/note", {"text": "a note"})
    events = supervisor.get("/console/supervisor/exports/contact-events.csv?until=2026-01-01")
    assert events.get_data(as_text=True).strip() == ",".join(exports.EVENT_COLUMNS)
