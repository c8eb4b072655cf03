"""The main paths of the call once more, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text, update

from ivr.app import create_app
from ivr.models import Attempt, Callback, ContactEvent, Debtor, Phone, SmsMessage
from tests.conftest import make_runtime

from .carrier_helpers import PROFILES, Call, RecordingCarrier, SignedWebhooks, said, seed_call


def _start(runtime, profile: str, **kwargs) -> tuple[Call, object]:
    runtime.extras["carrier"] = RecordingCarrier()
    hooks = SignedWebhooks(
        create_app({"TESTING": True}, runtime=runtime).test_client(), runtime.config
    )
    with runtime.db.session() as session:
        seeded = seed_call(session, PROFILES[profile], now=runtime.clock.now(), **kwargs)
    return Call(hooks, seeded.attempt_id), seeded


def test_disclosure_sms_callback_and_end_of_call(runtime):
    call, seeded = _start(runtime, "sp", second_factor="cpf_digits")
    call.answer()
    call.press("1")
    assert "cento e quatorze reais" in said(call.press("529"))
    call.press("1")
    call.press("2")
    call.press("1")
    assert call.hung_up
    call.status("completed", CallDuration="75")
    call.status("completed", CallDuration="75")
    with runtime.db.session() as session:
        attempt = session.get(Attempt, seeded.attempt_id)
        assert (
            attempt.state == "completed"
            and not attempt.active
            and attempt.outcome == "callback-booked"
        )
        assert session.scalars(select(SmsMessage.status)).all() == ["queued"]
        assert session.scalars(select(Callback.status)).all() == ["scheduled"]
        kinds = session.scalars(
            select(ContactEvent.kind)
            .where(ContactEvent.attempt_id == seeded.attempt_id)
            .order_by(ContactEvent.id)
        ).all()
    assert kinds[:4] == ["ivr.answered", "ivr.key", "ivr.key", "ivr.right_party"]
    assert {"ivr.disclosed", "sms.sent", "callback.offered", "callback.booked"} <= set(kinds)
    assert kinds.count("call.status") == 1


def test_opt_out_and_wrong_number(runtime):
    call, seeded = _start(runtime, "us")
    call.answer()
    call.press("9")
    other, other_seeded = _start(runtime, "mg")
    other.answer()
    other.press("2")
    with runtime.db.session() as session:
        assert session.get(Debtor, seeded.debtor_id).voice_opt_out_at is not None
        assert session.get(Phone, seeded.phone_id).voice_opt_out_at is not None
        assert session.get(Phone, other_seeded.phone_id).wrong_number_at is not None


@pytest.mark.postgres
def test_a_status_callback_waits_for_one_in_flight_and_never_moves_the_attempt_back(
    pg_url, tmp_path, clock
):
    """Twilio posts a call's status callbacks concurrently: "in-progress" handled while
    "completed" is being written must not undo it once that commits."""
    runtime = make_runtime(pg_url, tmp_path / "instance", clock)
    try:
        call, seeded = _start(runtime, "sp")
        completing = runtime.db.engine.connect()
        completing.execute(  # "completed", written but not yet committed
            update(Attempt)
            .where(Attempt.id == seeded.attempt_id)
            .values(state="completed", active=False, ended_at=clock.now(), outcome="completed")
        )
        answers: list = []
        racing = threading.Thread(target=lambda: answers.append(call.status("in-progress")))
        racing.start()
        try:
            _wait_for_a_lock_wait(runtime)
        finally:
            completing.commit()
            completing.close()
            racing.join(timeout=30)
        assert answers and answers[0].status_code == 200
        with runtime.db.session() as session:
            attempt = session.get(Attempt, seeded.attempt_id)
            assert (attempt.state, attempt.active) == ("completed", False)
    finally:
        runtime.close()


def _wait_for_a_lock_wait(runtime, seconds: float = 30.0) -> None:
    """Until a session of this database waits for a row lock (the racing callback)."""
    deadline = time.monotonic() + seconds
    with runtime.db.engine.connect() as watcher:
        watcher.execution_options(isolation_level="AUTOCOMMIT")
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the racing status callback never waited for the row lock")
