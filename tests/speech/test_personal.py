"""A debtor's personal sentences are rendered once, ahead of the call, and cached privately."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr.clock import VirtualClock
from ivr.speech import tts
from ivr.speech.manifest import PromptAudioIndex
from ivr.speech.personal import (
    PERSONAL_DIR,
    find_personal_audio,
    personal_url_is_valid,
    prune_personal_audio,
    render_personal_audio,
)
from ivr.speech.tts import TtsRenderer
from ivr.speech.wording import spoken_amount, spoken_date

from .audio_checks import assert_telephone_speech
from .fakes import FakeGoogle

SECRET = b"test-instance-secret"
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _sentences() -> dict[str, str]:
    amount = spoken_amount(Decimal("1234.56"), "BRL", "pt-BR")
    due = spoken_date(date(2026, 12, 1), "pt-BR")
    return {
        "right_party": "Se você é Maria Aparecida, tecle um.",
        "disclosure": f"O valor em aberto é de {amount}, com vencimento em {due}.",
    }


def test_personal_sentences_become_telephone_audio(
    espeak: TtsRenderer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sentences = _sentences()

    audio = render_personal_audio(sentences, "pt-BR", tmp_path, espeak, secret=SECRET)

    assert set(audio.files) == set(sentences) and set(audio.rendered) == set(sentences)
    for name, text in sentences.items():
        assert audio.files[name].parent == tmp_path / PERSONAL_DIR
        assert_telephone_speech(audio.files[name], text)
    # Personal data stays out of the logs and out of the file names.
    assert "Maria" not in caplog.text and "duzentos" not in caplog.text
    assert all("maria" not in p.name.lower() for p in audio.files.values())


def test_the_same_sentences_again_come_from_the_cache(espeak: TtsRenderer, tmp_path: Path) -> None:
    first = render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=SECRET)
    stamps = {p: p.stat().st_size for p in first.files.values()}

    again = render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=SECRET)

    assert again.rendered == ()
    assert again.files == first.files
    assert {p: p.stat().st_size for p in again.files.values()} == stamps


def test_only_the_new_sentence_is_rendered(espeak: TtsRenderer, tmp_path: Path) -> None:
    render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=SECRET)
    changed = {**_sentences(), "right_party": "Se você é João Carlos, tecle um."}
    audio = render_personal_audio(changed, "pt-BR", tmp_path, espeak, secret=SECRET)
    assert audio.rendered == ("right_party",)


def test_file_names_depend_on_the_secret(espeak: TtsRenderer, tmp_path: Path) -> None:
    a = render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=b"one")
    b = render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=b"two")
    assert set(a.files.values()).isdisjoint(b.files.values())


def test_a_secret_and_real_text_are_required(espeak: TtsRenderer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=b"")
    with pytest.raises(ValueError, match="'disclosure' is empty"):
        render_personal_audio({"disclosure": " "}, "pt-BR", tmp_path, espeak, secret=SECRET)


def test_prune_deletes_only_files_unused_for_long(espeak: TtsRenderer, tmp_path: Path) -> None:
    audio = render_personal_audio(_sentences(), "pt-BR", tmp_path, espeak, secret=SECRET)
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    old, recent = audio.files["right_party"], audio.files["disclosure"]
    os.utime(old, ((now - timedelta(days=10)).timestamp(),) * 2)
    os.utime(recent, ((now - timedelta(hours=1)).timestamp(),) * 2)

    removed = prune_personal_audio(tmp_path, older_than=timedelta(days=7), now=now)

    # The played file goes, with its cached rendering (the same file under two names).
    assert old in removed and len(removed) == 2
    assert all(not p.exists() for p in removed) and recent.is_file()
    assert len(list((tmp_path / PERSONAL_DIR).rglob("*.wav"))) == 2


def test_gtts_audio_is_still_used_while_gtts_is_down(tmp_path: Path) -> None:
    google = FakeGoogle()
    renderer = TtsRenderer("auto", gtts_engine=google)  # type: ignore[arg-type]
    first = render_personal_audio(_sentences(), "pt-BR", tmp_path, renderer, secret=SECRET)

    google.down = True
    tts.forget_gtts_failure()  # a new process, which does not know yet
    changed = {**_sentences(), "right_party": "Se você é João Carlos, tecle um."}
    during = render_personal_audio(changed, "pt-BR", tmp_path, renderer, secret=SECRET)

    assert during.rendered == ("right_party",)
    assert during.files["disclosure"] == first.files["disclosure"]
    assert tts.gtts_failure() == "Failed to connect"


def test_webhooks_find_personal_audio_by_its_text(espeak: TtsRenderer, tmp_path: Path) -> None:
    sentences = _sentences()
    audio = render_personal_audio(sentences, "pt-BR", tmp_path, espeak, secret=SECRET)
    text = sentences["disclosure"]

    assert find_personal_audio(text, "pt-BR", tmp_path, secret=SECRET) == audio.files["disclosure"]
    assert find_personal_audio(text, "pt-BR", tmp_path, secret=b"other") is None
    assert find_personal_audio(text, "en-US", tmp_path, secret=SECRET) is None
    index = PromptAudioIndex(tmp_path, "/audio", secret=SECRET, clock=VirtualClock(NOW))
    url = index.url_for("disclosure", "pt-BR", text)
    name = audio.files["disclosure"].name
    assert url is not None and url.startswith(f"/audio/{PERSONAL_DIR}/{name}?exp=")
    assert PromptAudioIndex(tmp_path, "/audio").url_for("disclosure", "pt-BR", text) is None


def test_personal_urls_carry_a_signature_that_expires(espeak: TtsRenderer, tmp_path: Path) -> None:
    sentences = _sentences()
    audio = render_personal_audio(sentences, "pt-BR", tmp_path, espeak, secret=SECRET)
    index = PromptAudioIndex(tmp_path, "/audio", secret=SECRET, clock=VirtualClock(NOW))
    url = index.url_for("disclosure", "pt-BR", sentences["disclosure"])
    query = parse_qs(urlsplit(url).query)
    expires, token = query["exp"][0], query["sig"][0]
    name = audio.files["disclosure"].name

    assert personal_url_is_valid(name, expires, token, SECRET, NOW)
    assert personal_url_is_valid(name, expires, token, SECRET, NOW + timedelta(minutes=59))
    assert not personal_url_is_valid(name, expires, token, SECRET, NOW + timedelta(hours=2))
    assert not personal_url_is_valid(name, expires, token, b"other", NOW)
    assert not personal_url_is_valid(name, str(int(expires) + 900), token, SECRET, NOW)
    other = audio.files["right_party"].name
    assert not personal_url_is_valid(other, expires, token, SECRET, NOW)
    assert not personal_url_is_valid(name, None, None, SECRET, NOW)
    assert not personal_url_is_valid(name, "-1", token, SECRET, NOW)
    # The webhooks of one call mostly issue the same URL (expiries are rounded up).
    urls = {
        PromptAudioIndex(
            tmp_path, "/audio", secret=SECRET, clock=VirtualClock(NOW + timedelta(minutes=m))
        ).url_for("disclosure", "pt-BR", sentences["disclosure"])
        for m in (1, 5, 14)
    }
    assert len(urls) == 1


def test_the_played_file_moves_to_the_better_engine_when_it_is_back(tmp_path: Path) -> None:
    google = FakeGoogle()
    google.down = True
    renderer = TtsRenderer("auto", gtts_engine=google)  # type: ignore[arg-type]
    during = render_personal_audio(_sentences(), "pt-BR", tmp_path, renderer, secret=SECRET)
    outage_inode = during.files["disclosure"].stat().st_ino

    google.down = False
    tts.forget_gtts_failure()  # the network is back, and a new process tries gTTS again
    after = render_personal_audio(_sentences(), "pt-BR", tmp_path, renderer, secret=SECRET)

    assert set(after.rendered) == set(_sentences())  # re-rendered by "gTTS"
    assert after.files == during.files  # same URL for the webhooks ...
    assert after.files["disclosure"].stat().st_ino != outage_inode  # ... now the gTTS audio
