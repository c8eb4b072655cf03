"""The main paths of the call once more, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from ivr.app import create_app
from ivr.models import Attempt, Callback, ContactEvent, Debtor, Phone, SmsMessage

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
