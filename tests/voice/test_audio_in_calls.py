"""Calls play the rendered audio: the committed prompt files in the debtor's language, and
the debtor's own sentences rendered when the dialer claims the call; what has no file
(callback times, a missing rendering) is said with <Say> in the right language and voice.
End to end through the local carrier emulator, which fetches every <Play> URL from the
app as Twilio would."""

from __future__ import annotations

import logging
import shutil
import wave
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

import ivr.telephony.emulator as emulator_module  # noqa: E402
from ivr.app import create_app
from ivr.models import Attempt, Debt
from ivr.speech.call_audio import prepare_call_audio, prompt_audio_index
from ivr.speech.manifest import load_manifest
from ivr.speech.personal import PERSONAL_DIR
from ivr.speech.tts import EspeakEngine, TtsRenderer
from ivr.telephony.carrier import CallRequest
from ivr.voice.urls import answer_url, status_url
from tests.conftest import make_runtime
from tests.speech.audio_checks import FULL_SCALE, read_pcm, rms

from .carrier_helpers import PROFILES, seed_call

REPO_AUDIO = Path(__file__).resolve().parents[2] / "audio"
BASE = "http://127.0.0.1:5000/audio"


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    shutil.copytree(REPO_AUDIO, folder, ignore=shutil.ignore_patterns("personal", ".*"))
    return folder


@pytest.fixture
def runtime(sqlite_url, tmp_path, clock, audio_dir):
    rt = make_runtime(
        sqlite_url,
        tmp_path / "instance",
        clock,
        CORDIAL_AUDIO_DIR=str(audio_dir),
        CORDIAL_TTS_ENGINE="espeak",
    )
    yield rt
    rt.close()


@pytest.fixture
def network(runtime, clock):
    """The app with its audio index (as `cordial web` has it), and the emulator in virtual
    time, told what each audio URL says so personas can react to played prompts."""
    app = create_app({"TESTING": True}, runtime=runtime)
    index = prompt_audio_index(runtime, captions=True)
    runtime.extras["prompt_audio"] = index
    emulator = emulator_module.CarrierEmulator(
        clock=clock, transport=emulator_module.WsgiTransport(app), play_captions=index.caption_for
    )
    runtime.extras["carrier"] = emulator.carrier()
    return emulator


def seed(runtime, profile: str, **kwargs) -> int:
    with runtime.db.session() as session:
        return seed_call(session, PROFILES[profile], now=runtime.clock.now(), **kwargs).attempt_id


def place(runtime, emulator, profile: str, persona: str, attempt_id: int):
    with runtime.db.session() as session:
        session.get(Attempt, attempt_id).state = "dialing"
    number = PROFILES[profile].number
    emulator.assign_persona(number, persona)
    info = runtime.extras["carrier"].place_call(
        CallRequest(
            to=number,
            from_="+551130000000",
            url=answer_url(runtime.config, attempt_id, PROFILES[profile].language),
            status_callback=status_url(runtime.config, attempt_id),
            idempotency_key=f"audio-{attempt_id}",
            machine_detection=True,
        )
    )
    emulator.run_until_idle()
    call = emulator.call(info.sid)
    assert call.ended
    return call


def static_url(audio_dir: Path, key: str, language: str) -> str:
    return f"{BASE}/{load_manifest(audio_dir)[(key, language)].file}"


def played(call) -> list[dict]:
    return [e.detail for e in call.entries("play")]


def said(call) -> list[dict]:
    return [e.detail for e in call.entries("say")]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def assert_each_play_was_fetched(call, audio_dir: Path) -> None:
    """Every <Play> URL was served by the app (the emulator timed it by the file itself)."""
    for detail in played(call):
        path = urlsplit(detail["url"]).path.removeprefix("/audio/")
        assert detail["seconds"] == pytest.approx(wav_seconds(audio_dir / path), abs=0.01), detail


# -- audio prepared at claim time -------------------------------------------------------


def test_claimed_calls_get_their_personal_sentences_rendered(
    runtime, audio_dir, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    minas, sao_paulo = seed(runtime, "mg"), seed(runtime, "sp")

    prepare_call_audio(runtime, [minas, sao_paulo])

    spoken = sorted((audio_dir / PERSONAL_DIR).glob("*.wav"))
    # Minas: right-party check and disclosure; São Paulo (BR-RECORD) adds the itemised amount.
    assert len(spoken) == 5
    for path in spoken:
        params, samples = read_pcm(path)
        assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
        assert 1.5 < wav_seconds(path) < 20 and rms(samples) > 0.01 * FULL_SCALE
    assert "5 sentence(s) rendered" in caplog.text
    # Personal data stays out of the logs.
    assert "João" not in caplog.text and "Maria" not in caplog.text and "reais" not in caplog.text

    caplog.clear()
    prepare_call_audio(runtime, [minas, sao_paulo])  # a retried claim renders nothing
    assert "0 sentence(s) rendered, 5 already there" in caplog.text


def test_nothing_personal_is_rendered_for_callbacks_and_nothing_is_disclosed_for_paid_debts(
    runtime, audio_dir
) -> None:
    callback = seed(runtime, "mg", callback_due_at=runtime.clock.now())
    paid = seed(runtime, "us")
    with runtime.db.session() as session:
        session.get(Debt, session.get(Attempt, paid).debt_id).status = "paid"

    prepare_call_audio(runtime, [callback, paid, 999_999])

    assert len(list((audio_dir / PERSONAL_DIR).glob("*.wav"))) == 1  # the right-party check


def test_a_failing_tts_engine_never_stops_the_dialer(
    runtime, audio_dir, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = TtsRenderer("espeak", espeak_engine=EspeakEngine(binary="no-such-espeak-ng"))
    monkeypatch.setattr("ivr.speech.call_audio.renderer_from_config", lambda config: broken)
    attempt_id = seed(runtime, "mg")

    prepare_call_audio(runtime, [attempt_id])  # does not raise

    assert f"attempt {attempt_id}: personal audio not prepared" in caplog.text
    assert "the call will use <Say>" in caplog.text
    assert not list((audio_dir / PERSONAL_DIR).glob("*.wav"))


# -- calls through the emulator ----------------------------------------------------------------


def test_a_brazilian_call_plays_the_pt_br_files_and_its_own_disclosure(
    runtime, network, audio_dir
) -> None:
    attempt_id = seed(runtime, "mg")
    prepare_call_audio(runtime, [attempt_id])

    call = place(runtime, network, "mg", "asks_sms", attempt_id)

    assert call.keys_pressed[:2] == ["1", "1"]
    assert said(call) == []  # every sentence came from a file
    urls = [d["url"] for d in played(call)]
    assert urls[0] == static_url(audio_dir, "greeting", "pt-BR")
    assert urls[1] == static_url(audio_dir, "opt_out_offer", "pt-BR")
    assert urls[2].startswith(f"{BASE}/{PERSONAL_DIR}/") and "&sig=" in urls[2]
    captions = [d.get("text", "") for d in played(call)]
    assert captions[2].startswith("Se você é João")
    disclosure = next(d for d in played(call) if "Consta em aberto" in d.get("text", ""))
    assert disclosure["url"].startswith(f"{BASE}/{PERSONAL_DIR}/")
    assert "cento e quatorze reais e cinquenta centavos" in disclosure["text"]
    assert "Banco Exemplo" in disclosure["text"]
    assert static_url(audio_dir, "menu[channel=SMS]", "pt-BR") in urls
    assert static_url(audio_dir, "sms_sent[channel=SMS]", "pt-BR") in urls
    assert urls[-1] == static_url(audio_dir, "goodbye", "pt-BR")
    assert_each_play_was_fetched(call, audio_dir)


def test_a_us_debtor_hears_the_en_us_files(runtime, network, audio_dir) -> None:
    attempt_id = seed(runtime, "us")
    prepare_call_audio(runtime, [attempt_id])

    call = place(runtime, network, "us", "asks_sms", attempt_id)

    assert said(call) == []
    urls = [d["url"] for d in played(call)]
    assert urls[0] == static_url(audio_dir, "greeting", "en-US")
    assert static_url(audio_dir, "fdcpa_disclosure", "en-US") in urls
    pt_files = {e.file for e in load_manifest(audio_dir).values() if e.language == "pt-BR"}
    assert not any(urlsplit(u).path.rsplit("/", 1)[-1] in pt_files for u in urls)
    captions = " ".join(d.get("text", "") for d in played(call))
    assert "If you are John, press 1" in captions and "one hundred fourteen dollars" in captions
    assert_each_play_was_fetched(call, audio_dir)


def test_callback_times_are_said_live_in_the_debtors_language(runtime, network, audio_dir) -> None:
    attempt_id = seed(runtime, "sp", second_factor="birth_year")
    prepare_call_audio(runtime, [attempt_id])

    call = place(runtime, network, "sp", "asks_callback", attempt_id)

    with runtime.db.session() as session:
        assert session.get(Attempt, attempt_id).outcome == "callback-booked"
    urls = [d["url"] for d in played(call)]
    assert static_url(audio_dir, "recording_notice", "pt-BR") in urls
    # The persona heard the second-factor question in a file and answered it.
    assert static_url(audio_dir, "second_factor_birth_year", "pt-BR") in urls
    assert static_url(audio_dir, "callback_offer", "pt-BR") in urls
    live = said(call)
    assert live and all(d["language"] == "pt-BR" and d["voice"] == "Polly.Camila" for d in live)
    assert all("tecle" in d["text"] or "Combinado" in d["text"] for d in live)
    itemised = [d for d in played(call) if "valor principal" in d.get("text", "")]
    assert itemised and itemised[0]["url"].startswith(f"{BASE}/{PERSONAL_DIR}/")
    assert_each_play_was_fetched(call, audio_dir)


def test_a_missing_file_is_said_with_say_in_the_right_language_and_logged(
    runtime, clock, audio_dir, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ivr.voice.speaker")
    (audio_dir / load_manifest(audio_dir)[("greeting", "pt-BR")].file).unlink()
    app = create_app({"TESTING": True}, runtime=runtime)
    runtime.extras["prompt_audio"] = prompt_audio_index(runtime)
    emulator = emulator_module.CarrierEmulator(
        clock=clock, transport=emulator_module.WsgiTransport(app)
    )
    runtime.extras["carrier"] = emulator.carrier()
    attempt_id = seed(runtime, "mg")  # and no prepare_call_audio: no personal audio either

    call = place(runtime, emulator, "mg", "wrong_person", attempt_id)

    first = call.log[[e.kind for e in call.log].index("say")].detail
    assert first["text"].startswith("Olá! Aqui é da")
    assert first["language"] == "pt-BR" and first["voice"] == "Polly.Camila"
    assert played(call)[0]["url"] == static_url(audio_dir, "opt_out_offer", "pt-BR")
    right_party = [d for d in said(call) if d["text"].startswith("Se você é João")]
    assert right_party and right_party[0]["language"] == "pt-BR"
    assert "prompt greeting (pt-BR): no rendered audio" in caplog.text
    assert "prompt right_party_check (pt-BR): no personal audio prepared" in caplog.text
    assert "João" not in caplog.text


def test_personal_audio_is_never_played_to_someone_who_is_not_the_debtor(
    runtime, network, audio_dir
) -> None:
    attempt_id = seed(runtime, "mg")
    prepare_call_audio(runtime, [attempt_id])

    call = place(runtime, network, "mg", "wrong_person", attempt_id)

    personal = [d for d in played(call) if f"/{PERSONAL_DIR}/" in d["url"]]
    assert len(personal) == 1 and personal[0]["text"].startswith("Se você é")  # the question
    with runtime.db.session() as session:
        assert session.scalar(select(Attempt.outcome).where(Attempt.id == attempt_id)) == (
            "wrong-number"
        )
