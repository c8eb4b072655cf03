"""The live transcript: what a transferred debtor says, from the call's audio to the
agent's screen, as `transcript.partial` and `transcript.final` contact events.

The stream
    When a debtor asks for an agent, the voice flow starts a media stream before
    enqueueing them (`start_live_transcript`): ``<Start><Stream name="live-transcript"
    url="wss://<public host>/voice/stream">`` with the parameters ``attempt`` and
    ``language`` (Twilio drops query strings from stream URLs; parameters come back in
    the ``start`` message). The stream forks the caller's leg (inbound track) and lasts
    until the call ends, so the agent sees what the debtor says while waiting and
    during the conversation. The carrier opens a WebSocket signed like a webhook:
    ``X-Twilio-Signature`` is the HMAC-SHA1 of the wss URL, with no parameters, keyed
    by the auth token. A bad signature is refused (403) before the upgrade. Then come
    ``connected``, ``start`` (streamSid, callSid, customParameters), ``media`` (20 ms
    of base64 8 kHz mu-law each) and ``stop``. The ``start`` must name an active
    attempt whose call SID is the stream's callSid. If it doesn't, the socket closes
    and nothing is recorded.

Model sharing
    The recogniser engine (`asr_engine_from_config`: Vosk, or PocketSphinx with a
    grammar of the en-US playbook's trigger phrases) is built once per runtime, lazily,
    under a lock, and kept in ``runtime.extras["asr_engine"]``. A Vosk model is loaded
    once per process and path and shared by every stream. Each stream has its own
    recogniser. The first stream waits for the model to load, and so do the streams
    that arrive while it loads. Other requests don't wait: each WebSocket runs in its
    own worker thread.

Throttling and utterances
    A partial is published when its text changed, at most every
    PARTIAL_INTERVAL_SECONDS. A final is published when the recogniser closes an
    utterance, or when ENDPOINT_SILENCE_SECONDS pass without voice after speech
    (quiet frames, or no frames at all). The recogniser is then asked for its final
    result and a fresh one takes over. If it has no final result (a grammar that
    could not close the utterance), its last partial is used. Each event carries
    ``{"text", "language", "objections"}``, where objections are the best
    `match_objections` of the text.

Failures
    A recogniser that crashes, or a model that can't be loaded, closes the stream
    (code 1011) and is logged with the attempt and stream. The carrier gets no stack
    trace, and the call goes on.

What a production operator configures
    - ``VOSK_MODEL_PATH``: an unzipped model for the market's language (``cordial
      speech download-model pt-BR``). Without it (and without
      ``CORDIAL_ASR_ENGINE=pocketsphinx``, English only) no stream is started.
    - ``CORDIAL_PUBLIC_BASE_URL`` in https: the stream URL is the same host in wss.
      The proxy must pass WebSocket upgrades for ``/voice/stream`` (nginx:
      ``proxy_http_version 1.1``, ``Upgrade``/``Connection`` headers, a read timeout
      longer than a call) and keep the Host the signature was computed for.
    - Workers that can hold a connection for a whole call: gunicorn ``--threads``
      (gthread) or more workers. Each live call holds one thread.
"""

from __future__ import annotations

import array
import base64
import binascii
import json
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from agent_console.objections import match_objections
from agent_console.playbooks import load_playbook
from ivr.app import runtime_of
from ivr.config import Config
from ivr.models import Attempt, ContactEvent, Debtor
from ivr.runtime import Runtime
from ivr.speech.asr import AsrEngine, Recognizer, VoskEngine, asr_engine_from_config, mulaw_decode
from ivr.speech.languages import LANGUAGES
from ivr.voice.signatures import SIGNATURE_HEADER, webhook_auth_token
from ivr.voice.urls import public_base_url

log = logging.getLogger(__name__)

STREAM_PATH = "/voice/stream"
STREAM_NAME = "live-transcript"
SAMPLE_RATE = 8000
PARTIAL_INTERVAL_SECONDS = 0.5
ENDPOINT_SILENCE_SECONDS = 0.8
# The most audio one recogniser is given. A line that never ends an utterance (quiet, or
# a steady noise below VOICE_LEVEL) would otherwise feed one recogniser for the whole call,
# and PocketSphinx keeps all of it (about 56 MB a minute): past this, a fresh recogniser.
MAX_UTTERANCE_SECONDS = 20.0
VOICE_LEVEL = 400  # mean absolute 16-bit amplitude above which a frame holds voice
RECEIVE_POLL_SECONDS = 0.2
START_TIMEOUT_SECONDS = 10.0
IDLE_LIMIT_SECONDS = 30.0  # a started stream that receives nothing this long is over
MAX_MESSAGE_BYTES = 64 * 1024  # a media message is about 300 bytes
OBJECTIONS_KEPT = 3
POCKETSPHINX_LANGUAGE = "en-US"  # its bundled model is US English
ENGINE_KEY = "asr_engine"

# WebSocket close codes (RFC 6455).
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_ERROR = 1011


# -- the TwiML side ----------------------------------------------------------------------


def media_stream_url(config: Config) -> str:
    """The stream's public URL: CORDIAL_PUBLIC_BASE_URL with https→wss, http→ws."""
    base = public_base_url(config)
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + STREAM_PATH


def live_transcript_enabled(config: Config, language: str) -> bool:
    """Whether this process can transcribe `language`: Vosk with a model configured, or
    PocketSphinx for US English."""
    if config.get("CORDIAL_ASR_ENGINE") == "pocketsphinx":
        return language == POCKETSPHINX_LANGUAGE
    return bool(config.get("VOSK_MODEL_PATH"))


def start_live_transcript(
    response: VoiceResponse, config: Config, attempt_id: int, language: str
) -> bool:
    """Add <Start><Stream> of the caller's audio to `response` when transcripts are
    enabled for `language`; return whether it was added."""
    if not live_transcript_enabled(config, language):
        return False
    stream = response.start().stream(
        name=STREAM_NAME, url=media_stream_url(config), track="inbound_track"
    )
    stream.parameter(name="attempt", value=str(attempt_id))
    stream.parameter(name="language", value=language)
    return True


# -- one shared engine ----------------------------------------------------------------------

_engine_lock = threading.Lock()


def playbook_phrases(language: str) -> tuple[str, ...]:
    """The trigger phrases of the playbook: the grammar a phrase-bound engine listens for."""
    return tuple(p for objection in load_playbook(language).objections for p in objection.phrases)


def asr_engine_of(runtime: Runtime) -> AsrEngine:
    """The runtime's recogniser engine, built on first use under a lock; a Vosk model is
    loaded right away, so every stream after the first finds it ready."""
    engine = runtime.extras.get(ENGINE_KEY)
    if engine is not None:
        return engine
    with _engine_lock:
        engine = runtime.extras.get(ENGINE_KEY)
        if engine is None:
            engine = asr_engine_from_config(
                runtime.config, phrases=playbook_phrases(POCKETSPHINX_LANGUAGE)
            )
            if isinstance(engine, VoskEngine):
                _ = engine.model
            runtime.extras[ENGINE_KEY] = engine
    return engine


def engine_transcribes(engine: AsrEngine, language: str) -> bool:
    return getattr(engine, "name", "") != "pocketsphinx" or language == POCKETSPHINX_LANGUAGE


# -- from audio to utterances (no I/O) --------------------------------------------------------


@dataclass(frozen=True)
class Heard:
    """Something to publish: the text of the current utterance so far, or a closed one."""

    text: str
    final: bool


class PartialThrottle:
    """Lets a partial through when its text changed and `interval` seconds passed since
    the last one let through."""

    def __init__(self, interval: float = PARTIAL_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last_text = ""
        self._last_at: float | None = None

    def allows(self, text: str, at: float) -> bool:
        if text == self._last_text:
            return False
        if self._last_at is not None and at - self._last_at < self.interval:
            return False
        self._last_text, self._last_at = text, at
        return True

    def reset(self) -> None:
        self._last_text, self._last_at = "", None


def has_voice(pcm16: bytes, level: int = VOICE_LEVEL) -> bool:
    samples = array.array("h", pcm16[: len(pcm16) - len(pcm16) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return bool(samples) and sum(map(abs, samples)) > level * len(samples)


class LiveTranscriber:
    """One stream's recogniser, with throttled partials and utterance endpoints.
    `at` is a monotonic instant in seconds, given by the caller."""

    def __init__(
        self,
        engine: AsrEngine,
        *,
        sample_rate: int = SAMPLE_RATE,
        throttle: PartialThrottle | None = None,
        endpoint_seconds: float = ENDPOINT_SILENCE_SECONDS,
        max_utterance_seconds: float = MAX_UTTERANCE_SECONDS,
    ) -> None:
        self._engine = engine
        self._rate = sample_rate
        self._throttle = throttle or PartialThrottle()
        self._endpoint = endpoint_seconds
        self._max_samples = round(max_utterance_seconds * sample_rate)
        self._recognizer: Recognizer = engine.open_stream(sample_rate)
        self._fed_samples = 0  # audio the current recogniser was given
        self._closed_texts: list[str] = []  # finals this recogniser already gave
        self._partial = ""
        self._pending = False  # voice since the last final
        self._silence = 0.0

    def feed(self, pcm16: bytes, at: float) -> list[Heard]:
        if not pcm16:
            return []
        heard: list[Heard] = []
        samples = len(pcm16) // 2
        if has_voice(pcm16):
            self._silence, self._pending = 0.0, True
        else:
            self._silence += samples / self._rate
        self._fed_samples += samples
        result = self._recognizer.accept_pcm16(pcm16)
        # What a recogniser makes of a line with no voice since the last final (hiss, a
        # grammar matching noise to its nearest phrase) is not something the debtor said.
        if result is not None and result.final:
            self._closed_texts.append(result.text)
            spoken = self._pending
            self._partial, self._pending = "", False
            self._throttle.reset()
            if spoken:
                heard.append(Heard(result.text, final=True))
        elif result is not None and self._pending:
            self._partial = result.text
            if self._throttle.allows(result.text, at):
                heard.append(Heard(result.text, final=False))
        return heard + self._maybe_endpoint()

    def pause(self, seconds: float) -> list[Heard]:
        """No audio arrived for `seconds` (a carrier that sends nothing while nobody talks)."""
        self._silence += seconds
        return self._maybe_endpoint()

    def finish(self) -> list[Heard]:
        """The stream ended: whatever the recogniser still holds of the debtor's voice
        becomes a final."""
        pending = self._pending
        text = self._close_utterance()
        return [Heard(text, final=True)] if text and pending else []

    def _maybe_endpoint(self) -> list[Heard]:
        """An utterance ends after ENDPOINT_SILENCE_SECONDS of quiet following voice, or
        when its recogniser has had MAX_UTTERANCE_SECONDS of audio; then a fresh one."""
        ended = self._pending and self._silence >= self._endpoint
        if not ended and self._fed_samples < self._max_samples:
            return []
        pending = self._pending
        text = self._close_utterance()
        self._recognizer = self._engine.open_stream(self._rate)
        self._closed_texts, self._fed_samples = [], 0
        return [Heard(text, final=True)] if text and pending else []

    def _close_utterance(self) -> str:
        whole = " ".join(self._recognizer.final().split())
        given = " ".join(self._closed_texts)
        text = whole[len(given) :].strip() if given and whole.startswith(given) else whole
        text = text or self._partial
        self._partial, self._pending, self._silence = "", False, 0.0
        self._throttle.reset()
        return text


# -- the WebSocket endpoint --------------------------------------------------------------------

blueprint = Blueprint("live_transcript", __name__)
_sock = Sock()


def register_live_transcript(app: Flask) -> None:
    """Mount the media stream endpoint (GET /voice/stream, WebSocket)."""
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MAX_MESSAGE_BYTES})
    app.register_blueprint(blueprint)


@blueprint.before_request
def _require_carrier_signature() -> Response | None:
    config = runtime_of().config
    signature = request.headers.get(SIGNATURE_HEADER, "")
    validator = RequestValidator(webhook_auth_token(config))
    if signature and validator.validate(media_stream_url(config), {}, signature):
        return None
    log.warning("media stream refused: missing or invalid %s", SIGNATURE_HEADER)
    return Response("invalid or missing X-Twilio-Signature\n", status=403, mimetype="text/plain")


@_sock.route(STREAM_PATH, bp=blueprint)
def media_stream(ws: Any) -> None:
    MediaStreamSession(runtime_of(), ws).run()


@dataclass(frozen=True)
class StreamedCall:
    """Whose audio this is: what every event of the stream is tied to."""

    attempt_id: int
    debtor_id: int
    phone_id: int
    debt_id: int | None
    language: str
    call_sid: str
    stream_sid: str


class MediaStreamSession:
    """One carrier WebSocket: wait for `start`, check it, then transcribe until `stop`."""

    def __init__(self, runtime: Runtime, ws: Any) -> None:
        self.runtime = runtime
        self.ws = ws
        self.call: StreamedCall | None = None
        self.transcriber: LiveTranscriber | None = None

    def run(self) -> None:
        code: int | None = CLOSE_ERROR
        try:
            code = self._serve()
        except ConnectionClosed:  # the carrier went away without `stop`
            code = None
            try:
                self._publish(self.transcriber.finish() if self.transcriber else [])
            except Exception:
                self._log_failure()
        except Exception:
            self._log_failure()
        if code is not None:
            try:
                self.ws.close(reason=code)
            except Exception:  # already closed by the other side
                log.debug("media stream: close failed", exc_info=True)

    def _log_failure(self) -> None:
        log.exception(
            "media stream failed (attempt %s, stream %s); closing it",
            self.call.attempt_id if self.call else None,
            self.call.stream_sid if self.call else None,
        )

    def _serve(self) -> int:
        started = time.monotonic()
        last = last_message = started
        while True:
            message = self.ws.receive(timeout=RECEIVE_POLL_SECONDS)
            now = time.monotonic()
            if self.call is None and now - started > START_TIMEOUT_SECONDS:
                # Whatever else it sends, a stream that does not start holds a thread.
                log.warning("media stream: no start message in %s s", START_TIMEOUT_SECONDS)
                return CLOSE_POLICY
            if message is None:
                if self.call is not None and now - last_message > IDLE_LIMIT_SECONDS:
                    # The carrier sends audio every 20 ms while the call is up: it is gone.
                    log.info("media stream: nothing for %s s; closing it", IDLE_LIMIT_SECONDS)
                    if self.transcriber is not None:
                        self._publish(self.transcriber.finish())
                    return CLOSE_NORMAL
                if self.transcriber is not None:
                    self._publish(self.transcriber.pause(now - last))
                last = now
                continue
            last = last_message = now
            event = _parse(message)
            kind = event.get("event")
            if kind == "start" and self.call is None:
                if not self._start(event):
                    return CLOSE_POLICY
            elif kind == "media" and self.transcriber is not None:
                self._publish(self.transcriber.feed(_inbound_audio(event), now))
            elif kind == "stop":
                if self.transcriber is not None:
                    self._publish(self.transcriber.finish())
                return CLOSE_NORMAL
            elif kind not in ("connected", "media", "dtmf", "mark"):
                log.warning("media stream: unexpected message %r; closing", str(kind)[:20])
                return CLOSE_POLICY

    def _start(self, event: dict[str, Any]) -> bool:
        start = event.get("start")
        start = start if isinstance(start, dict) else {}
        parameters = start.get("customParameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        raw_attempt = str(parameters.get("attempt", ""))
        call_sid = str(start.get("callSid", ""))
        stream_sid = str(start.get("streamSid") or event.get("streamSid") or "")
        attempt_id = (
            int(raw_attempt)
            if raw_attempt.isascii() and raw_attempt.isdigit() and len(raw_attempt) <= 9
            else None
        )
        with self.runtime.db.session() as session:
            call = _streamed_call(session, attempt_id, call_sid, stream_sid, parameters)
        if call is None:
            log.warning(
                "media stream refused: no live attempt %r for call %s",
                raw_attempt[:12],
                call_sid[:40],
            )
            return False
        self.call = call
        engine = asr_engine_of(self.runtime)
        if not engine_transcribes(engine, call.language):
            log.info(
                "media stream of attempt %s: %s does not transcribe %s; closing",
                call.attempt_id,
                getattr(engine, "name", "engine"),
                call.language,
            )
            return False
        self.transcriber = LiveTranscriber(engine)
        log.info("media stream %s: transcribing attempt %s", stream_sid, call.attempt_id)
        return True

    def _publish(self, heard: Sequence[Heard]) -> None:
        call = self.call
        if not heard or call is None:
            return
        now = self.runtime.clock.now()
        with self.runtime.db.session() as session:
            session.add_all(
                ContactEvent(
                    debtor_id=call.debtor_id,
                    attempt_id=call.attempt_id,
                    phone_id=call.phone_id,
                    debt_id=call.debt_id,
                    kind="transcript.final" if item.final else "transcript.partial",
                    channel="voice",
                    actor="asr",
                    occurred_at=now,
                    data={
                        "text": item.text,
                        "language": call.language,
                        "objections": [
                            {"key": m.key, "score": m.score, "phrase": m.phrase}
                            for m in match_objections(item.text, call.language)[:OBJECTIONS_KEPT]
                        ],
                        "call_sid": call.call_sid,
                        "stream_sid": call.stream_sid,
                    },
                )
                for item in heard
            )


def _streamed_call(
    session: Session,
    attempt_id: int | None,
    call_sid: str,
    stream_sid: str,
    parameters: dict[str, Any],
) -> StreamedCall | None:
    """The live attempt the stream names, if it is the call being streamed."""
    attempt = session.get(Attempt, attempt_id) if attempt_id is not None else None
    if attempt is None or not attempt.active or not call_sid:
        return None
    if attempt.carrier_call_sid != call_sid:
        return None
    debtor = session.get(Debtor, attempt.debtor_id)
    wanted = parameters.get("language")
    language = wanted if wanted in LANGUAGES else (debtor.language if debtor else LANGUAGES[0])
    return StreamedCall(
        attempt_id=attempt.id,
        debtor_id=attempt.debtor_id,
        phone_id=attempt.phone_id,
        debt_id=attempt.debt_id,
        language=language,
        call_sid=call_sid,
        stream_sid=stream_sid[:64],
    )


def _parse(message: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return {"event": "unreadable"}
    return event if isinstance(event, dict) else {"event": "unreadable"}


def _inbound_audio(event: dict[str, Any]) -> bytes:
    """The caller's audio in a media message, as 16-bit PCM (nothing for other tracks)."""
    media = event.get("media")
    media = media if isinstance(media, dict) else {}
    if media.get("track", "inbound") != "inbound":
        return b""
    try:
        return mulaw_decode(base64.b64decode(media.get("payload", ""), validate=True))
    except (binascii.Error, ValueError, TypeError):
        return b""


__all__ = [
    "ENDPOINT_SILENCE_SECONDS",
    "PARTIAL_INTERVAL_SECONDS",
    "STREAM_PATH",
    "Heard",
    "LiveTranscriber",
    "PartialThrottle",
    "asr_engine_of",
    "live_transcript_enabled",
    "media_stream_url",
    "register_live_transcript",
    "start_live_transcript",
]
