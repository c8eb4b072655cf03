"""A webhook's snapshot and its writes (ivr.voice.call_context), on SQLite and PostgreSQL:
what another writer did between the read and the write is never undone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from ivr.models import Attempt, ContactEvent
from ivr.voice.call_context import CallWrites, load_call

from .carrier_helpers import PROFILES, seed_call


def _seeded(runtime, state: str = "ringing"):
    now = runtime.clock.now()
    with runtime.db.session() as session:
        seeded = seed_call(session, PROFILES["sp"], now=now)
        session.get(Attempt, seeded.attempt_id).state = state
    return seeded


def _event(call, kind: str, now) -> dict:
    return {
        "debtor_id": call.debtor.id,
        "attempt_id": call.attempt.id,
        "phone_id": call.phone.id,
        "debt_id": call.attempt.debt_id,
        "kind": kind,
        "channel": "voice",
        "actor": "ivr",
        "occurred_at": now,
        "data": {"n": 1},
    }


def _attempt(runtime, attempt_id: int) -> Attempt:
    with runtime.db.session() as session:
        return session.get(Attempt, attempt_id)


def test_load_call_gives_the_attempt_and_what_the_call_needs(runtime):
    seeded = _seeded(runtime)
    call = load_call(runtime.db, seeded.attempt_id)
    assert call is not None
    assert call.attempt.id == seeded.attempt_id and call.attempt.state == "ringing"
    assert call.debtor.first_name == "Maria" and call.debtor.state == "SP"
    assert call.debt is not None and call.debt.total == call.debt.principal + call.debt.fee + call.debt.interest
    assert call.creditor is not None and call.campaign is not None
    assert call.phone.id == call.attempt.phone_id
    assert load_call(runtime.db, seeded.attempt_id + 1000) is None


def test_an_answer_never_moves_back_an_attempt_a_status_callback_ended_meanwhile(runtime):
    seeded = _seeded(runtime)
    call = load_call(runtime.db, seeded.attempt_id)
    ended_at = runtime.clock.now() + timedelta(seconds=3)
    with runtime.db.session() as session:  # the "completed" callback lands after the read
        session.execute(
            update(Attempt)
            .where(Attempt.id == seeded.attempt_id)
            .values(
                state="completed",
                active=False,
                answered_at=ended_at,
                carrier_call_sid="CAfirst",
                outcome="voicemail",
            )
        )
    writes = CallWrites(runtime.db, call.attempt)
    try:
        writes.answered(runtime.clock.now(), "human", "CAsecond")
        writes.outcome("disclosed", weak=True)
        writes.set(ivr_step="right_party")
        writes.event(_event(call, "ivr.answered", runtime.clock.now()))  # one event: one statement
        writes.commit()
    finally:
        writes.close()
    assert call.attempt.state == "in-progress"  # what the flow believed
    stored = _attempt(runtime, seeded.attempt_id)
    assert stored.state == "completed" and not stored.active
    assert stored.answered_at == ended_at and stored.carrier_call_sid == "CAfirst"
    assert stored.outcome == "voicemail"  # a weak outcome replaces no stronger one
    assert stored.ivr_step == "right_party" and stored.answered_by == "human"
    with runtime.db.session() as session:
        kinds = [e.kind for e in session.query(ContactEvent).filter_by(attempt_id=seeded.attempt_id)]
    assert kinds == ["ivr.answered"]


def test_an_answer_moves_a_ringing_attempt_forward_and_writes_its_events(runtime):
    seeded = _seeded(runtime)
    call = load_call(runtime.db, seeded.attempt_id)
    now = runtime.clock.now()
    writes = CallWrites(runtime.db, call.attempt)
    try:
        writes.answered(now, "human", "CAnew")
        writes.outcome("disclosed", weak=True)
        for kind in ("ivr.answered", "ivr.key"):
            writes.event(_event(call, kind, now))
        writes.commit()
    finally:
        writes.close()
    stored = _attempt(runtime, seeded.attempt_id)
    assert (stored.state, stored.answered_at, stored.carrier_call_sid) == ("in-progress", now, "CAnew")
    assert stored.outcome == "disclosed"
    with runtime.db.session() as session:
        events = session.query(ContactEvent).filter_by(attempt_id=seeded.attempt_id).all()
    assert sorted(e.kind for e in events) == ["ivr.answered", "ivr.key"]
    assert all(e.data == {"n": 1} and e.occurred_at == now for e in events)


def test_one_event_and_the_attempt_change_are_written_together(runtime):
    seeded = _seeded(runtime, state="in-progress")
    call = load_call(runtime.db, seeded.attempt_id)
    now = runtime.clock.now()
    writes = CallWrites(runtime.db, call.attempt)
    writes.set(right_party_verified=True, conversation=True, ivr_step="menu")
    writes.event(_event(call, "ivr.key", now))
    writes.commit()
    writes.close()
    stored = _attempt(runtime, seeded.attempt_id)
    assert stored.right_party_verified and stored.conversation and stored.ivr_step == "menu"
    assert stored.state == "in-progress" and stored.answered_at is None  # untouched
    with runtime.db.session() as session:
        event = session.query(ContactEvent).filter_by(attempt_id=seeded.attempt_id).one()
    assert (event.kind, event.data, event.occurred_at, event.phone_id) == (
        "ivr.key",
        {"n": 1},
        now,
        call.phone.id,
    )


def test_nothing_is_written_when_the_webhook_fails_before_its_commit(runtime):
    seeded = _seeded(runtime)
    call = load_call(runtime.db, seeded.attempt_id)
    writes = CallWrites(runtime.db, call.attempt)
    writes.set(ivr_step="menu")
    writes.session.execute(
        update(Attempt).where(Attempt.id == seeded.attempt_id).values(outcome="opted-out")
    )
    writes.close()  # an exception in the flow: no commit
    stored = _attempt(runtime, seeded.attempt_id)
    assert stored.outcome is None and stored.ivr_step is None


def test_the_driver_read_gives_exactly_what_sqlalchemy_reads(runtime):
    """load_call runs its SELECT on the driver: every value, NULLs included, must have the
    value and the type a Connection would give (dates, aware datetimes, money, booleans)."""
    from datetime import date

    from ivr.models import Debtor
    from ivr.voice.call_context import _CALL_QUERY

    answered = runtime.clock.now() + timedelta(microseconds=123456)
    full = _seeded(runtime, state="in-progress")
    bare = _seeded(runtime)
    with runtime.db.session() as session:
        attempt = session.get(Attempt, full.attempt_id)
        attempt.answered_at, attempt.right_party_verified, attempt.outcome = answered, True, "disclosed"
        session.get(Debtor, full.debtor_id).birth_date = date(1980, 2, 29)
        other = session.get(Attempt, bare.attempt_id)
        other.debt_id, other.campaign_id = None, None
    for seeded in (full, bare):
        values = {"attempt_id": seeded.attempt_id}
        through_sqlalchemy = runtime.db.read(lambda conn, v=values: tuple(conn.execute(_CALL_QUERY, v).first()))
        through_driver = runtime.db.read_first(_CALL_QUERY, values)
        assert through_driver == through_sqlalchemy
        assert [type(v) for v in through_driver] == [type(v) for v in through_sqlalchemy]
    call = load_call(runtime.db, full.attempt_id)
    assert call.attempt.answered_at == answered and call.attempt.right_party_verified is True
    assert call.debtor.birth_date == date(1980, 2, 29)
    bare_call = load_call(runtime.db, bare.attempt_id)
    assert bare_call.debt is None and bare_call.creditor is None and bare_call.campaign is None


def test_events_written_through_the_driver_read_back_the_same_through_a_session(runtime):
    seeded = _seeded(runtime, state="in-progress")
    call = load_call(runtime.db, seeded.attempt_id)
    at = runtime.clock.now() + timedelta(microseconds=654321)
    data = {"keys": ["1", "*"], "name": "João Ñandú", "amount_cents": 12345, "nested": {"ok": True}}
    for count in (1, 3):  # one event (PostgreSQL: one statement), several (one transaction)
        writes = CallWrites(runtime.db, call.attempt)
        for n in range(count):
            writes.event({**_event(call, f"ivr.test{count}.{n}", at), "data": data})
        writes.commit()
        writes.close()
    with runtime.db.session() as session:
        events = session.query(ContactEvent).filter_by(attempt_id=seeded.attempt_id).order_by(ContactEvent.id).all()
    assert [e.kind for e in events] == ["ivr.test1.0", "ivr.test3.0", "ivr.test3.1", "ivr.test3.2"]
    assert all(e.data == data and e.occurred_at == at and e.actor == "ivr" for e in events)


def test_a_read_after_the_server_dropped_its_connection_is_retried_on_a_new_one(pg_url, tmp_path, clock):
    """No pre-ping on PostgreSQL: the read that meets a connection the server dropped
    (a restart, an idle timeout, an administrator) discards it and reads again; a write
    that meets one fails (it is never retried: the server may have done it) and the next
    write works."""
    import psycopg

    from tests.conftest import make_runtime

    runtime = make_runtime(pg_url, tmp_path / "instance", clock)
    try:
        seeded = _seeded(runtime)
        assert load_call(runtime.db, seeded.attempt_id) is not None

        def drop_pooled_connections() -> int:
            """Have the server end the pooled connection; wait until it is gone."""
            with runtime.db.engine.connect() as conn:
                pid = conn.connection.driver_connection.info.backend_pid
            with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                    admin.execute("SELECT pg_sleep(0.01)")
            return pid

        dropped = drop_pooled_connections()
        call = load_call(runtime.db, seeded.attempt_id)
        assert call is not None and call.attempt.id == seeded.attempt_id
        with runtime.db.engine.connect() as conn:
            assert conn.connection.driver_connection.info.backend_pid != dropped

        drop_pooled_connections()
        writes = CallWrites(runtime.db, call.attempt)
        writes.set(ivr_step="menu")
        with pytest.raises(psycopg.OperationalError):
            writes.commit()
        writes.close()
        assert _attempt(runtime, seeded.attempt_id).ivr_step is None
        writes = CallWrites(runtime.db, call.attempt)
        writes.set(ivr_step="menu")
        writes.commit()
        writes.close()
        assert _attempt(runtime, seeded.attempt_id).ivr_step == "menu"

        # The same through a lease (a webhook's one connection for its read and write).
        def drop(pid: int) -> None:
            with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                    admin.execute("SELECT pg_sleep(0.01)")

        with runtime.db.lease() as lease:
            first = lease.connection().driver_connection.info.backend_pid
            drop(first)
            call = load_call(runtime.db, seeded.attempt_id, lease)
            assert call is not None and call.attempt.ivr_step == "menu"
            second = lease.connection().driver_connection.info.backend_pid
            assert second != first
            drop(second)
            writes = CallWrites(runtime.db, call.attempt, lease)
            writes.set(ivr_step="disclosure")
            with pytest.raises(psycopg.OperationalError):
                writes.commit()
            writes.close()
            writes = CallWrites(runtime.db, call.attempt, lease)
            writes.set(ivr_step="disclosure")
            writes.commit()  # on a new connection
            writes.close()
            assert lease.connection().driver_connection.info.backend_pid not in (first, second)
        assert _attempt(runtime, seeded.attempt_id).ivr_step == "disclosure"
        assert runtime.db.engine.pool.checkedout() == 0
    finally:
        runtime.close()
