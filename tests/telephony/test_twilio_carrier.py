"""The Twilio adapter, through the real twilio SDK, against the emulator:
call parameters, retries that never create a second call, errors, messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import requests

from ivr.telephony.carrier import CallRequest, CarrierError, CarrierOutcomeUnknown, MessageRequest
from ivr.telephony.emulator import CarrierEmulator, WsgiHttpClient
from ivr.telephony.twilio_carrier import (
    BaseUrlHttpClient,
    RetryPolicy,
    TwilioCarrier,
    TwilioCarrierError,
    mask_number,
)

from .conftest import CALLER_ID, RealTimeWorld, RecordingSleep, VirtualWorld

DEBTOR = "+5511999990001"


def test_placed_call_carries_twilio_parameters(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    request = world.call_request(DEBTOR, record=True, timeout_seconds=25)
    info = world.carrier.place_call(request)

    call = world.emulator.call(info.sid)
    assert info.sid.startswith("CA") and len(info.sid) == 34
    assert info.status == "queued" and info.to == DEBTOR and info.from_ == CALLER_ID
    assert call.url == request.url and call.method == "POST"
    assert call.status_callback == request.status_callback
    assert call.status_callback_events == {"initiated", "ringing", "answered", "completed"}
    assert call.machine_detection == "DetectMessageEnd"  # the voicemail waits for the beep
    assert call.record is True
    assert call.timeout == 25


def test_machine_detection_is_not_asked_unless_requested(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    info = world.carrier.place_call(world.call_request(DEBTOR, machine_detection=False))
    assert world.emulator.call(info.sid).machine_detection is None


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_failures_are_retried_without_a_second_call(
    world: VirtualWorld, status: int
) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.fail_next("calls.create", count=2, status=status)

    info = world.carrier.place_call(world.call_request(DEBTOR))

    assert len(world.emulator.calls_to(DEBTOR)) == 1
    assert world.emulator.calls_to(DEBTOR)[0].sid == info.sid
    assert len(world.sleeps.calls) == 2  # backed off before each retry


def test_server_error_after_creating_finds_the_call_instead_of_creating_another(
    world: VirtualWorld,
) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.fail_next("calls.create", status=500, after_effect=True)

    info = world.carrier.place_call(world.call_request(DEBTOR))

    calls = world.emulator.calls_to(DEBTOR)
    assert [c.sid for c in calls] == [info.sid]
    assert len(world.sleeps.calls) == 1


def test_timeout_after_creating_finds_the_call_in_process(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.time_out_next("calls.create")

    info = world.carrier.place_call(world.call_request(DEBTOR))

    assert [c.sid for c in world.emulator.calls_to(DEBTOR)] == [info.sid]


def test_timeout_after_creating_finds_the_call_over_a_socket(realtime_world: RealTimeWorld) -> None:
    realtime_world.emulator.assign_persona(DEBTOR, "no_answer")
    realtime_world.emulator.faults.time_out_next("calls.create", hold_seconds=5)
    carrier = TwilioCarrier(
        realtime_world.emulator.account_sid,
        realtime_world.emulator.auth_token,
        api_base_url=realtime_world.emulator_url,
        http_timeout=0.3,
        sleep=RecordingSleep(),
    )

    info = carrier.place_call(
        realtime_world.call_request(DEBTOR, not_before=realtime_world.emulator.now())
    )

    assert [c.sid for c in realtime_world.emulator.calls_to(DEBTOR)] == [info.sid]
    assert realtime_world.emulator.faults.injected[0][1].kind == "timeout"


def test_a_failed_lookup_is_retried_before_anything_is_created(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.time_out_next("calls.create")
    world.emulator.faults.fail_next("calls.list", count=1, status=503)

    info = world.carrier.place_call(world.call_request(DEBTOR))

    assert [c.sid for c in world.emulator.calls_to(DEBTOR)] == [info.sid]
    assert len(world.sleeps.calls) == 2


def test_giving_up_raises_a_carrier_error(world: VirtualWorld) -> None:
    world.emulator.faults.fail_next("calls.create", count=3, status=503)
    carrier = world.emulator.carrier(sleep=world.sleeps, retry=RetryPolicy(max_attempts=3))

    with pytest.raises(TwilioCarrierError, match="3 attempts failed") as raised:
        carrier.place_call(world.call_request(DEBTOR))

    assert raised.value.status == 503
    assert world.emulator.calls_to(DEBTOR) == []
    # The last request may have been acted on: the caller must look before anything else.
    assert isinstance(raised.value, CarrierOutcomeUnknown)


class BodyCutOff(WsgiHttpClient):
    """The emulator acts on the first create request, and its answer is cut off on the
    way back (a connection reset while the body is read)."""

    cut = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = super().request(method, url, *args, **kwargs)
        creating = method.upper() == "POST" and url.endswith(("/Calls.json", "/Messages.json"))
        if creating and not self.cut:
            self.cut = True
            raise requests.exceptions.ChunkedEncodingError("Connection broken (test)")
        return response


def test_an_answer_cut_off_after_creating_finds_the_call_instead_of_failing(
    world: VirtualWorld,
) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    carrier = TwilioCarrier(
        world.emulator.account_sid,
        world.emulator.auth_token,
        http_client=BodyCutOff(world.emulator.rest_app),
        clock=world.clock,
        sleep=world.sleeps,
    )
    info = carrier.place_call(world.call_request(DEBTOR))
    assert [c.sid for c in world.emulator.calls_to(DEBTOR)] == [info.sid]


def test_a_refused_look_up_after_a_timeout_leaves_the_outcome_unknown(world: VirtualWorld) -> None:
    """The create timed out (the call exists): a refusal of what follows says nothing
    about that call, so the attempt must not be taken for never placed."""
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.time_out_next("calls.create")
    world.emulator.faults.fail_next("calls.list", count=1, status=400)

    with pytest.raises(CarrierOutcomeUnknown, match="may still have been created"):
        world.carrier.place_call(world.call_request(DEBTOR))
    assert len(world.emulator.calls_to(DEBTOR)) == 1


def test_a_refused_retry_after_a_server_error_leaves_the_outcome_unknown(
    world: VirtualWorld,
) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.fail_next("calls.create", status=500)
    world.emulator.faults.fail_next("calls.create", status=400)
    with pytest.raises(CarrierOutcomeUnknown):
        world.carrier.place_call(world.call_request(DEBTOR))


def test_rate_limits_alone_are_surely_nothing_created(world: VirtualWorld) -> None:
    world.emulator.faults.fail_next("calls.create", count=3, status=429)
    carrier = world.emulator.carrier(sleep=world.sleeps, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TwilioCarrierError, match="3 attempts failed") as raised:
        carrier.place_call(world.call_request(DEBTOR))
    assert not isinstance(raised.value, CarrierOutcomeUnknown)


def test_a_retry_after_the_backoff_is_not_sent_past_the_deadline(world: VirtualWorld) -> None:
    """The backoff and the look-up take time: the deadline is checked again just before
    the create request, and the pause never runs past it."""
    world.emulator.assign_persona(DEBTOR, "busy")
    world.emulator.faults.fail_next("calls.create", count=1, status=503)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        world.clock.advance(timedelta(seconds=seconds))

    carrier = world.emulator.carrier(
        sleep=sleep, retry=RetryPolicy(base_delay_seconds=4, max_delay_seconds=8)
    )
    deadline = world.clock.now() + timedelta(seconds=1)
    with pytest.raises(CarrierOutcomeUnknown, match="deadline"):
        carrier.place_call(world.call_request(DEBTOR, place_by=deadline))
    assert world.emulator.calls_to(DEBTOR) == []  # the retry was never sent
    assert pauses == [1.0] and world.clock.now() == deadline


def _creates_sent(world: VirtualWorld) -> int:
    return sum(1 for operation, _fault in world.emulator.faults.injected if operation == "calls.create")


def test_no_create_request_is_sent_at_or_after_the_deadline(world: VirtualWorld) -> None:
    """A call allowed until an instant (its window) is not placed later by retries."""
    world.emulator.faults.fail_next("calls.create", count=5, status=503)
    carrier = world.emulator.carrier(sleep=lambda seconds: world.clock.advance(timedelta(seconds=seconds)))
    deadline = world.clock.now() + timedelta(seconds=1.5)

    with pytest.raises(CarrierOutcomeUnknown, match="deadline") as raised:
        carrier.place_call(world.call_request(DEBTOR, place_by=deadline))

    assert raised.value.status == 503
    assert 2 <= _creates_sent(world) < 5  # retried while allowed, then stopped
    assert world.clock.now() >= deadline
    assert world.emulator.calls_to(DEBTOR) == []


def test_a_call_past_its_deadline_is_not_sent_at_all(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    with pytest.raises(CarrierError, match="deadline had passed") as raised:
        world.carrier.place_call(world.call_request(DEBTOR, place_by=world.clock.now()))
    assert not isinstance(raised.value, CarrierOutcomeUnknown)  # surely nothing was created
    assert world.emulator.calls_to(DEBTOR) == []


def test_a_refused_call_is_not_retried_and_says_why(world: VirtualWorld) -> None:
    with pytest.raises(TwilioCarrierError, match="Invalid 'To' Phone Number") as raised:
        world.carrier.place_call(replace(world.call_request(DEBTOR), to="12345"))

    assert raised.value.code == 21211 and raised.value.status == 400
    assert world.sleeps.calls == []


def test_a_refusal_does_not_put_the_whole_number_in_the_logs(world: VirtualWorld) -> None:
    """Twilio's message repeats the number it refused: masked before it reaches a log line
    or a contact event (BR-LGPD)."""
    number = "5511987654321"  # without its plus sign: not E.164, refused
    with pytest.raises(TwilioCarrierError) as raised:
        world.carrier.place_call(replace(world.call_request(DEBTOR), to=number))
    assert raised.value.code == 21211
    assert number not in str(raised.value) and "551********21" in str(raised.value)


def test_wrong_credentials_are_refused(world: VirtualWorld) -> None:
    from ivr.telephony.emulator import WsgiHttpClient

    carrier = TwilioCarrier(
        world.emulator.account_sid,
        "not-the-token",
        http_client=WsgiHttpClient(world.emulator.rest_app),
    )
    with pytest.raises(TwilioCarrierError) as raised:
        carrier.fetch_call("CA" + "0" * 32)
    assert raised.value.status == 401 and raised.value.code == 20003


def test_find_call_ignores_calls_created_before_the_claim(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    old = world.carrier.place_call(world.call_request(DEBTOR))
    world.emulator.run_until_idle()
    world.emulator.run_for(60)

    request = world.call_request(DEBTOR)  # claimed now, a minute later
    assert world.carrier.find_call(request) is None
    new = world.carrier.place_call(request)

    assert world.carrier.find_call(request).sid == new.sid  # queued: no start time yet
    world.emulator.run_for(2)
    found = world.carrier.find_call(request)  # ringing: found by start time
    assert found.sid == new.sid != old.sid


def test_find_call_passes_over_calls_known_to_belong_to_other_attempts(world: VirtualWorld) -> None:
    world.emulator.assign_persona(DEBTOR, "busy")
    previous = world.carrier.place_call(world.call_request(DEBTOR))
    world.clock.advance(timedelta(seconds=1))
    request = world.call_request(DEBTOR)  # a re-call claimed a second later
    # The lookup reaches back by the clock skew, so the previous call looks like this one's...
    assert world.carrier.find_call(request).sid == previous.sid
    # ...unless the caller says whose it is.
    request = replace(request, known_call_sids=frozenset({previous.sid}))
    assert world.carrier.find_call(request) is None
    world.emulator.faults.fail_next("calls.create", count=1, status=503)  # nothing created
    placed = world.carrier.place_call(request)
    assert placed.sid != previous.sid
    assert [c.sid for c in world.emulator.calls_to(DEBTOR)] == [previous.sid, placed.sid]
    assert world.carrier.find_call(request).sid == placed.sid


def test_find_call_needs_the_claim_instant(world: VirtualWorld) -> None:
    with pytest.raises(ValueError, match="not_before"):
        world.carrier.find_call(world.call_request(DEBTOR, not_before=None))


def test_fetch_end_and_redirect(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent")
    world.emulator.run_for(8)
    assert world.carrier.fetch_call(sid).status == "in-progress"

    redirected = world.carrier.redirect_call(sid, f"{world.origin}/record")
    assert redirected.sid == sid
    world.emulator.run_for(1)
    assert any(
        e.detail.get("url", "").endswith("/record")
        for e in world.emulator.call(sid).entries("webhook")
    )

    ended = world.carrier.end_call(sid)
    assert ended.status == "completed"
    world.emulator.run_until_idle()
    info = world.carrier.fetch_call(sid)
    assert (
        info.status == "completed"
        and info.duration_seconds is not None
        and info.end_time is not None
    )
    assert world.emulator.call(sid).hangup_source == "api"
    assert world.carrier.end_call(sid).status == "completed"  # ending twice is harmless


def test_redirecting_an_ended_call_is_refused(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "busy")
    world.emulator.run_until_idle()
    with pytest.raises(TwilioCarrierError, match="not in-progress") as raised:
        world.carrier.redirect_call(sid, f"{world.origin}/voice")
    assert raised.value.code == 21220


def test_redirect_is_not_retried_when_it_may_have_been_applied(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent")
    world.emulator.run_for(8)
    world.emulator.faults.fail_next("calls.update", status=500, after_effect=True)
    with pytest.raises(CarrierOutcomeUnknown, match="not retried"):
        world.carrier.redirect_call(sid, f"{world.origin}/record")
    world.emulator.faults.time_out_next("calls.update")
    with pytest.raises(CarrierOutcomeUnknown, match="may have been applied"):
        world.carrier.redirect_call(sid, f"{world.origin}/record")
    world.emulator.faults.fail_next("calls.update", status=429)
    assert world.carrier.redirect_call(sid, f"{world.origin}/record").sid == sid


def test_cancelling_a_ringing_call(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "no_answer")
    world.emulator.run_for(5)
    assert world.carrier.end_call(sid).status == "canceled"
    world.emulator.run_until_idle()
    statuses = [d["CallStatus"] for d in world.received.status_deliveries]
    assert statuses == ["initiated", "ringing", "canceled"]


def test_sms_and_whatsapp_messages(world: VirtualWorld) -> None:
    # A free-form WhatsApp message goes from a WhatsApp sender to a user who wrote to it
    # within 24 hours (otherwise only a template does: see test_emulator_whatsapp.py).
    world.emulator.whatsapp_senders.add("+551140000001")
    world.emulator.receive_whatsapp(f"whatsapp:{DEBTOR}", "whatsapp:+551140000001")
    sms = world.carrier.send_message(
        MessageRequest(
            to=DEBTOR,
            from_=CALLER_ID,
            body="Segunda via: 123",
            status_callback=f"{world.origin}/sms-status",
        )
    )
    whatsapp = world.carrier.send_message(
        MessageRequest(
            to=DEBTOR,
            from_="+551140000001",
            body="Segunda via: 456",
            channel="whatsapp",
            status_callback=f"{world.origin}/sms-status",
        )
    )
    world.emulator.run_until_idle()

    assert sms.sid.startswith("SM") and len(sms.sid) == 34 and sms.status == "queued"
    assert world.emulator.messages[sms.sid].to == DEBTOR
    assert world.emulator.messages[whatsapp.sid].to == f"whatsapp:{DEBTOR}"
    assert world.emulator.messages[whatsapp.sid].from_ == "whatsapp:+551140000001"
    assert world.emulator.messages[whatsapp.sid].channel == "whatsapp"
    by_message = {
        sid: [s["MessageStatus"] for s in world.received.message_statuses if s["MessageSid"] == sid]
        for sid in (sms.sid, whatsapp.sid)
    }
    assert by_message == {
        sms.sid: ["queued", "sent", "delivered"],
        whatsapp.sid: ["queued", "sent", "delivered"],
    }
    assert world.received.rejected == []


def test_a_message_retry_does_not_send_twice(world: VirtualWorld) -> None:
    world.emulator.faults.fail_next("messages.create", status=503, after_effect=True)
    info = world.carrier.send_message(
        MessageRequest(to=DEBTOR, from_=CALLER_ID, body="Segunda via")
    )
    assert list(world.emulator.messages) == [info.sid]


def test_message_retries_stop_at_the_send_deadline(world: VirtualWorld) -> None:
    world.emulator.faults.fail_next("messages.create", count=5, status=503)
    carrier = world.emulator.carrier(sleep=lambda seconds: world.clock.advance(timedelta(seconds=seconds)))
    deadline = world.clock.now() + timedelta(seconds=1.5)
    with pytest.raises(CarrierOutcomeUnknown, match="deadline"):
        carrier.send_message(
            MessageRequest(to=DEBTOR, from_=CALLER_ID, body="Segunda via", send_by=deadline)
        )
    sent = sum(1 for operation, _ in world.emulator.faults.injected if operation == "messages.create")
    assert 2 <= sent < 5 and world.clock.now() >= deadline
    assert list(world.emulator.messages) == []


def test_undeliverable_message_reports_its_failure(world: VirtualWorld) -> None:
    world.emulator.undeliverable.add(DEBTOR)
    info = world.carrier.send_message(
        MessageRequest(
            to=DEBTOR, from_=CALLER_ID, body="x", status_callback=f"{world.origin}/sms-status"
        )
    )
    world.emulator.run_until_idle()
    final = world.received.message_statuses[-1]
    assert (
        final["MessageSid"] == info.sid
        and final["MessageStatus"] == "undelivered"
        and final["ErrorCode"] == "30003"
    )


def test_message_channel_mismatch_is_a_clear_error(world: VirtualWorld) -> None:
    with pytest.raises(TwilioCarrierError, match="same channel"):
        world.carrier.send_message(
            MessageRequest(to=f"whatsapp:{DEBTOR}", from_=CALLER_ID, body="x")
        )


def test_base_url_client_rewrites_only_twilio_hosts() -> None:
    client = BaseUrlHttpClient("http://127.0.0.1:8123")
    assert (
        client.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?To=%2B1")
        == "http://127.0.0.1:8123/2010-04-01/Accounts/AC1/Calls.json?To=%2B1"
    )
    assert client.rewrite("https://api.dublin.ie1.twilio.com/x") == "http://127.0.0.1:8123/x"
    assert client.rewrite("https://example.com/x") == "https://example.com/x"
    with pytest.raises(ValueError):
        BaseUrlHttpClient("127.0.0.1:8123")


def test_connection_errors_are_retried() -> None:
    # Nothing listens on this port: every attempt fails to connect.
    emulator = CarrierEmulator()
    with emulator.serve(realtime=False) as server:
        url = server.base_url
    sleeps = RecordingSleep()
    carrier = TwilioCarrier(
        emulator.account_sid,
        emulator.auth_token,
        api_base_url=url,
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=3),
    )
    with pytest.raises(TwilioCarrierError, match="after 3 attempts"):
        carrier.fetch_call("CA" + "1" * 32)
    assert len(sleeps.calls) == 2


def test_a_served_emulator_on_a_virtual_clock_gives_a_carrier_on_that_clock() -> None:
    """Deadlines and look-ups compare the carrier's instants with the emulator's: a call
    allowed until ten virtual seconds from now is placed, not refused by the wall clock."""
    from ivr.clock import VirtualClock

    from .conftest import START

    emulator = CarrierEmulator(clock=VirtualClock(START))
    emulator.assign_persona(DEBTOR, "busy")
    with emulator.serve(realtime=False) as server:
        carrier = server.carrier(sleep=RecordingSleep())
        now = emulator.clock.now()
        request = CallRequest(
            to=DEBTOR, from_=CALLER_ID, url="http://cordial.test/voice",
            status_callback="http://cordial.test/status", idempotency_key="virtual-1",
            not_before=now, place_by=now + timedelta(seconds=10),
        )
        info = carrier.place_call(request)
    assert [c.sid for c in emulator.calls_to(DEBTOR)] == [info.sid]


def test_backoff_grows_and_is_capped() -> None:
    import random

    policy = RetryPolicy(base_delay_seconds=1, max_delay_seconds=4)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 6)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4
    assert all(d <= 4 for d in delays)


def test_phone_numbers_are_masked_for_logs() -> None:
    assert mask_number("+5511999990001") == "+55*********01"
    assert mask_number("whatsapp:+5511999990001") == "whatsapp:+55*********01"


def test_sdk_over_loopback_socket(realtime_world: RealTimeWorld) -> None:
    realtime_world.emulator.assign_persona(DEBTOR, "asks_sms")
    info = realtime_world.carrier.place_call(
        realtime_world.call_request(
            DEBTOR, not_before=realtime_world.emulator.now() - timedelta(seconds=1)
        )
    )
    call = realtime_world.emulator.wait_for_call_end(info.sid, timeout=30)

    assert call.keys_pressed == ["1", "1"]
    assert realtime_world.received.wait_for(
        lambda: len(realtime_world.received.status_deliveries) == 4
    )
    assert [d["CallStatus"] for d in realtime_world.received.status_deliveries] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert realtime_world.received.forms("/menu")[0]["Digits"] == "1"
    assert realtime_world.received.rejected == []
    fetched = realtime_world.carrier.fetch_call(info.sid)
    assert fetched.status == "completed" and fetched.answered_by == "human"
    assert (
        realtime_world.carrier.find_call(
            realtime_world.call_request(
                DEBTOR, not_before=realtime_world.emulator.now() - timedelta(minutes=5)
            )
        ).sid
        == info.sid
    )
