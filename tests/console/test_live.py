"""Transfers and the live streams: the queue, taking a call, the screen pop over
Server-Sent Events, live transcripts, and the wake-ups behind them."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from agent_console.event_hub import hub_for
from agent_console.live_queue import agent_is_busy, callbacks_for_agents, waiting_calls
from agent_console.streams import follow_contact_events
from agent_console.transfers import TakeRefused, take_transfer
from ivr.db import Database
from ivr.models import Attempt, Callback, ContactEvent, User

from .conftest import csrf_of, post, text_of
from .factories import FakeCarrier, World, request_transfer


def sse_events(body: str) -> list[tuple[str, dict]]:
    found = []
    for block in body.split("\n\n"):
        lines = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and not line.startswith(":")
        )
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def user(runtime, user_id: int) -> User:
    with runtime.db.session() as session:
        return session.get(User, user_id)


def stream_while(
    client, url: str, action, delay: float = 0.15, headers: dict | None = None
) -> list:
    """Open the stream, run `action` in another thread shortly after, return the events."""
    thread = threading.Timer(delay, action)
    thread.start()
    try:
        response = client.get(url, headers={"Accept": "text/event-stream", **(headers or {})})
        return sse_events(response.get_data(as_text=True))
    finally:
        thread.join()


# -- the queue and taking a call ------------------------------------------------------------


def test_a_transfer_waits_in_the_queue_until_taken(
    sqlite_runtime, world: World, carrier: FakeCarrier
) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    with sqlite_runtime.db.session() as session:
        assert [c.transfer.attempt_id for c in waiting_calls(session)] == [attempt_id]
        assert not agent_is_busy(session, world.agent_id)
    state = take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))
    assert state.status == "taken" and state.debtor_id == world.debtor_id
    assert carrier.redirects == [
        (
            "CA" + "1" * 32,
            f"http://127.0.0.1:5000/voice/agent-connect?attempt={attempt_id}&user={world.agent_id}",
        )
    ]
    with sqlite_runtime.db.session() as session:
        assert waiting_calls(session) == []
        assert agent_is_busy(session, world.agent_id)
        taken = session.scalars(
            select(ContactEvent).where(ContactEvent.kind == "transfer.taken")
        ).one()
        assert taken.data["user_id"] == world.agent_id and taken.actor == "agent:ana"


def test_only_one_agent_can_take_a_call(sqlite_runtime, world: World) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))
    with pytest.raises(TakeRefused) as refused:
        take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent2_id))
    assert refused.value.reason == "already-taken" and refused.value.detail == "Ana Souza"


def test_a_carrier_failure_puts_the_call_back_in_the_queue(
    sqlite_runtime, world: World, carrier: FakeCarrier
) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    carrier.fail = True
    with pytest.raises(TakeRefused, match="carrier-error"):
        take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))
    with sqlite_runtime.db.session() as session:
        assert [c.transfer.attempt_id for c in waiting_calls(session)] == [attempt_id]
        assert session.scalars(
            select(ContactEvent.kind).where(ContactEvent.kind.like("transfer.%"))
        ).all() == ["transfer.requested", "transfer.taken", "transfer.take_failed"]
    carrier.fail = False
    assert (
        take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent2_id)).status
        == "taken"
    )


def test_a_redirect_the_carrier_did_not_confirm_keeps_the_call_with_its_agent(
    sqlite_runtime, world: World, carrier: FakeCarrier
) -> None:
    """The redirect timed out after the carrier applied it: the call rings Ana. Back in
    the queue, Bruno's take would pull it away from her; the take stands."""
    attempt_id = request_transfer(sqlite_runtime, world)
    carrier.unconfirmed_redirects = True
    state = take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))
    assert (state.status, state.confirmed, state.taken_by_user_id) == (
        "taken",
        False,
        world.agent_id,
    )
    with pytest.raises(TakeRefused, match="already-taken"):
        take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent2_id))
    assert len(carrier.redirects) == 1
    with sqlite_runtime.db.session() as session:
        assert waiting_calls(session) == []
        assert session.scalars(
            select(ContactEvent.kind).where(ContactEvent.kind.like("transfer.%"))
        ).all() == ["transfer.requested", "transfer.taken", "transfer.take_unconfirmed"]


def test_the_agent_is_told_when_the_carrier_did_not_confirm_the_take(
    agent, sqlite_runtime, world: World, carrier: FakeCarrier
) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    carrier.unconfirmed_redirects = True
    page = post(agent, f"/console/calls/{attempt_id}/take", follow_redirects=True)
    assert "A operadora não confirmou a transferência" in text_of(page)
    assert "Conectando" not in text_of(page)


def test_a_call_that_ended_cannot_be_taken(sqlite_runtime, world: World) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    with sqlite_runtime.db.session() as session:
        attempt = session.get(Attempt, attempt_id)
        attempt.active, attempt.state = False, "completed"
    with pytest.raises(TakeRefused, match="call-ended"):
        take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))


def test_without_a_carrier_nothing_is_claimed(sqlite_runtime, world: World) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    del sqlite_runtime.extras["carrier"]
    with pytest.raises(TakeRefused, match="no-carrier"):
        take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))
    with sqlite_runtime.db.session() as session:
        assert len(waiting_calls(session)) == 1


def test_take_call_button_connects_and_opens_the_debtor(
    agent, sqlite_runtime, world: World
) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    assert "Maria da Silva" in text_of(agent.get("/console/"))
    response = post(agent, f"/console/calls/{attempt_id}/take")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/console/debtors/{world.debtor_id}")
    page = agent.get(response.headers["Location"])
    assert f"Você está nesta chamada (tentativa {attempt_id})" in text_of(page)
    again = post(agent, f"/console/calls/{attempt_id}/take", follow_redirects=True)
    assert "Outro agente já atendeu esta chamada" in text_of(again)


def test_take_call_answers_json_to_fetch(signed_in, sqlite_runtime, world: World) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    bruno = signed_in("bruno")
    response = bruno.post(
        f"/console/calls/{attempt_id}/take",
        headers={"X-CSRF-Token": csrf_of(bruno), "X-Requested-With": "fetch"},
    )
    assert response.get_json() == {
        "attempt_id": attempt_id,
        "debtor_url": f"/console/debtors/{world.debtor_id}?call={attempt_id}",
        "confirmed": True,
    }
    second = post(
        signed_in("ana"), f"/console/calls/{attempt_id}/take", headers={"X-Requested-With": "fetch"}
    )
    assert second.status_code == 409 and second.get_json()["reason"] == "already-taken"


def test_callbacks_due_and_missed_are_listed_for_agents(
    sqlite_runtime, world: World, agent
) -> None:
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        session.add_all(
            [
                Callback(
                    debtor_id=world.debtor_id,
                    phone_id=world.phone_id,
                    due_at=now - timedelta(minutes=5),
                ),
                Callback(
                    debtor_id=world.other_debtor_id,
                    phone_id=world.other_phone_id,
                    due_at=now - timedelta(hours=2),
                    status="missed",
                ),
                Callback(
                    debtor_id=world.other_debtor_id,
                    phone_id=world.other_phone_id,
                    due_at=now + timedelta(days=2),
                ),
            ]
        )
    with sqlite_runtime.db.session() as session:
        assert [(i.debtor.external_id, i.state) for i in callbacks_for_agents(session, now)] == [
            ("D-1002", "missed"),
            ("D-1001", "due"),
        ]
    page = text_of(agent.get("/console/"))
    # Due time shown in the debtor's local time (São Paulo, UTC-3 and Rio, UTC-3).
    assert "24/11/2026 11:55 America/Sao_Paulo" in page and "perdido" in page


# -- Server-Sent Events ----------------------------------------------------------------------


def test_a_transfer_pops_on_a_free_agents_stream(agent, sqlite_runtime, world: World) -> None:
    events = stream_while(agent, "/console/stream", lambda: request_transfer(sqlite_runtime, world))
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["pop", "queue"]
    pop = events[0][1]
    assert pop["debtor_id"] == world.debtor_id
    assert "Maria da Silva" in pop["html"] and "***.982.***-**" in pop["html"]
    assert "52998224725" not in pop["html"]  # the document stays masked
    assert "Maria da Silva" in events[1][1]["html"]


def test_a_busy_agent_gets_the_queue_but_no_pop(agent, sqlite_runtime, world: World) -> None:
    first = request_transfer(sqlite_runtime, world, call_sid="CA" + "2" * 32, debtor="other")
    take_transfer(sqlite_runtime, first, user(sqlite_runtime, world.agent_id))
    events = stream_while(agent, "/console/stream", lambda: request_transfer(sqlite_runtime, world))
    assert [kind for kind, _ in events] == ["queue"]


def test_other_agents_see_a_call_taken(signed_in, sqlite_runtime, world: World) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    bruno = signed_in("bruno")
    events = stream_while(
        bruno,
        "/console/stream?after=0",
        lambda: take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id)),
    )
    taken = [data for kind, data in events if kind == "taken"]
    assert taken == [{"attempt_id": attempt_id, "mine": False, "by": "Ana Souza"}]


def test_stream_resumes_after_the_last_event_id(agent, sqlite_runtime, world: World) -> None:
    request_transfer(sqlite_runtime, world)
    with sqlite_runtime.db.session() as session:
        last = session.scalars(
            select(ContactEvent.id).where(ContactEvent.kind == "transfer.requested")
        ).one()
    replay = sse_events(
        agent.get("/console/stream", headers={"Last-Event-ID": str(last - 1)}).get_data(
            as_text=True
        )
    )
    assert [kind for kind, _ in replay][:1] == ["pop"]
    nothing = sse_events(
        agent.get("/console/stream", headers={"Last-Event-ID": str(last)}).get_data(as_text=True)
    )
    assert nothing == []


def test_live_transcript_suggests_the_objection(agent, sqlite_runtime, world: World) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)

    def speak() -> None:
        with sqlite_runtime.db.session() as session:
            for kind, text in (
                ("transcript.partial", "eu já"),
                ("transcript.final", "Eu já paguei essa conta, tenho o comprovante"),
            ):
                session.add(
                    ContactEvent(
                        debtor_id=world.debtor_id,
                        attempt_id=attempt_id,
                        kind=kind,
                        channel="voice",
                        actor="asr",
                        occurred_at=sqlite_runtime.clock.now(),
                        data={"text": text},
                    )
                )

    events = stream_while(agent, f"/console/stream?debtor={world.debtor_id}", speak)
    transcripts = [data for kind, data in events if kind == "transcript"]
    assert [t["final"] for t in transcripts] == [False, True]
    assert transcripts[1]["matches"][0]["key"] == "already_paid"
    # Another debtor's page hears nothing of this call.
    other = stream_while(agent, f"/console/stream?debtor={world.other_debtor_id}", speak)
    assert [kind for kind, _ in other if kind == "transcript"] == []


def test_wallboard_stream_sends_the_floor(supervisor, sqlite_runtime, world: World) -> None:
    events = stream_while(
        supervisor,
        "/console/supervisor/wallboard/stream",
        lambda: request_transfer(sqlite_runtime, world),
    )
    boards = [data["html"] for kind, data in events if kind == "wallboard"]
    assert boards and "Aguardando agente" in boards[-1]


# -- wake-ups ----------------------------------------------------------------------------------


def test_a_commit_in_this_process_wakes_streams_at_once(sqlite_runtime, world: World) -> None:
    hub = hub_for(sqlite_runtime)
    before = hub.generation
    woke = threading.Event()

    def waiter() -> None:
        hub.wait(before, timeout=5)
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    request_transfer(sqlite_runtime, world)
    assert woke.wait(2)
    thread.join()
    assert hub.generation > before


def test_events_from_another_process_are_noticed_by_the_watcher(
    sqlite_runtime, sqlite_url: str, world: World
) -> None:
    """Another worker's insert (a separate engine, no in-process hook) still reaches a stream."""
    other_process = Database(sqlite_url)
    found: list = []

    def follow() -> None:
        hub = hub_for(sqlite_runtime)
        for batch in follow_contact_events(
            sqlite_runtime.db,
            hub,
            ["transfer.requested"],
            start_after=0,
            max_seconds=5,
            heartbeat_seconds=5,
        ):
            if batch:
                found.extend(batch)
                return

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.1)
    with other_process.session() as session:
        session.add(
            ContactEvent(
                debtor_id=world.debtor_id,
                kind="transfer.requested",
                channel="voice",
                actor="ivr",
                occurred_at=sqlite_runtime.clock.now(),
                data={"queue": "agents"},
            )
        )
    thread.join(timeout=5)
    other_process.dispose()
    assert [event.kind for event in found] == ["transfer.requested"]


def test_an_open_stream_never_blocks_writers(
    console: Flask, agent, sqlite_runtime, world: World
) -> None:
    """While a stream is open, others can write: on SQLite every session holds the write
    lock, so a stream that kept its request's session would hold the transfer back until
    the stream ended, and the pop would never arrive on it."""
    console.config["CONSOLE_SSE_MAX_SECONDS"] = 1.0
    written = threading.Event()

    def write() -> None:
        request_transfer(sqlite_runtime, world)
        written.set()

    events = stream_while(agent, "/console/stream", write)
    assert written.is_set()
    assert [kind for kind, _ in events][:1] == ["pop"]


def test_the_agent_is_free_again_when_the_conversation_ends(
    sqlite_runtime, world: World, agent
) -> None:
    attempt_id = request_transfer(sqlite_runtime, world)
    take_transfer(sqlite_runtime, attempt_id, user(sqlite_runtime, world.agent_id))
    with sqlite_runtime.db.session() as session:
        assert agent_is_busy(session, world.agent_id)
        session.add(
            ContactEvent(
                debtor_id=world.debtor_id,
                attempt_id=attempt_id,
                kind="transfer.ended",
                channel="voice",
                actor="ivr",
                occurred_at=sqlite_runtime.clock.now(),
                data={"result": "completed"},
            )
        )  # the voice flow, when the agent's leg ends
    with sqlite_runtime.db.session() as session:
        assert not agent_is_busy(session, world.agent_id)
        assert waiting_calls(session) == []
    # A disposition written right after hanging up still belongs to that call.
    post(
        agent,
        f"/console/debtors/{world.debtor_id}/disposition",
        {"code": "promise_to_pay", "attempt_id": attempt_id},
    )
    with sqlite_runtime.db.session() as session:
        disposition = session.scalars(
            select(ContactEvent).where(ContactEvent.kind == "disposition")
        ).one()
        assert disposition.attempt_id == attempt_id
