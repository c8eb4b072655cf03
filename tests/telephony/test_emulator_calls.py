"""The emulator's network side in virtual time: each persona's path through a
small TwiML app, the verbs it interprets, signatures and status callbacks."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from twilio.request_validator import RequestValidator

from ivr.telephony.carrier import MessageRequest
from ivr.telephony.emulator import AgentSimulation, Persona

from .conftest import START, VirtualWorld, make_virtual_world
from .twiml_app import AGENT_NUMBER, create_twiml_app, serve_app

DEBTOR = "+5511999990001"


def paths(world: VirtualWorld) -> list[str]:
    return [p for p, _ in world.received.requests if p not in ("/status", "/sms-status")]


def test_keys_pressed_reach_the_action_urls(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "asks_sms")
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    assert call.keys_pressed == ["1", "1"]
    assert paths(world) == ["/voice", "/identity", "/menu"]
    assert world.received.forms("/identity")[0]["Digits"] == "1"
    assert world.received.forms("/menu")[0]["Digits"] == "1"
    assert call.transcript[-1] == "We sent you a copy."
    assert call.status == "completed" and call.hangup_source == "twiml"
    assert world.emulator.timeline.errors == []


def test_webhooks_carry_twilio_fields(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "wrong_person")
    world.emulator.run_until_idle()

    first = world.received.forms("/voice")[0]
    assert first["CallSid"] == sid
    assert first["AccountSid"] == world.emulator.account_sid
    assert first["From"] == "+551140000000" and first["To"] == DEBTOR
    assert first["CallStatus"] == "in-progress"
    assert first["Direction"] == "outbound-api"
    assert first["ApiVersion"] == "2010-04-01"
    assert first["AnsweredBy"] == "human"
    assert world.received.forms("/identity")[0]["Digits"] == "2"


def test_status_callbacks_follow_the_call(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "wrong_person")
    world.emulator.run_until_idle()

    deliveries = world.received.status_deliveries
    assert [(d["CallStatus"], d["SequenceNumber"]) for d in deliveries] == [
        ("initiated", "0"),
        ("ringing", "1"),
        ("in-progress", "2"),
        ("completed", "3"),
    ]
    completed = deliveries[-1]
    assert completed["CallSid"] == sid
    assert completed["CallbackSource"] == "call-progress-events"
    assert int(completed["CallDuration"]) == world.emulator.call(sid).duration > 0
    assert completed["AnsweredBy"] == "human"
    assert completed["Timestamp"].endswith("+0000")


def test_status_callbacks_delivered_twice_are_the_same_event() -> None:
    world = make_virtual_world(duplicate_status_callbacks=True)
    sid = world.place(DEBTOR, "wrong_person")
    world.emulator.run_until_idle()

    assert len(world.received.status_deliveries) == 8
    assert len(world.received.status_events) == 4  # the app keeps one per (CallSid, SequenceNumber)
    assert world.emulator.call(sid).status_callbacks[0]["delivery"] == 1
    assert world.emulator.call(sid).status_callbacks[1]["delivery"] == 2


def test_silence_goes_on_after_the_gather(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent")
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    assert call.keys_pressed == []
    assert len(call.entries("gather_timeout")) == 2
    assert "We did not receive an answer." in call.transcript
    assert paths(world) == ["/voice", "/voice", "/voice"]  # re-prompt, then goodbye
    assert call.transcript[-1] == "Goodbye."


def test_empty_gather_posts_its_action_when_asked(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent", path="/empty-result")
    world.emulator.run_until_idle()

    assert world.received.forms("/empty-result")[1]["Digits"] == ""
    assert "Not reached." not in world.emulator.call(sid).transcript


def test_numbers_no_carrier_would_take_fall_back_to_the_defaults(world: VirtualWorld) -> None:
    """timeout="inf", numDigits="nan", length="1e400": the verbs run with their defaults,
    as Twilio ignores an invalid attribute; the emulated call does not crash."""
    sid = world.place(DEBTOR, "silent", path="/odd-numbers")
    world.emulator.run_until_idle()
    call = world.emulator.call(sid)
    assert call.status == "completed"
    assert call.transcript[-1] == "Goodbye."


def test_hangs_up_mid_prompt(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "hangs_up_mid_prompt")
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    assert call.status == "completed" and call.hangup_source == "caller"
    assert call.duration == 3
    assert world.received.forms("/identity") == []
    assert world.received.status_deliveries[-1]["CallStatus"] == "completed"


def test_hangs_up_on_hearing_a_phrase(world: VirtualWorld) -> None:
    persona = Persona(
        name="hangs_up_on_menu", ring_seconds=1, keys=("1",), hang_up_on_hearing="for an agent"
    )
    sid = world.place(DEBTOR, persona)
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    assert call.hangup_source == "caller"
    assert call.transcript[-1].startswith("For a copy by text")
    assert world.received.forms("/menu") == []


def test_voicemail_is_reported_as_a_machine(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "voicemail")
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    assert call.answered_by == "machine_end_beep"
    assert world.received.forms("/voice")[0]["AnsweredBy"] == "machine_end_beep"
    assert world.received.status_deliveries[-1]["AnsweredBy"] == "machine_end_beep"
    assert call.transcript == [
        "Hello, this is Ana from Example Services. Please call us back at 555 0100."
    ]


@pytest.mark.parametrize(
    ("persona", "final", "rang"),
    [("busy", "busy", False), ("no_answer", "no-answer", True)],
)
def test_unanswered_calls_report_their_status(
    world: VirtualWorld, persona: str, final: str, rang: bool
) -> None:
    sid = world.place(DEBTOR, persona, timeout_seconds=20)
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    assert call.status == final and call.duration == 0
    expected = ["initiated"] + (["ringing"] if rang else []) + [final]
    assert [d["CallStatus"] for d in world.received.status_deliveries] == expected
    assert world.received.status_deliveries[-1]["CallDuration"] == "0"
    assert paths(world) == []
    if persona == "no_answer":
        assert call.end_time - call.start_time == timedelta(
            seconds=21
        )  # dialing + the 20 s timeout


def test_failed_call(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, Persona(name="unreachable", answer="failed"))
    world.emulator.run_until_idle()
    assert world.emulator.call(sid).status == "failed"
    assert world.received.status_deliveries[-1]["CallStatus"] == "failed"


def test_opt_out_key(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "opts_out")
    world.emulator.run_until_idle()
    assert world.received.forms("/identity")[0]["Digits"] == "9"
    assert world.emulator.call(sid).transcript[-1] == "You will not be called again."


def test_invalid_keys(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "invalid_keys")
    world.emulator.run_until_idle()
    call = world.emulator.call(sid)
    assert call.keys_pressed == ["7", "0"]
    assert call.transcript.count("That is not a valid option.") == 2
    assert call.transcript[-1] == "Goodbye."


def test_answers_a_second_factor_by_what_it_hears(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "asks_sms", path="/second-factor")
    world.emulator.run_until_idle()
    assert world.received.forms("/second-factor-result")[0]["Digits"] == "1985"
    assert world.emulator.call(sid).gathers == 0  # the scripted keys were not used up


def test_slow_persona_is_silent_at_a_short_gather(world: VirtualWorld) -> None:
    sid = world.place(
        DEBTOR, Persona(name="slow", ring_seconds=1, keys=("1",), key_delay_seconds=9)
    )
    world.emulator.run_until_idle()
    assert world.emulator.call(sid).keys_pressed == []
    assert world.emulator.call(sid).entries("persona_too_slow")


def test_forged_signatures_are_rejected_and_real_ones_accepted(world: VirtualWorld) -> None:
    world.place(DEBTOR, "asks_sms")
    world.emulator.run_until_idle()
    assert world.received.rejected == []

    client = world.app.test_client()
    form = {"CallSid": "CA" + "0" * 32, "From": "+15550001111", "To": DEBTOR}
    forged = client.post(
        "/voice", base_url=world.origin, data=form, headers={"X-Twilio-Signature": "bm9wZQ=="}
    )
    assert forged.status_code == 403
    signed = world.emulator.sign(f"{world.origin}/voice", list(form.items()))
    genuine = client.post(
        "/voice", base_url=world.origin, data=form, headers={"X-Twilio-Signature": signed}
    )
    assert genuine.status_code == 200
    tampered = client.post(
        "/voice",
        base_url=world.origin,
        data={**form, "To": "+15559999999"},
        headers={"X-Twilio-Signature": signed},
    )
    assert tampered.status_code == 403


def test_signature_covers_query_strings(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent")
    world.emulator.run_until_idle()
    urls = [e.detail["url"] for e in world.emulator.call(sid).entries("webhook")]
    assert f"{world.origin}/voice?attempt=1" in urls
    assert world.received.rejected == []


def test_dial_connects_an_agent(world: VirtualWorld) -> None:
    world.emulator.agents[AGENT_NUMBER] = AgentSimulation(answer_after_seconds=2, talk_seconds=30)
    sid = world.place(DEBTOR, "silent", path="/agent-connect")
    world.emulator.run_until_idle()

    result = world.received.forms("/dial-result")[0]
    assert result["DialCallStatus"] == "completed"
    assert result["DialCallDuration"] == "30"
    leg = world.emulator.call(result["DialCallSid"])
    assert (
        leg.parent_call_sid == sid and leg.to == AGENT_NUMBER and leg.direction == "outbound-dial"
    )
    assert world.emulator.call(sid).transcript[-1] == "Dial result completed."


@pytest.mark.parametrize(("outcome", "status"), [("no-answer", "no-answer"), ("busy", "busy")])
def test_dial_reports_an_agent_who_does_not_answer(
    world: VirtualWorld, outcome: str, status: str
) -> None:
    world.emulator.agents[AGENT_NUMBER] = AgentSimulation(outcome=outcome)
    world.place(DEBTOR, "silent", path="/agent-connect")
    world.emulator.run_until_idle()
    assert world.received.forms("/dial-result")[0]["DialCallStatus"] == status


@pytest.mark.parametrize(
    ("noun", "target"), [("sip", "sip:agent@pbx.example.com"), ("client", "client:agent-7")]
)
def test_dial_sip_and_client(world: VirtualWorld, noun: str, target: str) -> None:
    world.place(DEBTOR, "silent", path=f"/agent-connect?noun={noun}")
    world.emulator.run_until_idle()
    result = world.received.forms("/dial-result")[0]
    assert result["DialCallStatus"] == "completed"
    assert world.emulator.call(result["DialCallSid"]).to == target


def test_caller_hanging_up_during_dial_reports_the_action(world: VirtualWorld) -> None:
    persona = Persona(name="impatient", ring_seconds=1, hang_up_after_seconds=10)
    world.emulator.agents[AGENT_NUMBER] = AgentSimulation(answer_after_seconds=2, talk_seconds=60)
    sid = world.place(DEBTOR, persona, path="/agent-connect")
    world.emulator.run_until_idle()
    result = world.received.forms("/dial-result")[0]
    assert result["DialCallStatus"] == "completed" and result["CallStatus"] == "completed"
    assert world.emulator.call(sid).hangup_source == "caller"
    assert world.emulator.call(result["DialCallSid"]).status == "completed"


def test_enqueued_caller_hears_hold_until_redirected_to_an_agent(world: VirtualWorld) -> None:
    world.emulator.agents[AGENT_NUMBER] = AgentSimulation(answer_after_seconds=3, talk_seconds=20)
    sid = world.place(DEBTOR, "asks_agent")
    world.emulator.run_until(START + timedelta(seconds=60))

    call = world.emulator.call(sid)
    assert call.queue == "agents"
    hold_requests = world.received.forms("/hold")
    assert len(hold_requests) >= 3  # the wait document loops
    assert hold_requests[0]["QueuePosition"] == "1" and hold_requests[0]["CurrentQueueSize"] == "1"

    world.carrier.redirect_call(sid, f"{world.origin}/agent-connect")  # an agent took it
    world.emulator.run_until_idle()

    assert world.received.forms("/queue-result")[0]["QueueResult"] == "redirected"
    assert world.received.forms("/dial-result")[0]["DialCallStatus"] == "completed"
    assert call.queue is None
    assert call.transcript[-1] == "Dial result completed."
    assert "Queue result redirected." not in call.transcript  # Twilio ignores that action's TwiML


def test_enqueued_caller_gives_up_after_its_patience(world: VirtualWorld) -> None:
    persona = Persona(
        name="short_patience", ring_seconds=1, keys=("1", "3"), queue_patience_seconds=40
    )
    sid = world.place(DEBTOR, persona)
    world.emulator.run_until_idle()

    call = world.emulator.call(sid)
    result = world.received.forms("/queue-result")[0]
    assert result["QueueResult"] == "hangup"
    assert int(result["QueueTime"]) == 40
    assert call.hangup_source == "caller" and call.status == "completed"
    assert world.emulator.switchboard.queues["agents"].members == []


def test_an_agent_dequeues_the_caller_with_dial_queue(world: VirtualWorld) -> None:
    world.emulator.default_agent = AgentSimulation(talk_seconds=25)
    debtor_sid = world.place(DEBTOR, "asks_agent")
    world.emulator.run_for(40)
    agent_sid = world.place(
        AGENT_NUMBER, Persona(name="agent_phone", ring_seconds=2), path="/agent-dequeue"
    )
    world.emulator.run_until_idle()

    queue_result = [f for f in world.received.forms("/queue-result") if f["CallSid"] == debtor_sid][
        0
    ]
    dial_result = [f for f in world.received.forms("/dial-result") if f["CallSid"] == agent_sid][0]
    assert queue_result["QueueResult"] == "bridged"
    assert dial_result["DialCallStatus"] == "completed" and dial_result["DialCallSid"] == debtor_sid
    assert world.emulator.call(debtor_sid).transcript[-1] == "Queue result bridged."
    assert world.emulator.call(debtor_sid).status == "completed"


def test_play_reads_the_length_of_the_served_file(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent", path="/play")
    world.emulator.run_until_idle()
    play = world.emulator.call(sid).entries("play")[0]
    assert play.detail["url"] == f"{world.origin}/audio/two-seconds.wav"
    assert play.detail["seconds"] == 2.0
    assert world.emulator.call(sid).entries("pause")[0].detail["seconds"] == 2
    assert paths(world) == ["/play", "/play-done"]


def test_play_captions_let_personas_understand_prerecorded_prompts() -> None:
    world = make_virtual_world(
        play_captions=lambda url: "year you were born" if "two-seconds" in url else None
    )
    sid = world.place(DEBTOR, "silent", path="/play")
    world.emulator.run_until_idle()
    assert world.emulator.call(sid).transcript[0] == "year you were born"


def test_record_posts_the_recording(world: VirtualWorld) -> None:
    persona = Persona(name="talker", ring_seconds=1, speech="I already paid this bill last month.")
    sid = world.place(DEBTOR, persona, path="/record")
    world.emulator.run_until_idle()

    recorded = world.received.forms("/recorded")[0]
    assert recorded["RecordingSid"].startswith("RE")
    assert recorded["RecordingUrl"].endswith(recorded["RecordingSid"])
    assert int(recorded["RecordingDuration"]) >= 2
    assert world.emulator.call(sid).transcript[-1] == "Thank you for your message."


def test_record_with_nothing_said_goes_on(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent", path="/record")
    world.emulator.run_until_idle()
    assert world.received.forms("/recorded") == []
    assert world.emulator.call(sid).transcript[-1] == "We did not get a message."


def test_call_recording_is_reported_when_the_call_ends(world: VirtualWorld) -> None:
    world.place(DEBTOR, "wrong_person", record=True)
    world.emulator.run_until_idle()
    completed = world.received.status_deliveries[-1]
    assert completed["RecordingSid"].startswith("RE") and "RecordingUrl" in completed


def test_application_error_is_spoken_and_the_call_ends(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "silent", path="/broken")
    world.emulator.run_until_idle()
    call = world.emulator.call(sid)
    assert call.entries("application_error")[0].detail["status"] == 500
    assert "application error" in call.transcript[0]
    assert call.status == "completed"


def test_run_until_stops_at_the_instant(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "asks_sms")
    world.emulator.run_until(START + timedelta(seconds=3))
    assert world.clock.now() == START + timedelta(seconds=3)
    assert world.emulator.call(sid).status == "ringing"
    world.emulator.run_until(START + timedelta(seconds=10))
    assert world.emulator.call(sid).status == "in-progress"
    world.emulator.run_until_idle()
    assert world.emulator.call(sid).ended


def test_many_calls_in_virtual_time(world: VirtualWorld) -> None:
    numbers = [f"+55119{n:08d}" for n in range(300)]
    sids = [world.carrier.place_call(world.call_request(n)).sid for n in numbers]
    world.emulator.run_until_idle()
    personas = {world.emulator.call(s).persona.name for s in sids}
    assert all(world.emulator.call(s).ended for s in sids)
    assert {"asks_sms", "voicemail", "no_answer", "busy"} <= personas
    assert world.emulator.timeline.errors == []
    assert world.received.rejected == []


def test_audit_log_exports_every_call(world: VirtualWorld, tmp_path) -> None:
    import json

    sid = world.place(DEBTOR, "asks_sms")
    world.carrier.send_message(MessageRequest(to=DEBTOR, from_="+551140000000", body="Olá"))
    world.emulator.run_until_idle()
    path = tmp_path / "audit.jsonl"
    world.emulator.write_audit_log(path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    call = next(item for item in lines if item["type"] == "call")
    assert call["sid"] == sid and call["persona"] == "asks_sms"
    assert [e["digits"] for e in call["log"] if e["kind"] == "keys"] == ["1", "1"]
    assert any(item["type"] == "message" and item["body"] == "Olá" for item in lines)


def test_the_audit_over_http_needs_the_accounts_credentials(world: VirtualWorld) -> None:
    """Every call's numbers and TwiML: not for a page a browser on this machine opens."""
    from werkzeug.test import Client

    world.place(DEBTOR, "asks_sms")
    client = Client(world.emulator.rest_app)
    assert client.get("/_emulator/audit.json").status_code == 401
    auth = (world.emulator.account_sid, world.emulator.auth_token)
    answer = client.get("/_emulator/audit.json", auth=auth)
    assert answer.status_code == 200 and DEBTOR in answer.get_data(as_text=True)


def test_media_stream_frames_arrive_over_a_websocket() -> None:
    from ivr.telephony.dev_credentials import EMULATOR_AUTH_TOKEN

    ws_app = create_twiml_app(EMULATOR_AUTH_TOKEN)
    with serve_app(ws_app) as ws_origin:
        stream_url = ws_origin.replace("http://", "ws://") + "/media"
        world = make_virtual_world(stream_url=stream_url)
        sid = world.place(DEBTOR, "speaks_objection")
        world.emulator.run_until_idle()
        media = ws_app.extensions["received"]
        assert media.wait_for(
            lambda: any(m.get("event") == "stop" for m in media.media), timeout=10
        )

    call = world.emulator.call(sid)
    events = [m["event"] for m in media.media]
    assert events[:3] == ["_handshake", "connected", "start"] and events[-1] == "stop"
    handshake, start = media.media[0], media.media[2]
    assert handshake["signature"] == RequestValidator(EMULATOR_AUTH_TOKEN).compute_signature(
        stream_url, {}
    )
    assert start["start"]["callSid"] == sid
    assert start["start"]["customParameters"] == {"attempt": "a-1"}
    assert start["start"]["mediaFormat"] == {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1,
    }
    frames = [m for m in media.media if m["event"] == "media"]
    assert (
        len(frames) == call.entries("stream_frames")[0].detail["frames"] > 25
    )  # over half a second of speech
    assert all(len(base64.b64decode(f["media"]["payload"])) == 160 for f in frames)
    assert [int(f["media"]["chunk"]) for f in frames] == list(range(1, len(frames) + 1))
    timestamps = [int(f["media"]["timestamp"]) for f in frames]
    assert timestamps[1] - timestamps[0] == 20
    assert {m["streamSid"] for m in media.media[2:]} == {start["start"]["streamSid"]}
    sequence = [int(m["sequenceNumber"]) for m in media.media[2:]]
    assert sequence == list(range(1, len(sequence) + 1))
