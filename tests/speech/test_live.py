"""The live transcript without sockets: the stream URL and its TwiML, the throttle, the
utterance endpoints, one engine per runtime, and PocketSphinx hearing an objection in
real espeak-ng audio that went through mu-law as Twilio sends it."""

from __future__ import annotations

import array
import random
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from twilio.twiml.voice_response import VoiceResponse

from agent_console.objections import match_objections
from ivr.app import create_app
from ivr.config import load_config
from ivr.runtime import Runtime
from ivr.speech import live
from ivr.speech.asr import PartialResult, PocketsphinxEngine, mulaw_decode
from ivr.speech.live import (
    Heard,
    LiveTranscriber,
    PartialThrottle,
    asr_engine_of,
    live_transcript_enabled,
    media_stream_url,
    playbook_phrases,
    start_live_transcript,
)
from ivr.telephony.emulator.media import SpeechRenderer, split_frames
from tests.conftest import make_runtime
from tests.voice.carrier_helpers import PROFILES, Call, RecordingCarrier, SignedWebhooks, seed_call

VOICE = b"\x10\x27" * 160  # 20 ms at amplitude 10000
QUIET = b"\x00\x00" * 160  # 20 ms of silence


def config(**values: str):
    return load_config(values, env_file=None)


# -- the URL and the TwiML ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://calls.example.com/", "wss://calls.example.com/voice/stream"),
        ("https://example.com/cordial", "wss://example.com/cordial/voice/stream"),
        ("http://127.0.0.1:5000", "ws://127.0.0.1:5000/voice/stream"),
    ],
)
def test_the_stream_url_is_the_public_host_over_websocket(base: str, url: str) -> None:
    assert media_stream_url(config(CORDIAL_PUBLIC_BASE_URL=base)) == url


def test_the_stream_names_the_attempt_and_language_in_parameters_not_the_query() -> None:
    response = VoiceResponse()
    settings = config(
        CORDIAL_PUBLIC_BASE_URL="https://calls.example.com",
        CORDIAL_ASR_ENGINE="vosk",
        VOSK_MODEL_PATH="/models/vosk-model-small-pt-0.3",
    )
    assert start_live_transcript(response, settings, 42, "pt-BR")
    stream = ET.fromstring(str(response)).find("Start/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://calls.example.com/voice/stream"
    assert stream.get("track") == "inbound_track" and stream.get("name") == "live-transcript"
    assert {p.get("name"): p.get("value") for p in stream} == {
        "attempt": "42",
        "language": "pt-BR",
    }


def test_no_stream_without_an_engine_that_understands_the_call() -> None:
    assert not live_transcript_enabled(config(CORDIAL_ASR_ENGINE="vosk"), "pt-BR")
    english_only = config(CORDIAL_ASR_ENGINE="pocketsphinx")
    assert live_transcript_enabled(english_only, "en-US")
    assert not live_transcript_enabled(english_only, "pt-BR")
    response = VoiceResponse()
    assert not start_live_transcript(response, english_only, 1, "pt-BR")
    assert ET.fromstring(str(response)).find("Start") is None


@pytest.fixture
def english_runtime(sqlite_url: str, tmp_path: Path, clock) -> Iterator[Runtime]:
    runtime = make_runtime(
        sqlite_url,
        tmp_path / "instance",
        clock,
        CORDIAL_ASR_ENGINE="pocketsphinx",
        CORDIAL_PUBLIC_BASE_URL="https://calls.example.com",
    )
    runtime.extras["carrier"] = RecordingCarrier()
    yield runtime
    runtime.close()


def test_pressing_3_starts_the_stream_before_the_hold_prompt(english_runtime: Runtime) -> None:
    app = create_app({"TESTING": True}, runtime=english_runtime)
    hooks = SignedWebhooks(app.test_client(), english_runtime.config)
    with english_runtime.db.session() as session:
        seeded = seed_call(session, PROFILES["us"], now=english_runtime.clock.now())
    call = Call(hooks, seeded.attempt_id)
    call.answer()
    call.press("1")
    twiml = call.press("3")
    assert [child.tag for child in twiml] == ["Start", "Say", "Enqueue"]
    stream = twiml.find("Start/Stream")
    assert stream is not None and stream.get("url") == "wss://calls.example.com/voice/stream"
    assert {p.get("name"): p.get("value") for p in stream} == {
        "attempt": str(seeded.attempt_id),
        "language": "en-US",
    }


# -- throttle and utterances --------------------------------------------------------------------


def test_a_partial_goes_out_when_it_changed_and_not_more_often_than_the_interval() -> None:
    throttle = PartialThrottle(interval=0.5)
    assert throttle.allows("i", 0.0)
    assert not throttle.allows("i already", 0.2)  # too soon
    assert not throttle.allows("i", 0.9)  # unchanged
    assert throttle.allows("i already", 0.9)
    assert not throttle.allows("i already paid", 1.3)
    assert throttle.allows("i already paid", 1.5)


@dataclass
class ScriptedRecognizer:
    """Answers each chunk from a script; `final()` returns `whole`."""

    answers: list[PartialResult | None]
    whole: str = ""
    fed: int = 0
    ended: bool = False

    def accept_pcm16(self, chunk: bytes) -> PartialResult | None:
        self.fed += 1
        return self.answers.pop(0) if self.answers else None

    def final(self) -> str:
        assert not self.ended, "final() twice on one recogniser"
        self.ended = True
        return self.whole


@dataclass
class ScriptedEngine:
    recognizers: list[ScriptedRecognizer]
    name: str = "scripted"
    opened: list[ScriptedRecognizer] = field(default_factory=list)

    def open_stream(self, sample_rate: int = 8000) -> ScriptedRecognizer:
        recognizer = self.recognizers.pop(0)
        self.opened.append(recognizer)
        return recognizer


def test_partials_are_throttled_and_a_closed_utterance_is_final_at_once() -> None:
    engine = ScriptedEngine(
        [
            ScriptedRecognizer(
                [
                    PartialResult("i"),
                    PartialResult("i already"),
                    PartialResult("i already paid"),
                    PartialResult("i already paid", final=True),
                ],
                whole="i already paid",
            )
        ]
    )
    transcriber = LiveTranscriber(engine)
    heard = [h for at in (0.0, 0.1, 0.6, 0.7) for h in transcriber.feed(VOICE, at)]
    assert heard == [
        Heard("i", final=False),
        Heard("i already paid", final=False),
        Heard("i already paid", final=True),
    ]
    assert transcriber.finish() == []  # nothing said after the closed utterance


def test_silence_after_speech_ends_the_utterance_with_the_last_partial_if_need_be() -> None:
    # A grammar that cannot close the utterance gives no final text: the last partial stands.
    first = ScriptedRecognizer([PartialResult("i already paid you")], whole="")
    second = ScriptedRecognizer([PartialResult("stop calling me")], whole="stop calling me")
    engine = ScriptedEngine([first, second, ScriptedRecognizer([])])
    transcriber = LiveTranscriber(engine, endpoint_seconds=0.8)

    assert transcriber.feed(VOICE, 0.0) == [Heard("i already paid you", final=False)]
    assert transcriber.feed(QUIET, 0.02) == []  # 20 ms of quiet is not an end
    assert transcriber.pause(0.5) == []
    assert transcriber.pause(0.4) == [Heard("i already paid you", final=True)]
    assert first.ended and transcriber.pause(5.0) == []  # nothing pending: no empty finals

    assert transcriber.feed(VOICE, 6.0) == [Heard("stop calling me", final=False)]
    quiet_frames = [h for i in range(40) for h in transcriber.feed(QUIET, 6.0 + i * 0.02)]
    assert quiet_frames == [Heard("stop calling me", final=True)]  # 0.8 s of quiet frames
    assert second.ended and len(engine.opened) == 3  # a fresh recogniser after each utterance


def test_a_line_that_never_ends_an_utterance_gets_a_fresh_recogniser_every_20_seconds() -> None:
    """A quiet line gives no endpoint: one recogniser would take the whole call's audio
    (PocketSphinx keeps all of it). Each gets at most MAX_UTTERANCE_SECONDS, and what a
    recogniser made of the quiet is not passed off as something the debtor said."""
    recognizers = [ScriptedRecognizer([], whole="noise matched to a phrase") for _ in range(4)]
    engine = ScriptedEngine(recognizers)
    transcriber = LiveTranscriber(engine)
    heard = [h for i in range(3 * 50 * 20 + 1) for h in transcriber.feed(QUIET, i * 0.02)]
    assert heard == []
    assert len(engine.opened) == 4
    per_recogniser = live.MAX_UTTERANCE_SECONDS * 50  # 20 ms frames
    assert [r.fed for r in engine.opened] == [per_recogniser] * 3 + [1]
    assert all(r.ended for r in engine.opened[:3])


def test_speech_that_outlasts_the_cap_is_given_as_a_final_and_the_next_one_heard() -> None:
    first = ScriptedRecognizer([PartialResult("i already paid")], whole="i already paid")
    second = ScriptedRecognizer([PartialResult("stop calling")], whole="stop calling me")
    engine = ScriptedEngine([first, second, ScriptedRecognizer([])])
    transcriber = LiveTranscriber(engine, max_utterance_seconds=1.0)
    heard = [h for i in range(50) for h in transcriber.feed(VOICE, i * 0.02)]
    assert heard == [Heard("i already paid", final=False), Heard("i already paid", final=True)]
    heard = [h for i in range(50, 60) for h in transcriber.feed(VOICE, i * 0.02)]
    assert heard == [Heard("stop calling", final=False)]
    assert transcriber.finish() == [Heard("stop calling me", final=True)]


def test_what_the_recogniser_already_closed_is_not_repeated_when_the_stream_stops() -> None:
    recognizer = ScriptedRecognizer(
        [PartialResult("eu já paguei", final=True), PartialResult("tenho o")],
        whole="eu já paguei tenho o comprovante",
    )
    transcriber = LiveTranscriber(ScriptedEngine([recognizer]))
    assert transcriber.feed(VOICE, 0.0) == [Heard("eu já paguei", final=True)]
    assert transcriber.feed(VOICE, 1.0) == [Heard("tenho o", final=False)]
    assert transcriber.finish() == [Heard("tenho o comprovante", final=True)]


def test_one_engine_per_runtime_however_many_streams_start_at_once(
    monkeypatch: pytest.MonkeyPatch, sqlite_runtime: Runtime
) -> None:
    built: list[object] = []
    ready = threading.Barrier(6)

    def build(config, *, phrases=()):
        built.append(phrases)
        return PocketsphinxEngine(phrases)

    monkeypatch.setattr(live, "asr_engine_from_config", build)
    engines: list[object] = []

    def first_stream() -> None:
        ready.wait()
        engines.append(asr_engine_of(sqlite_runtime))

    threads = [threading.Thread(target=first_stream) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len({id(e) for e in engines}) == 1
    assert "i already paid" in built[0]  # the grammar is the en-US playbook's triggers


# -- real audio ---------------------------------------------------------------------------------


def test_pocketsphinx_hears_the_already_paid_objection_in_phone_audio() -> None:
    """espeak-ng speech, mu-law as the carrier sends it, 20 ms frames, then the line goes quiet."""
    audio = SpeechRenderer().mulaw("I already paid this bill", "en-US")
    transcriber = LiveTranscriber(PocketsphinxEngine(playbook_phrases("en-US")))
    heard: list[Heard] = []
    for i, frame in enumerate(split_frames(audio)):
        heard += transcriber.feed(mulaw_decode(frame), i * 0.02)
    heard += transcriber.pause(1.0)

    finals = [h.text for h in heard if h.final]
    assert len(finals) == 1 and "already paid" in finals[0]
    assert match_objections(finals[0], "en-US")[0].key == "already_paid"
    assert all(not h.final for h in heard[:-1])


@dataclass
class MeasuredEngine:
    """A real engine whose streams count the seconds of audio each was given."""

    engine: PocketsphinxEngine
    name: str = "pocketsphinx"
    seconds: list[float] = field(default_factory=list)

    def open_stream(self, sample_rate: int = 8000):
        stream = self.engine.open_stream(sample_rate)
        index = len(self.seconds)
        self.seconds.append(0.0)
        accept = stream.accept_pcm16

        def counted(chunk: bytes):
            self.seconds[index] += len(chunk) / 2 / sample_rate
            return accept(chunk)

        stream.accept_pcm16 = counted  # type: ignore[method-assign]
        return stream


def test_pocketsphinx_still_hears_the_objection_after_a_long_noisy_silence() -> None:
    """45 s of line hiss below the voice level, then the debtor speaks: the recognisers are
    replaced on the way (none takes more than MAX_UTTERANCE_SECONDS), the hiss gives no
    final, and the objection is heard."""
    rng = random.Random(7)
    hiss = array.array("h", (rng.randint(-300, 300) for _ in range(160 * 50 * 45)))
    speech = SpeechRenderer().mulaw("I already paid this bill", "en-US")
    engine = MeasuredEngine(PocketsphinxEngine(playbook_phrases("en-US")))
    transcriber = LiveTranscriber(engine)
    frames = [hiss[i : i + 160].tobytes() for i in range(0, len(hiss), 160)]
    heard: list[Heard] = []
    for i, frame in enumerate(frames):
        heard += transcriber.feed(frame, i * 0.02)
    assert heard == []  # neither partials nor finals made of the hiss
    for i, frame in enumerate(split_frames(speech), start=len(frames)):
        heard += transcriber.feed(mulaw_decode(frame), i * 0.02)
    heard += transcriber.pause(1.0)

    finals = [h.text for h in heard if h.final]
    assert len(finals) == 1 and match_objections(finals[0], "en-US")[0].key == "already_paid"
    assert len(engine.seconds) >= 3
    assert max(engine.seconds) <= live.MAX_UTTERANCE_SECONDS
