"""Which prompts get audio ahead, per call or never; and a webhook's lookups stay in memory
(a personal sentence costs one stat)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ivr.clock import VirtualClock
from ivr.speech.manifest import PromptAudioIndex, PromptText, render_all
from ivr.speech.personal import render_personal_audio
from ivr.speech.prompt_texts import DebtFacts, catalog_texts, personal_sentences
from ivr.speech.tts import TtsRenderer
from ivr.voice.prompt_catalog import (
    AHEAD,
    CHOICES,
    LIVE,
    PER_CALL,
    PromptBook,
    PromptCatalog,
    prompt_catalog,
    prompt_timing,
)

COMMON = {"company": "Cordial", "neutral_company": "Cordial", "callback_number": "1 1"}
COMMON |= {"contact_person": "Ana"}
SECRET = b"test-instance-secret"


def test_each_prompt_of_the_catalog_has_a_time_for_its_audio() -> None:
    book = prompt_catalog().book("pt-BR")
    assert prompt_timing(book, "greeting") == AHEAD  # {company} is the same on every call
    assert prompt_timing(book, "menu") == CHOICES  # {channel}: SMS or WhatsApp
    assert prompt_timing(book, "disclosure") == PER_CALL
    assert prompt_timing(book, "right_party_check") == PER_CALL
    assert prompt_timing(book, "callback_option") == LIVE  # {slot} depends on the moment


def test_an_unknown_placeholder_is_said_live_rather_than_rendered_wrong(tmp_path: Path) -> None:
    (tmp_path / "pt-BR.yaml").write_text(
        "prompts:\n  weather: Hoje faz {temperature} graus.\n", encoding="utf-8"
    )
    book = PromptBook.from_file(tmp_path / "pt-BR.yaml")
    assert prompt_timing(book, "weather") == LIVE


def test_choices_become_one_sentence_each_and_templates_stay_out_of_the_render() -> None:
    catalog = prompt_catalog()
    texts = catalog_texts(catalog, {lang: COMMON for lang in catalog.languages})
    ahead = {(p.key, p.language): p.text for p in texts.ahead}

    assert ahead[("menu[channel=SMS]", "pt-BR")].startswith("Para receber a segunda via por SMS")
    assert ("menu[channel=WhatsApp]", "en-US") in ahead
    assert ahead[("greeting", "pt-BR")] == "Olá! Aqui é da Cordial."
    assert all("{" not in text for text in ahead.values())
    assert {p.key for p in texts.per_call} == {
        "right_party_check",
        "disclosure",
        "disclosure_itemised",
    }
    assert {p.key for p in texts.live} == {"callback_option", "callback_confirmed"}


def test_personal_sentences_are_the_debtors_own_in_their_language() -> None:
    catalog = prompt_catalog()
    debt = DebtFacts(
        amount=Decimal("1234.56"),
        principal=Decimal("1200"),
        interest=Decimal("10.56"),
        fee=Decimal("24"),
        currency="BRL",
        due_date=date(2025, 12, 1),
        creditor="Banco Exemplo",
        itemised=False,
    )

    sentences = personal_sentences(catalog, "pt-BR", COMMON, "Maria", debt, today=date(2026, 1, 5))

    assert set(sentences) == {"right_party_check", "disclosure"}
    assert sentences["right_party_check"].startswith("Se você é Maria")
    assert "mil duzentos e trinta e quatro reais" in sentences["disclosure"]
    # Due last year: the year is said, as the flow says it.
    assert "primeiro de dezembro de dois mil e vinte e cinco" in sentences["disclosure"]
    only_question = personal_sentences(catalog, "en-US", COMMON, "John", None, today=date.today())
    assert list(only_question) == ["right_party_check"]


def test_a_webhook_lookup_is_a_dict_for_prompts_and_one_stat_for_a_personal_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    espeak = TtsRenderer("espeak")
    render_all([PromptText("greeting", "pt-BR", "Olá! Aqui é da Cordial.")], tmp_path, espeak)
    render_personal_audio(
        {"right_party_check": "Se você é Maria, tecle 1."}, "pt-BR", tmp_path, espeak, secret=SECRET
    )
    clock = VirtualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    index = PromptAudioIndex(tmp_path, "/audio", secret=SECRET, clock=clock)
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path, *args, **kwargs):  # Path.stat and os.path.isfile both end here
        stats.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)

    assert index.url_for("greeting", "pt-BR", "Olá! Aqui é da Cordial.")
    assert index.url_for("hold_music", "pt-BR", "") is None
    assert stats == []
    assert index.url_for("right_party_check", "pt-BR", "Se você é Maria, tecle 1.")
    assert len(stats) == 1
    assert index.url_for("right_party_check", "pt-BR", "Se você é José, tecle 1.") is None
    assert len(stats) == 2


def test_the_speaker_says_what_has_no_file_in_the_debtors_voice() -> None:
    from twilio.twiml.voice_response import VoiceResponse

    from ivr.voice.speaker import Speaker

    class OnlyGreeting:
        def url_for(self, key: str, language: str, text: str) -> str | None:
            return "https://cordial.example/audio/greeting.wav" if key == "greeting" else None

    speaker = Speaker(PromptCatalog.load(), OnlyGreeting())
    response = VoiceResponse()
    speaker.speak(response, "greeting", "en-US", COMMON)
    speaker.speak(response, "opt_out_offer", "en-US", COMMON)

    xml = str(response)
    assert "<Play>https://cordial.example/audio/greeting.wav</Play>" in xml
    assert '<Say language="en-US" voice="Polly.Joanna">' in xml
