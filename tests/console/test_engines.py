"""The console's services on both databases (SQLite and a real PostgreSQL): taking a
call under concurrency, the queue, the event follower, the wallboard, the login
throttle table, promises and exports."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from agent_console.event_hub import hub_for
from agent_console.exports import contact_events_csv
from agent_console.live_queue import waiting_calls
from agent_console.login_throttle import check_lockout, record_failure
from agent_console.streams import follow_contact_events
from agent_console.transfers import TakeRefused, take_transfer
from agent_console.wallboard import floor_snapshot
from ivr.models import ContactEvent, Debt, User
from ivr.promises.service import plan_for_debt, record_promise

from .factories import FakeCarrier, build_world, request_transfer


def test_two_agents_racing_for_one_call_one_wins(runtime) -> None:
    runtime.extras["carrier"] = FakeCarrier()
    world = build_world(runtime)
    attempt_id = request_transfer(runtime, world)
    with runtime.db.session() as session:
        agents = [session.get(User, world.agent_id), session.get(User, world.agent2_id)]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def take(agent: User) -> None:
        start.wait()
        try:
            take_transfer(runtime, attempt_id, agent)
            outcomes.append("taken")
        except TakeRefused as refused:
            outcomes.append(refused.reason)

    threads = [threading.Thread(target=take, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already-taken", "taken"]
    assert len(runtime.extras["carrier"].redirects) == 1
    with runtime.db.session() as session:
        assert waiting_calls(session) == []


def test_follower_sees_new_events_and_the_wallboard_counts_them(runtime) -> None:
    runtime.extras["carrier"] = FakeCarrier()
    world = build_world(runtime)
    hub = hub_for(runtime)
    timer = threading.Timer(0.2, lambda: request_transfer(runtime, world))
    timer.start()
    batches = follow_contact_events(
        runtime.db, hub, ["transfer.requested"], start_after=0, max_seconds=5, heartbeat_seconds=5
    )
    first = next(batch for batch in batches if batch)
    timer.join()
    assert [event.kind for event in first] == ["transfer.requested"]
    with runtime.db.session() as session:
        floor = floor_snapshot(
            session, runtime.clock.now(), waiting_transfers=len(waiting_calls(session))
        )
    assert (floor.calls_in_progress, floor.waiting_transfers, floor.transfers) == (1, 1, 1)


def test_login_throttle_table_is_shared_and_counts(runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.session() as session:
        for _ in range(5):
            record_failure(session, "Ana", "10.0.0.1", now)
    with runtime.db.session() as session:
        lockout = check_lockout(session, "ana", "10.0.0.1", now)
        assert lockout is not None and lockout.until == now + timedelta(minutes=15)
        assert check_lockout(session, "ana", "10.0.0.2", now) is None


def test_promise_and_export_on_each_database(runtime) -> None:
    world = build_world(runtime)
    with runtime.db.session() as session:
        debt = session.get(Debt, world.debt_id)
        plan = plan_for_debt(
            debt,
            down_payment=Decimal("100.00"),
            installments=3,
            first_payment=date(2026, 12, 1),
            today=date(2026, 11, 24),
        )
        record_promise(
            session, debt, plan, now=runtime.clock.now(), actor="agent:ana", user_id=world.agent_id
        )
    with runtime.db.session() as session:
        assert session.scalars(select(ContactEvent.kind)).all() == ["promise.made"]
    exported = "".join(contact_events_csv(runtime.db, None, None))
    assert "promise.made" in exported and "D-1001" in exported


def test_a_nul_character_at_the_login_is_a_clear_400_on_each_database(runtime) -> None:
    """PostgreSQL refuses NUL in any text: without the check the login page answered 500."""
    from ivr.app import create_app

    from .conftest import csrf_of

    build_world(runtime)
    client = create_app({"TESTING": True}, runtime=runtime).test_client()
    client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": "ana\x00", "password": "x", "csrf_token": csrf_of(client)},
    )
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("username: ")


def test_a_stream_sends_heartbeats_while_the_log_grows_with_other_kinds(runtime) -> None:
    """A busy floor writes transcript events all the time: a stream following other kinds
    must still write now and then (proxies close silent streams, and only a write tells
    the server that the page was closed)."""
    runtime.extras["carrier"] = FakeCarrier()
    world = build_world(runtime)
    hub = hub_for(runtime)
    stop = threading.Event()

    def chatter() -> None:
        while not stop.is_set():
            with runtime.db.session() as session:
                session.add(
                    ContactEvent(
                        debtor_id=world.debtor_id,
                        kind="transcript.partial",
                        channel="voice",
                        actor="asr",
                        occurred_at=runtime.clock.now(),
                        data={},
                    )
                )
            stop.wait(0.05)

    writer = threading.Thread(target=chatter)
    writer.start()
    try:
        batches = list(
            follow_contact_events(
                runtime.db,
                hub,
                ["transfer.requested"],
                start_after=0,
                max_seconds=1.5,
                heartbeat_seconds=0.3,
            )
        )
    finally:
        stop.set()
        writer.join()
    assert [] in batches
