"""Rendering produces real telephone audio, and `auto` falls back from gTTS to espeak-ng."""

from __future__ import annotations

import logging
import subprocess
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import gtts
import pytest

from ivr.speech import tts
from ivr.speech.tts import (
    EngineUnavailable,
    GttsEngine,
    TtsRenderer,
    join_wavs,
    read_wav_info,
)

from .audio_checks import assert_telephone_speech

PT_TEXT = "Olá, aqui é da Cordial Cobranças. Esta ligação é gravada."
EN_TEXT = "Hello, this is Cordial. This call is recorded."


class GttsCalls:
    """Stands in for gtts.gTTS and records how it was called."""

    def __init__(self, save: Callable[[str, dict], None]) -> None:
        self.calls: list[dict] = []
        self._save = save

    def __call__(self, text: str, **options: object) -> GttsCalls._Request:
        call = {"text": text, **options}
        self.calls.append(call)
        return GttsCalls._Request(self._save, call)

    class _Request:
        def __init__(self, save: Callable[[str, dict], None], call: dict) -> None:
            self._save, self._call = save, call

        def save(self, path: str) -> None:
            self._save(path, self._call)


def _unreachable(path: str, call: dict) -> None:
    raise gtts.tts.gTTSError("Failed to connect. Probable cause: host is not reachable")


@pytest.mark.parametrize(
    ("text", "language", "voice"), [(PT_TEXT, "pt-BR", "pt-br"), (EN_TEXT, "en-US", "en-us")]
)
def test_espeak_renders_telephone_speech(
    espeak: TtsRenderer, tmp_path: Path, text: str, language: str, voice: str
) -> None:
    audio = espeak.render(text, language, tmp_path / "prompt.wav")

    assert (audio.engine, audio.voice, audio.sample_rate) == ("espeak", voice, 8000)
    assert_telephone_speech(audio.path, text)
    assert audio.duration_s == pytest.approx(read_wav_info(audio.path).duration_s)


def test_rendering_the_same_text_twice_gives_the_same_bytes(
    espeak: TtsRenderer, tmp_path: Path
) -> None:
    first = espeak.render(EN_TEXT, "en-US", tmp_path / "a.wav")
    second = espeak.render(EN_TEXT, "en-US", tmp_path / "b.wav")
    assert first.path.read_bytes() == second.path.read_bytes()


def test_auto_falls_back_to_espeak_when_gtts_cannot_connect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = GttsCalls(_unreachable)
    monkeypatch.setattr(gtts, "gTTS", fake)
    monkeypatch.setattr(tts, "sox_reads_mp3", lambda: True)
    renderer = TtsRenderer("auto")
    caplog.set_level(logging.INFO, logger="ivr.speech.tts")

    first = renderer.render(PT_TEXT, "pt-BR", tmp_path / "one.wav")
    second = renderer.render(EN_TEXT, "en-US", tmp_path / "two.wav")

    assert (first.engine, second.engine) == ("espeak", "espeak")
    assert_telephone_speech(first.path, PT_TEXT)
    # gTTS was asked once, with the Brazilian voice, then remembered as failing.
    assert [(c["lang"], c["tld"]) for c in fake.calls] == [("pt", "com.br")]
    assert "Failed to connect" in (tts.gtts_failure() or "")
    assert renderer.planned_engine().name == "espeak"
    fallback = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(fallback) == 1 and "gTTS cannot render" in fallback[0] and "espeak-ng" in fallback[0]
    rendered = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("espeak" in m and "one.wav" in m and "Cordial Cobranças" in m for m in rendered)


def test_auto_renders_with_whatever_this_machine_reaches(tmp_path: Path) -> None:
    """The real gTTS: here Google is unreachable, so espeak-ng renders; online, gTTS does."""
    audio = TtsRenderer("auto", gtts_engine=GttsEngine(timeout_s=3.0)).render(
        EN_TEXT, "en-US", tmp_path / "real.wav"
    )
    assert_telephone_speech(audio.path, EN_TEXT)
    if audio.engine == "espeak":
        assert tts.gtts_failure() is not None
    else:
        assert (audio.engine, audio.voice) == ("gtts", "en@com")


def test_gtts_that_never_answers_times_out_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    release = threading.Event()
    monkeypatch.setattr(gtts, "gTTS", GttsCalls(lambda path, call: release.wait()))
    monkeypatch.setattr(tts, "sox_reads_mp3", lambda: True)
    try:
        audio = TtsRenderer("auto", gtts_engine=GttsEngine(timeout_s=0.05)).render(
            EN_TEXT, "en-US", tmp_path / "late.wav"
        )
    finally:
        release.set()
    assert audio.engine == "espeak"
    assert "no answer" in (tts.gtts_failure() or "")


def test_gtts_without_mp3_support_in_sox_counts_as_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = GttsCalls(_unreachable)
    monkeypatch.setattr(gtts, "gTTS", fake)
    monkeypatch.setattr(tts, "sox_reads_mp3", lambda: False)
    audio = TtsRenderer("auto").render(EN_TEXT, "en-US", tmp_path / "x.wav")
    assert audio.engine == "espeak"
    assert fake.calls == []
    assert "libsox-fmt-mp3" in (tts.gtts_failure() or "")


def test_choosing_gtts_alone_never_falls_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(gtts, "gTTS", GttsCalls(_unreachable))
    monkeypatch.setattr(tts, "sox_reads_mp3", lambda: True)
    with pytest.raises(EngineUnavailable, match="Failed to connect"):
        TtsRenderer("gtts").render(EN_TEXT, "en-US", tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


def test_gtts_mp3_becomes_telephone_wav(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """gTTS answers with MP3 (made here from espeak-ng speech); it ends as an 8 kHz WAV."""
    spoken = tmp_path / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "pt-br", "-w", str(spoken), PT_TEXT], check=True)
    mp3 = tmp_path / "google.mp3"
    subprocess.run(["sox", str(spoken), "-r", "24000", str(mp3)], check=True)
    fake = GttsCalls(lambda path, call: Path(path).write_bytes(mp3.read_bytes()))
    monkeypatch.setattr(gtts, "gTTS", fake)

    audio = TtsRenderer("auto").render(PT_TEXT, "pt-BR", tmp_path / "gtts.wav")

    assert (audio.engine, audio.voice) == ("gtts", "pt@com.br")
    assert fake.calls[0]["lang"] == "pt" and fake.calls[0]["tld"] == "com.br"
    assert_telephone_speech(audio.path, PT_TEXT)
    assert tts.gtts_failure() is None


def test_unknown_engine_choice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'festival'.*auto, gtts, espeak"):
        TtsRenderer("festival")


def test_empty_text_and_unknown_language_are_refused(espeak: TtsRenderer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        espeak.render("  ", "pt-BR", tmp_path / "x.wav")
    with pytest.raises(ValueError, match="'es-ES'"):
        espeak.render("hola", "es-ES", tmp_path / "x.wav")


def test_join_wavs_concatenates_with_gaps(espeak: TtsRenderer, tmp_path: Path) -> None:
    one = espeak.render("um", "pt-BR", tmp_path / "one.wav")
    two = espeak.render("dois", "pt-BR", tmp_path / "two.wav")
    joined = join_wavs([one.path, two.path], tmp_path / "joined.wav", gap_ms=100)

    frames = read_wav_info(one.path).frames + read_wav_info(two.path).frames + 800
    assert joined.frames == frames == read_wav_info(tmp_path / "joined.wav").frames


def test_join_wavs_refuses_another_format(espeak: TtsRenderer, tmp_path: Path) -> None:
    good = espeak.render("um", "pt-BR", tmp_path / "one.wav").path
    wideband = tmp_path / "wide.wav"
    with wave.open(str(wideband), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x00" * 160)
    with pytest.raises(ValueError, match="16000 Hz"):
        join_wavs([good, wideband], tmp_path / "joined.wav")
    assert not (tmp_path / "joined.wav").exists()
