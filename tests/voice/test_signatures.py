"""Every webhook checks X-Twilio-Signature against the PUBLIC URL; a bad or missing one is
refused with 403 and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from ivr.app import create_app
from ivr.config import load_config
from ivr.models import Attempt, ContactEvent
from ivr.telephony.dev_credentials import EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN
from ivr.voice.signatures import webhook_auth_token

from ..conftest import make_runtime
from .carrier_helpers import PROFILES, Call, RecordingCarrier, SignedWebhooks, seed_call

WEBHOOKS = [
    ("/voice/answer?attempt={id}", {"AnsweredBy": "human"}),
    ("/voice/step/right_party?attempt={id}&lang=pt-BR&tries=0", {"Digits": "9"}),
    ("/voice/step/menu?attempt={id}&lang=pt-BR&tries=0", {"Digits": "1"}),
    ("/voice/queue/wait?attempt={id}&lang=pt-BR&limit=60", {"QueueTime": "3"}),
    ("/voice/status?attempt={id}", {"CallStatus": "completed", "CallDuration": "30"}),
    ("/messaging/status?message=1", {"MessageStatus": "delivered"}),
    ("/messaging/inbound", {"From": "+5531987654321", "Body": "SAIR"}),
]


def snapshot(runtime, attempt_id: int) -> tuple:
    with runtime.db.session() as session:
        attempt = session.get(Attempt, attempt_id)
        return (
            attempt.state,
            attempt.active,
            attempt.ivr_step,
            attempt.answered_at,
            session.scalar(select(func.count()).select_from(ContactEvent)),
        )


def test_the_emulator_token_signs_webhooks_unless_a_twilio_token_is_configured(tmp_path):
    assert (
        webhook_auth_token(load_config({}, env_file=None))
        == EMULATOR_AUTH_TOKEN
        == "cordial-emulator-token"
    )
    assert EMULATOR_ACCOUNT_SID == "AC" + "0" * 32
    assert (
        webhook_auth_token(load_config({"TWILIO_AUTH_TOKEN": "s3cret"}, env_file=None)) == "s3cret"
    )


@pytest.mark.parametrize(("path", "params"), WEBHOOKS)
@pytest.mark.parametrize(
    "signature", ["missing", "forged", "other-url", "other-params", "other-token"]
)
def test_a_webhook_without_a_valid_signature_is_refused_and_changes_nothing(
    hooks, seed, sqlite_runtime, path, params, signature
):
    seeded = seed("mg")
    url = path.format(id=seeded.attempt_id)
    public = hooks.base + url
    before = snapshot(sqlite_runtime, seeded.attempt_id)
    if signature == "missing":
        response = hooks.post(url, params, signature=None)
    elif signature == "forged":
        response = hooks.post(url, params, signature="bm90IGEgc2lnbmF0dXJl")
    elif signature == "other-url":
        other = (
            public.replace(f"attempt={seeded.attempt_id}", "attempt=12345")
            if "attempt=" in public
            else public.replace("/messaging/", "/voice/")
        )
        response = hooks.post(
            url, params, signature=hooks.validator.compute_signature(other, params)
        )
    elif signature == "other-params":
        response = hooks.post(
            url, params, signature=hooks.validator.compute_signature(public, {**params, "x": "1"})
        )
    else:
        response = hooks.post(
            url,
            params,
            signature=RequestValidator("not-the-token").compute_signature(public, params),
        )
    assert response.status_code == 403
    assert snapshot(sqlite_runtime, seeded.attempt_id) == before


def test_the_signature_covers_the_public_url_behind_a_proxy(tmp_path, clock, sqlite_url):
    runtime = make_runtime(
        sqlite_url,
        tmp_path / "instance",
        clock,
        CORDIAL_PUBLIC_BASE_URL="https://calls.example.com",
        TWILIO_AUTH_TOKEN="tok-123",
    )
    runtime.extras["carrier"] = RecordingCarrier()
    try:
        app = create_app({"TESTING": True}, runtime=runtime)
        hooks = SignedWebhooks(app.test_client(), runtime.config)
        with runtime.db.session() as session:
            seeded = seed_call(session, PROFILES["us"], now=clock.now())
        call = Call(hooks, seeded.attempt_id)
        twiml = call.answer()
        assert call.gather.get("action").startswith(
            "https://calls.example.com/voice/step/right_party?"
        )
        assert twiml.find("Redirect").text.startswith("https://calls.example.com/")
        # Signed for the URL the app sees locally instead of the public one: refused.
        local = RequestValidator("tok-123").compute_signature(
            f"http://localhost/voice/answer?attempt={seeded.attempt_id}", {"CallSid": "CA1"}
        )
        response = app.test_client().post(
            f"/voice/answer?attempt={seeded.attempt_id}",
            data={"CallSid": "CA1"},
            headers={"X-Twilio-Signature": local},
        )
        assert response.status_code == 403
    finally:
        runtime.close()


def test_a_signed_get_is_accepted_too(hooks, seed):
    seeded = seed("us")
    url = f"/voice/queue/wait?attempt={seeded.attempt_id}&lang=en-US&limit=60&QueueTime=5"
    signature = hooks.validator.compute_signature(hooks.base + url, {})
    response = hooks.client.get(url, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and b"<Say" in response.data
