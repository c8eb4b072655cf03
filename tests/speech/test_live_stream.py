"""The media stream endpoint over real sockets: the app on a werkzeug server, a
WebSocket client (websocket-client) speaking Twilio Media Streams with a handshake
signed as Twilio signs it, and the real (Korean) Vosk model behind it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import websocket
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from ivr.app import create_app
from ivr.models import Attempt, ContactEvent
from ivr.runtime import Runtime
from ivr.speech.live import STREAM_PATH, media_stream_url
from ivr.telephony.emulator.media import MediaStream, SpeechRenderer, split_frames
from ivr.voice.signatures import webhook_auth_token
from tests.conftest import make_runtime
from tests.console.browser import live_server
from tests.voice.carrier_helpers import PROFILES, seed_call

CALL_SID = "CA" + "5" * 32
PUBLIC = "https://calls.example.com"  # what the carrier sees; the test connects to 127.0.0.1


def seed_live_call(runtime: Runtime) -> int:
    """A call in progress (the debtor waits for an agent) whose carrier SID is CALL_SID."""
    with runtime.db.session() as session:
        seeded = seed_call(session, PROFILES["mg"], now=runtime.clock.now())
        attempt = session.get(Attempt, seeded.attempt_id)
        attempt.state, attempt.carrier_call_sid = "in-progress", CALL_SID
        return seeded.attempt_id


@contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    """The app on 127.0.0.1; yields the stream endpoint's ws:// URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with live_server(create_app({"TESTING": True}, runtime=runtime)) as running:
        yield running.url.replace("http://", "ws://") + STREAM_PATH


@pytest.fixture
def stream_runtime(sqlite_url: str, tmp_path: Path, clock) -> Iterator[Runtime]:
    runtime = make_runtime(
        sqlite_url,
        tmp_path / "instance",
        clock,
        CORDIAL_PUBLIC_BASE_URL=PUBLIC,
        CORDIAL_ASR_ENGINE="pocketsphinx",
    )
    yield runtime
    runtime.close()


@pytest.fixture
def server(stream_runtime: Runtime) -> Iterator[str]:
    with serving(stream_runtime) as url:
        yield url


@pytest.fixture
def attempt_id(stream_runtime: Runtime) -> int:
    return seed_live_call(stream_runtime)


def signature(runtime: Runtime, url: str | None = None, token: str | None = None) -> str:
    validator = RequestValidator(token or webhook_auth_token(runtime.config))
    return validator.compute_signature(url or media_stream_url(runtime.config), {})


def connect(server: str, signed: str) -> Any:
    return websocket.create_connection(server, header=[f"X-Twilio-Signature: {signed}"], timeout=60)


def twilio_stream(attempt: int | str, language: str = "pt-BR", call_sid: str = CALL_SID):
    return MediaStream(
        sid="MZ" + "7" * 32,
        account_sid="AC" + "0" * 32,
        call_sid=call_sid,
        url="wss://calls.example.com/voice/stream",
        name="live-transcript",
        track="inbound_track",
        parameters={"attempt": str(attempt), "language": language},
        started_at=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
    )


def send(ws: Any, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message))


def closed_with(ws: Any) -> int:
    """Wait for the server's close frame; its status code."""
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE, f"expected a close, got opcode {opcode}"
    return int.from_bytes(data[:2], "big")


def events(runtime: Runtime) -> list[ContactEvent]:
    with runtime.db.session() as session:
        return list(session.scalars(select(ContactEvent).order_by(ContactEvent.id)))


def count(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(ContactEvent)) or 0


def speak(ws: Any, stream: MediaStream, text: str, language: str) -> int:
    frames = split_frames(SpeechRenderer().mulaw(text, language))
    for frame in frames:
        send(ws, stream.media_message(frame, stream.started_at))
    return len(frames)


def test_vosk_transcribes_a_media_stream_into_events_of_the_attempt(
    korean_vosk_model: Path, sqlite_url: str, tmp_path: Path, clock
) -> None:
    """A Korean model does not understand Portuguese: this checks the mechanics."""
    runtime = make_runtime(
        sqlite_url,
        tmp_path / "instance",
        clock,
        CORDIAL_PUBLIC_BASE_URL=PUBLIC,
        CORDIAL_ASR_ENGINE="vosk",
        VOSK_MODEL_PATH=str(korean_vosk_model),
    )
    try:
        attempt = seed_live_call(runtime)
        with serving(runtime) as url:
            ws = connect(url, signature(runtime))
            stream = twilio_stream(attempt)
            send(ws, stream.connected_message())
            send(ws, stream.start_message())
            speak(ws, stream, "Eu já paguei essa conta no mês passado.", "pt-BR")
            send(ws, stream.stop_message())
            assert closed_with(ws) == 1000  # the app closes the stream on `stop`
            ws.close()
        recorded = events(runtime)
    finally:
        runtime.close()

    transcript = [e for e in recorded if e.kind.startswith("transcript.")]
    assert transcript, "no transcript event for a second of speech"
    assert {e.kind for e in transcript} <= {"transcript.partial", "transcript.final"}
    assert transcript[-1].kind == "transcript.final"
    for event in transcript:
        assert event.attempt_id == attempt and event.channel == "voice"
        assert event.actor == "asr" and event.data["text"]
        assert event.data["language"] == "pt-BR" and isinstance(event.data["objections"], list)
        assert event.data["call_sid"] == CALL_SID


@pytest.mark.parametrize(
    "bad",
    ["missing", "other token", "other url", "http scheme"],
)
def test_a_handshake_not_signed_by_the_carrier_is_refused_and_nothing_recorded(
    server: str, stream_runtime: Runtime, attempt_id: int, bad: str
) -> None:
    before = count(stream_runtime)
    header = {
        "missing": [],
        "other token": [f"X-Twilio-Signature: {signature(stream_runtime, token='not-it')}"],
        "other url": [
            f"X-Twilio-Signature: {signature(stream_runtime, 'wss://evil.example/voice/stream')}"
        ],
        "http scheme": [
            f"X-Twilio-Signature: {signature(stream_runtime, PUBLIC + '/voice/stream')}"
        ],
    }[bad]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server, header=header, timeout=30)
    assert refused.value.status_code == 403
    assert count(stream_runtime) == before


@pytest.mark.parametrize(
    ("attempt", "call_sid"),
    [("999999", CALL_SID), ("not-a-number", CALL_SID), ("own", "CA" + "6" * 32)],
)
def test_a_stream_for_no_live_attempt_is_closed_and_nothing_recorded(
    server: str, stream_runtime: Runtime, attempt_id: int, attempt: str, call_sid: str
) -> None:
    before = count(stream_runtime)
    ws = connect(server, signature(stream_runtime))
    stream = twilio_stream(attempt_id if attempt == "own" else attempt, call_sid=call_sid)
    send(ws, stream.connected_message())
    send(ws, stream.start_message())
    assert closed_with(ws) == 1008
    ws.close()
    assert count(stream_runtime) == before


@pytest.mark.parametrize("garbage", ["not json", '{"event": "hello"}', "[1, 2]"])
def test_a_stream_that_does_not_speak_the_protocol_is_closed(
    server: str, stream_runtime: Runtime, attempt_id: int, garbage: str
) -> None:
    ws = connect(server, signature(stream_runtime))
    ws.send(garbage)
    assert closed_with(ws) == 1008
    ws.close()


def test_a_stream_that_chatters_without_starting_is_closed_at_its_deadline(
    server: str, stream_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages keep coming, none of them `start`: the deadline holds all the same (each
    stream holds a server thread)."""
    from ivr.speech import live

    monkeypatch.setattr(live, "START_TIMEOUT_SECONDS", 0.5)
    ws = connect(server, signature(stream_runtime))
    stream = twilio_stream(1)
    ws.settimeout(0.1)
    code = None
    for _ in range(100):  # up to about 10 s of chatter
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            send(ws, stream.connected_message())
            continue
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        code = int.from_bytes(data[:2], "big")
        break
    ws.close()
    assert code == 1008


def test_a_started_stream_that_falls_silent_is_closed(
    server: str, stream_runtime: Runtime, attempt_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The carrier sends audio every 20 ms while the call is up: a started stream that
    receives nothing is over (a connection dropped without a close leaves no other sign)."""
    from ivr.speech import live

    monkeypatch.setattr(live, "IDLE_LIMIT_SECONDS", 0.5)
    ws = connect(server, signature(stream_runtime))
    stream = twilio_stream(attempt_id, language="en-US")  # pocketsphinx's language here
    send(ws, stream.connected_message())
    send(ws, stream.start_message())
    assert closed_with(ws) == 1000
    ws.close()


class CrashingRecognizer:
    def accept_pcm16(self, chunk: bytes) -> None:
        raise RuntimeError("decoder exploded")

    def final(self) -> str:
        return ""


class CrashingEngine:
    name = "crashing"

    def open_stream(self, sample_rate: int = 8000) -> CrashingRecognizer:
        return CrashingRecognizer()


def test_a_crashing_recogniser_closes_the_stream_and_logs_without_telling_the_carrier(
    server: str,
    stream_runtime: Runtime,
    attempt_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream_runtime.extras["asr_engine"] = CrashingEngine()
    before = count(stream_runtime)
    ws = connect(server, signature(stream_runtime))
    stream = twilio_stream(attempt_id, language="en-US")
    send(ws, stream.connected_message())
    send(ws, stream.start_message())
    with caplog.at_level(logging.ERROR, logger="ivr.speech.live"):
        speak(ws, stream, "hello", "en-US")
        opcode, data = ws.recv_data(control_frame=True)
    ws.close()
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1011
    assert b"exploded" not in data and b"Traceback" not in data  # no details to the caller
    assert any(
        "media stream failed" in r.getMessage() and f"attempt {attempt_id}" in r.getMessage()
        for r in caplog.records
    )
    assert count(stream_runtime) == before
