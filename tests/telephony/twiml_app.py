"""A tiny TwiML app standing in for Cordial's voice flow in the telephony tests.

It validates every webhook's X-Twilio-Signature with RequestValidator (403
otherwise), answers with TwiML built by VoiceResponse, records what it
received, and exposes a Media Streams WebSocket at /media.
"""

from __future__ import annotations

import io
import json
import threading
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, abort, request
from flask_sock import Sock
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, Start, VoiceResponse
from werkzeug.serving import make_server

AGENT_NUMBER = "+5511988887777"


@dataclass
class Received:
    """What the app saw; waitable from other threads."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    status_deliveries: list[dict[str, str]] = field(default_factory=list)
    status_events: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    message_statuses: list[dict[str, str]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def add(self, target: list[Any], item: Any) -> None:
        with self.condition:
            target.append(item)
            self.condition.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self.condition:
            return self.condition.wait_for(predicate, timeout=timeout)

    def forms(self, path: str) -> list[dict[str, str]]:
        return [form for p, form in self.requests if p == path]


def wav_bytes(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buffer.getvalue()


def create_twiml_app(auth_token: str, stream_url: str | None = None, carrier: Any = None) -> Flask:
    app = Flask("tiny_twiml_app")
    app.config["STREAM_URL"] = stream_url
    app.config["CARRIER"] = carrier
    received = Received()
    app.extensions["received"] = received
    validator = RequestValidator(auth_token)
    sock = Sock(app)

    @app.before_request
    def check_signature() -> None:
        if request.path.startswith("/audio/") or request.path == "/media":
            return
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(request.url, request.form, signature):
            received.add(received.rejected, request.url)
            abort(403)
        received.add(received.requests, (request.path, request.form.to_dict()))

    def twiml(response: VoiceResponse) -> Response:
        return Response(str(response), mimetype="text/xml")

    @app.post("/voice")
    def voice() -> Response:
        response = VoiceResponse()
        if request.form.get("AnsweredBy", "").startswith("machine"):
            response.say(
                "Hello, this is Ana from Example Services. Please call us back at 555 0100."
            )
            response.hangup()
            return twiml(response)
        attempt = int(request.args.get("attempt", "0"))
        if attempt >= 2:
            response.say("Goodbye.")
            response.hangup()
            return twiml(response)
        if app.config["STREAM_URL"] and attempt == 0:
            start = Start()
            stream = start.stream(url=app.config["STREAM_URL"], name="live")
            stream.parameter(name="attempt", value="a-1")
            response.append(start)
        gather = Gather(num_digits=1, action=f"/identity?attempt={attempt}", timeout=5)
        gather.say("If you are Maria, press 1. If not, press 2. To stop these calls, press 9.")
        response.append(gather)
        response.say("We did not receive an answer.")
        response.redirect(f"/voice?attempt={attempt + 1}")
        return twiml(response)

    @app.post("/identity")
    def identity() -> Response:
        digits = request.form.get("Digits", "")
        response = VoiceResponse()
        if digits == "1":
            gather = Gather(num_digits=1, action="/menu", timeout=5)
            gather.say(
                "For a copy by text, press 1. For a callback, press 2. For an agent, press 3."
            )
            response.append(gather)
            response.say("Goodbye.")
        elif digits == "2":
            response.say("Sorry to bother you. Goodbye.")
        elif digits == "9":
            response.say("You will not be called again.")
        else:
            response.say("That is not a valid option.")
            response.redirect(f"/voice?attempt={int(request.args.get('attempt', '0')) + 1}")
        return twiml(response)

    @app.post("/menu")
    def menu() -> Response:
        digits = request.form.get("Digits", "")
        response = VoiceResponse()
        if digits == "1":
            response.say("We sent you a copy.")
        elif digits == "2":
            response.say("We will call you back.")
        elif digits == "3":
            response.say("Please hold for an agent.")
            response.enqueue("agents", wait_url="/hold", action="/queue-result")
            response.say("Nobody could take your call.")
        else:
            response.say("Goodbye.")
        return twiml(response)

    @app.post("/hold")
    def hold() -> Response:
        response = VoiceResponse()
        response.say("Thank you for holding.")
        response.pause(length=10)
        return twiml(response)

    @app.post("/queue-result")
    def queue_result() -> Response:
        response = VoiceResponse()
        response.say(f"Queue result {request.form.get('QueueResult')}.")
        response.hangup()
        return twiml(response)

    @app.post("/agent-connect")
    def agent_connect() -> Response:
        response = VoiceResponse()
        dial = Dial(action="/dial-result", timeout=20)
        noun = request.args.get("noun", "number")
        if noun == "sip":
            dial.sip("sip:agent@pbx.example.com")
        elif noun == "client":
            dial.client("agent-7")
        else:
            dial.number(AGENT_NUMBER)
        response.append(dial)
        response.say("The agent left.")
        return twiml(response)

    @app.post("/agent-dequeue")
    def agent_dequeue() -> Response:
        response = VoiceResponse()
        dial = Dial(action="/dial-result", timeout=20)
        dial.queue("agents")
        response.append(dial)
        return twiml(response)

    @app.post("/dial-result")
    def dial_result() -> Response:
        response = VoiceResponse()
        response.say(f"Dial result {request.form.get('DialCallStatus')}.")
        response.hangup()
        return twiml(response)

    @app.post("/second-factor")
    def second_factor() -> Response:
        response = VoiceResponse()
        gather = Gather(num_digits=4, action="/second-factor-result", timeout=8)
        gather.say("Please type the year you were born.")
        response.append(gather)
        return twiml(response)

    @app.post("/second-factor-result")
    def second_factor_result() -> Response:
        response = VoiceResponse()
        response.say("Thank you.")
        return twiml(response)

    @app.post("/empty-result")
    def empty_result() -> Response:
        response = VoiceResponse()
        if "Digits" in request.form:
            response.say(f"Empty result with digits '{request.form['Digits']}'.")
            return twiml(response)
        gather = Gather(
            num_digits=1, action="/empty-result", timeout=3, action_on_empty_result=True
        )
        gather.say("Press a key.")
        response.append(gather)
        response.say("Not reached.")
        return twiml(response)

    @app.post("/play")
    def play() -> Response:
        response = VoiceResponse()
        response.play("/audio/two-seconds.wav")
        response.pause(length=2)
        response.redirect("/play-done")
        return twiml(response)

    @app.post("/play-done")
    def play_done() -> Response:
        response = VoiceResponse()
        response.say("Played.")
        response.hangup()
        return twiml(response)

    @app.get("/audio/two-seconds.wav")
    def two_seconds() -> Response:
        return Response(wav_bytes(2.0), mimetype="audio/wav")

    @app.post("/record")
    def record() -> Response:
        response = VoiceResponse()
        response.say("Please leave a message after the beep.")
        response.record(action="/recorded", max_length=30, timeout=3)
        response.say("We did not get a message.")
        return twiml(response)

    @app.post("/recorded")
    def recorded() -> Response:
        response = VoiceResponse()
        response.say("Thank you for your message.")
        response.hangup()
        return twiml(response)

    @app.post("/odd-numbers")
    def odd_numbers() -> Response:
        response = VoiceResponse()
        gather = Gather(num_digits="nan", action="/odd-numbers-done", timeout="inf")
        gather.say("Press a key.")
        response.append(gather)
        response.pause(length="1e400")
        response.say("Goodbye.")
        return twiml(response)

    @app.post("/broken")
    def broken() -> Response:
        return Response("oops", status=500)

    @app.post("/send-sms")
    def send_sms() -> Response:
        from ivr.telephony.carrier import MessageRequest

        info = app.config["CARRIER"].send_message(
            MessageRequest(to=request.form["To"], from_=request.form["From"], body="Your copy")
        )
        response = VoiceResponse()
        response.say(f"Message {info.sid} sent.")
        return twiml(response)

    @app.post("/status")
    def status() -> Response:
        form = request.form.to_dict()
        received.add(received.status_deliveries, form)
        with received.condition:  # idempotent: one event per (call, sequence number)
            received.status_events.setdefault((form["CallSid"], form["SequenceNumber"]), form)
        return Response("", status=204)

    @app.post("/sms-status")
    def sms_status() -> Response:
        received.add(received.message_statuses, request.form.to_dict())
        return Response("", status=204)

    @sock.route("/media")
    def media(ws: Any) -> None:
        received.add(
            received.media,
            {"event": "_handshake", "signature": request.headers.get("X-Twilio-Signature")},
        )
        while True:
            message = ws.receive()
            if message is None:
                break
            data = json.loads(message)
            received.add(received.media, data)
            if data.get("event") == "stop":
                break

    return app


@contextmanager
def serve_app(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a daemon thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
