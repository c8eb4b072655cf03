"""The schema: migrations from empty on both databases, and the guarantees it enforces."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ivr.db import Database, current_revision, downgrade, head_revision, upgrade
from ivr.models import Attempt, ContactEvent, Creditor, Debt, Debtor, Phone


def test_upgrade_from_empty_creates_every_table_and_downgrade_removes_them(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    db = Database(empty_db_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"debtor", "phone", "debt", "creditor", "payment_instrument", "campaign", "calling_window",
            "attempt", "contact_event", "sms_message", "callback", "promise_to_pay",
            "block_list_entry", "user_account", "holiday"} <= tables
    assert current_revision(db.engine) == head_revision(empty_db_url)
    downgrade(empty_db_url, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.dispose()


def _start_on(url: str, barrier) -> None:
    """A process starting on `url` (a gunicorn worker, a dialer): it migrates if needed."""
    from ivr.db import ensure_schema

    db = Database(url)
    barrier.wait(120)  # everyone imported and connected: start together
    ensure_schema(db.engine)
    db.dispose()


def test_processes_starting_together_on_a_new_database_all_start(empty_db_url: str) -> None:
    """The first start of a deployment: several processes find no schema at once. One
    creates it, the others wait and go on; none fails on a table another just made."""
    context = multiprocessing.get_context("spawn")
    starters = 4
    barrier = context.Barrier(starters)
    children = [context.Process(target=_start_on, args=(empty_db_url, barrier)) for _ in range(starters)]
    for child in children:
        child.start()
    for child in children:
        child.join(180)
    assert [child.exitcode for child in children] == [0] * starters
    db = Database(empty_db_url)
    assert current_revision(db.engine) == head_revision(empty_db_url)
    db.dispose()


def _debtor(session, external_id: str = "D1") -> Debtor:
    debtor = Debtor(external_id=external_id, full_name="Maria da Silva", document_kind="cpf",
                    document="52998224725", country="BR", state="SP", language="pt-BR")
    session.add(debtor)
    session.flush()
    session.add(Phone(debtor_id=debtor.id, number="+5511987654321", line_type="mobile"))
    session.flush()
    return debtor


def test_money_and_instants_round_trip_exactly(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        debtor = _debtor(s)
        creditor = Creditor(name="Banco Exemplo", legal_id="11222333000181")
        s.add(creditor)
        s.flush()
        s.add(Debt(external_id="C1", debtor_id=debtor.id, creditor_id=creditor.id,
                   principal=Decimal("123456789012.34"), fee=Decimal("0.01"),
                   interest=Decimal("1.10"), due_date=date(2026, 10, 1)))
    with db.session() as s:
        debt = s.scalars(select(Debt)).one()
        assert debt.principal == Decimal("123456789012.34")
        assert debt.total == Decimal("123456789013.45")
        assert debt.debtor.created_at.tzinfo is not None
    db.dispose()


def test_naive_datetime_is_refused(db_url: str) -> None:
    db = Database(db_url)
    with pytest.raises(Exception, match="naive datetime"), db.session() as s:
        d = _debtor(s)
        d.voice_opt_out_at = datetime(2026, 1, 1)
        s.flush()
    db.dispose()


def test_database_forbids_two_active_attempts_for_one_debtor(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        debtor = _debtor(s)
        phone_id = debtor.phones[0].id if debtor.phones else s.scalars(select(Phone.id)).one()
        s.add(Attempt(debtor_id=debtor.id, phone_id=phone_id, idempotency_key="k1"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Attempt(debtor_id=debtor.id, phone_id=phone_id, idempotency_key="k2"))
    # Once the first ends, a new one may be claimed.
    with db.session() as s:
        first = s.scalars(select(Attempt)).one()
        first.active = False
        first.state = "completed"
    with db.session() as s:
        s.add(Attempt(debtor_id=debtor.id, phone_id=phone_id, idempotency_key="k2"))
    with db.session() as s:
        assert len(s.scalars(select(Attempt)).all()) == 2
    db.dispose()


def test_contact_log_is_append_only(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        debtor = _debtor(s)
        s.add(ContactEvent(debtor_id=debtor.id, kind="note", occurred_at=datetime.now(UTC),
                           data={"text": "first"}))
    for statement in ("UPDATE contact_event SET kind = 'x'", "DELETE FROM contact_event"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as s:
            s.execute(text(statement))
    with db.session() as s:
        assert s.scalars(select(ContactEvent.kind)).all() == ["note"]
    db.dispose()


def test_migrations_build_exactly_the_schema_the_models_describe(empty_db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ivr.models import Base

    upgrade(empty_db_url)
    db = Database(empty_db_url)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.dispose()


def test_rates_are_stored_exactly(db_url: str) -> None:
    from ivr.models import PromiseToPay

    db = Database(db_url)
    with db.session() as s:
        debtor = _debtor(s)
        creditor = Creditor(name="Banco", legal_id="11222333000181")
        s.add(creditor)
        s.flush()
        debt = Debt(external_id="C9", debtor_id=debtor.id, creditor_id=creditor.id, principal=Decimal("100"),
                    due_date=date(2026, 10, 1))
        s.add(debt)
        s.flush()
        s.add(PromiseToPay(debtor_id=debtor.id, debt_id=debt.id, installment_amount=Decimal("10"),
                           first_due_date=date(2026, 12, 1), total=Decimal("100"),
                           monthly_interest_rate=Decimal("0.0149"), late_fee_rate=Decimal("0.02")))
    with db.session() as s:
        promise = s.scalars(select(PromiseToPay)).one()
        assert (promise.monthly_interest_rate, promise.late_fee_rate) == (Decimal("0.014900"), Decimal("0.020000"))
    db.dispose()
