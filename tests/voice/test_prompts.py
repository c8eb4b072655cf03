"""The prompt catalogs (data), and the one place that turns a prompt into TwiML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ivr.config import load_config
from ivr.messaging.message_templates import message_books
from ivr.messaging.message_templates import placeholders_of as message_placeholders
from ivr.voice.disclosure import disclosure_rules, recording_required
from ivr.voice.identity import common_prompt_params, neutral_company_name, spoken_phone_number
from ivr.voice.prompt_catalog import PromptCatalog, PromptError, prompt_catalog
from ivr.voice.speaker import CallReply, Speaker, line

REQUIRED = {
    "greeting",
    "recording_notice",
    "opt_out_offer",
    "right_party_check",
    "second_factor_birth_year",
    "second_factor_document_digits",
    "verification_failed",
    "wrong_person_apology",
    "disclosure",
    "disclosure_itemised",
    "fdcpa_disclosure",
    "menu",
    "sms_sent",
    "sms_unavailable",
    "callback_offer",
    "callback_option",
    "callback_confirmed",
    "callback_unavailable",
    "transfer_hold",
    "queue_hold",
    "transfer_no_agent",
    "opted_out",
    "invalid_key",
    "no_input",
    "goodbye",
    "voicemail",
    "callback_intro",
    "technical_difficulty",
}
# Said before the right-party check, or to whoever answers: never a word about the debt.
BEFORE_VERIFICATION = [
    "greeting",
    "recording_notice",
    "opt_out_offer",
    "right_party_check",
    "second_factor_birth_year",
    "second_factor_document_digits",
    "verification_failed",
    "wrong_person_apology",
    "voicemail",
    "callback_intro",
    "technical_difficulty",
    "goodbye",
    "invalid_key",
    "no_input",
    "opted_out",
    "transfer_hold",
    "queue_hold",
]
DEBT_PLACEHOLDERS = {"amount", "creditor", "due_date", "principal", "interest", "fee"}
DEBT_WORDS = (
    "dívida",
    "débito",
    "cobran",
    "debt",
    "collect",
    "valor",
    "balance",
    "credor",
    "creditor",
)


def test_both_languages_have_exactly_the_same_prompts_and_placeholders():
    catalog = prompt_catalog()
    assert catalog.languages == ("en-US", "pt-BR")
    assert catalog.differences() == []
    for language in catalog.languages:
        assert set(catalog.book(language).prompts) >= REQUIRED
        assert catalog.book(language).voice and catalog.book(language).contact_person


def test_a_difference_between_languages_is_reported(tmp_path):
    (tmp_path / "pt-BR.yaml").write_text("prompts:\n  a: 'Olá {name}'\n  b: oi\n", encoding="utf-8")
    (tmp_path / "en-US.yaml").write_text("prompts:\n  a: 'Hello {first}'\n", encoding="utf-8")
    problems = PromptCatalog.load(tmp_path).differences()
    assert any("'b' exists only in pt-BR" in p for p in problems)
    assert any("'a'" in p and "first" in p for p in problems)


@pytest.mark.parametrize("language", ["pt-BR", "en-US"])
def test_prompts_heard_before_verification_say_nothing_about_a_debt(language):
    book = prompt_catalog().book(language)
    for key in BEFORE_VERIFICATION:
        assert not book.placeholders[key] & DEBT_PLACEHOLDERS, key
        text = book.prompts[key].lower()
        for word in DEBT_WORDS:
            assert word not in text, f"{language} {key!r} says {word!r}"


@pytest.mark.parametrize("language", ["pt-BR", "en-US"])
def test_the_voicemail_is_a_limited_content_message(language):
    book = prompt_catalog().book(language)
    assert book.placeholders["voicemail"] == {
        "contact_person",
        "neutral_company",
        "callback_number",
    }


@pytest.mark.parametrize("language", ["pt-BR", "en-US"])
def test_the_first_prompt_names_the_company_and_the_opt_out_key_follows(language):
    book = prompt_catalog().book(language)
    assert "company" in book.placeholders["greeting"]
    assert "9" in book.prompts["opt_out_offer"]


def test_a_call_speaks_the_debtors_language_else_the_default_else_the_first():
    catalog = prompt_catalog()
    assert catalog.call_language("en-US", "pt-BR") == "en-US"
    assert catalog.call_language("fr-FR", "en-US") == "en-US"
    assert catalog.call_language(None, "pt-BR") == "pt-BR"
    assert catalog.call_language("fr-FR", "de-DE") == catalog.languages[0] == "en-US"


def test_a_missing_placeholder_is_a_clear_error():
    with pytest.raises(PromptError, match=r"needs \{first_name\}"):
        prompt_catalog().text("right_party_check", "pt-BR", {})
    with pytest.raises(PromptError, match="no prompts for language 'fr-FR'"):
        prompt_catalog().text("greeting", "fr-FR", {})


def test_the_neutral_company_name_drops_words_of_debt_collection():
    assert neutral_company_name("Cordial Cobranças", "x") == "Cordial"
    assert neutral_company_name("Acme Debt Collection Services LLC", "x") == "Acme Services LLC"
    assert neutral_company_name("Silva & Cobrança Ltda", "x") == "Silva Ltda"
    assert (
        neutral_company_name("Recuperação de Crédito", "Central de Atendimento")
        == "Central de Atendimento"
    )
    assert neutral_company_name("Northwind", "x") == "Northwind"
    # Joined words are read by their parts; other joined words stay as they are.
    assert neutral_company_name("Acme Debt-Collection Services", "x") == "Acme Services"
    assert neutral_company_name("Silva Cobranças/Recuperação Ltda", "x") == "Silva Ltda"
    assert neutral_company_name("Recuperação-de-Crédito", "Atendimento") == "Atendimento"
    assert neutral_company_name("Coca-Cola Bottling", "x") == "Coca-Cola Bottling"
    assert neutral_company_name("Acme Debtor-Care", "x") == "Acme Debtor-Care"


def test_phone_numbers_are_read_digit_by_digit():
    assert spoken_phone_number("+551140000000") == "1 1, 4 0 0 0, 0 0 0 0"
    assert spoken_phone_number("+12125550100") == "2 1 2, 5 5 5, 0 1 0 0"


def test_recording_notice_and_itemisation_follow_the_debtors_state():
    assert recording_required("BR", "SP") and recording_required("BR", "rj")
    assert not recording_required("BR", "MG") and not recording_required("US", "NY")
    assert (
        disclosure_rules("US", "MA").collector_notice
        and not disclosure_rules("BR", "SP").collector_notice
    )
    assert disclosure_rules("BR", "SP").itemised and not disclosure_rules("BR", "BA").itemised


class FakeAudio:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def url_for(self, key: str, language: str, text: str) -> str | None:
        self.asked.append((key, language, text))
        return f"https://audio.example.com/{language}/{key}.mp3" if key == "greeting" else None


def _reply(audio=None, language="pt-BR", answering=False) -> CallReply:
    catalog = prompt_catalog()
    config = load_config({}, env_file=None)
    common = common_prompt_params(config, catalog.book(language))
    return CallReply(Speaker(catalog, audio), language, common, answering=answering)


def test_pre_rendered_audio_is_played_and_the_rest_is_said_in_the_right_language():
    audio = FakeAudio()
    reply = _reply(audio, "en-US")
    reply.ask(
        [line("greeting"), line("right_party_check", first_name="John")],
        action="https://x/a",
        no_answer_url="https://x/a",
    )
    root = ET.fromstring(reply.twiml())
    gather = root.find("Gather")
    assert [child.tag for child in gather] == ["Play", "Say"]
    assert gather.find("Play").text == "https://audio.example.com/en-US/greeting.mp3"
    assert (
        gather.find("Say").get("language") == "en-US"
        and gather.find("Say").get("voice") == "Polly.Joanna"
    )
    assert audio.asked[0] == ("greeting", "en-US", "Hello! This is Cordial.")


class MusicAudio:
    def url_for(self, key: str, language: str, text: str) -> str | None:
        return "https://audio.example.com/hold.mp3" if key == "hold_music" else None


def test_a_queued_caller_hears_the_hold_prompt_then_music_when_there_is_some():
    first = ET.fromstring(_reply(MusicAudio()).hold(announce=True).twiml())
    assert [child.tag for child in first] == ["Say", "Play"]
    later = ET.fromstring(_reply(MusicAudio()).hold(announce=False).twiml())
    assert [child.tag for child in later] == ["Play"]
    without_music = ET.fromstring(_reply().hold(announce=False).twiml())
    assert [child.tag for child in without_music] == ["Say"]


def test_a_reply_cannot_hang_up_without_speaking_or_enqueue_in_silence():
    reply = _reply()
    assert not hasattr(reply, "hangup")
    root = ET.fromstring(reply.end("goodbye").twiml())
    assert [child.tag for child in root] == ["Say", "Hangup"]
    with pytest.raises(RuntimeError):
        _reply().enqueue(wait_url="https://x/w", action="https://x/a")


def test_a_first_reply_that_ends_the_call_lasts_at_least_six_seconds():
    short = ET.fromstring(_reply(answering=True).end("no_input").twiml())
    assert [child.tag for child in short] == ["Say", "Pause", "Hangup"]
    long_enough = ET.fromstring(_reply(answering=True).pause(1).end("voicemail").twiml())
    assert [child.tag for child in long_enough] == ["Pause", "Say", "Hangup"]
    later = ET.fromstring(_reply().end("no_input").twiml())  # the greeting was said already
    assert [child.tag for child in later] == ["Say", "Hangup"]


def test_message_templates_are_in_step_across_languages():
    books = message_books()
    assert set(books) == {"pt-BR", "en-US"}
    pt, en = books["pt-BR"], books["en-US"]
    assert set(pt.templates) == set(en.templates)
    for key in pt.templates:
        assert message_placeholders(pt.templates[key]) == message_placeholders(en.templates[key]), (
            key
        )
    assert "SAIR" in pt.opt_out_keywords and "STOP" in en.opt_out_keywords
    assert "SAIR" in pt.templates["second_copy"] and "STOP" in en.templates["second_copy"]
