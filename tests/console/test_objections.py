"""The objection matcher and the playbooks it reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_console.objections import match_objections
from agent_console.playbooks import fill, fold, load_playbook, search_playbook

OBJECTIONS = [
    "already_paid",
    "unrecognised_debt",
    "no_money",
    "call_later",
    "wrong_person",
    "pay_on_date",
    "wants_discount",
    "dispute",
    "angry",
]


def best(transcript: str, language: str) -> str | None:
    found = match_objections(transcript, language)
    return found[0].key if found else None


@pytest.mark.parametrize("language", ["pt-BR", "en-US"])
def test_each_playbook_has_the_nine_objections_on_keys_one_to_nine(language: str) -> None:
    playbook = load_playbook(language)
    assert isinstance(playbook.version, int)
    assert [o.key for o in playbook.objections] == OBJECTIONS
    assert [o.hotkey for o in playbook.objections] == [str(n) for n in range(1, 10)]
    for objection in playbook.objections:
        assert objection.script and objection.sentences and objection.questions and objection.offers
        assert len(objection.phrases) >= 5 and objection.keywords


@pytest.mark.parametrize(
    "transcript, expected",
    [
        ("Eu já paguei essa conta no mês passado, tenho o comprovante.", "already_paid"),
        ("Eu queria negociar essa dívida, mas só consigo pagar em parcelas.", "no_money"),
        ("não reconheço essa dívida, nunca tive conta nesse banco", "unrecognised_debt"),
        ("agora não posso, estou dirigindo, me liga depois", "call_later"),
        ("o senhor ligou errado, aqui não mora ninguém com esse nome", "wrong_person"),
        ("consigo pagar no dia quinze quando receber o salário", "pay_on_date"),
        ("está muito caro, quero desconto", "wants_discount"),
        ("isso é cobrança indevida, vou no procon", "dispute"),
        ("para de me ligar, vocês me ligam toda hora, isso é assédio", "angry"),
    ],
)
def test_portuguese_objections_are_recognised(transcript: str, expected: str) -> None:
    assert best(transcript, "pt-BR") == expected


@pytest.mark.parametrize(
    "transcript, expected",
    [
        ("I already paid that last month, I have the receipt", "already_paid"),
        ("I don't think I owe this, I never had an account with them.", "unrecognised_debt"),
        ("I lost my job and I can't pay right now", "no_money"),
        ("I'm driving, can you call me back later?", "call_later"),
        ("you have the wrong number, nobody by that name lives here", "wrong_person"),
        ("I can pay on Friday when I get paid", "pay_on_date"),
        ("that's too much, can you give me a discount", "wants_discount"),
        ("I want to dispute this, send me a validation notice", "dispute"),
        ("stop calling me, this is harassment", "angry"),
    ],
)
def test_english_objections_are_recognised(transcript: str, expected: str) -> None:
    assert best(transcript, "en-US") == expected


def test_matching_ignores_case_accents_and_punctuation() -> None:
    for text in ("JÁ PAGUEI!!!", "ja paguei", "Já... paguei", "jà pâguei"):
        found = match_objections(text, "pt-BR")
        assert found and found[0].key == "already_paid" and found[0].score >= 0.8, text


@pytest.mark.parametrize(
    "noisy, language, expected",
    [
        ("eu ja pague essa conta", "pt-BR", "already_paid"),  # "paguei" heard as "pague"
        ("to desempregada e sem dinhero", "pt-BR", "no_money"),  # gender and a dropped letter
        ("nao reconhesso essa divida", "pt-BR", "unrecognised_debt"),  # misspelt by the recogniser
        ("para de me ligah", "pt-BR", "angry"),
        ("i already payed that", "en-US", "already_paid"),
        ("stop harrassing me", "en-US", "angry"),
    ],
)
def test_matching_survives_speech_recognition_noise(
    noisy: str, language: str, expected: str
) -> None:
    assert best(noisy, language) == expected


def test_small_talk_suggests_nothing() -> None:
    assert match_objections("alô, bom dia, tudo bem? pode falar", "pt-BR") == []
    assert match_objections("hello, yes, this is she", "en-US") == []
    assert match_objections("", "pt-BR") == []


def test_matches_are_ordered_best_first_and_say_what_matched() -> None:
    found = match_objections("já paguei mas agora estou desempregado e sem dinheiro", "pt-BR")
    keys = [m.key for m in found]
    assert {"already_paid", "no_money"} <= set(keys)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert all(0 < m.score <= 1 and m.phrase for m in found)


def test_an_objection_late_in_a_long_transcript_is_found() -> None:
    long_talk = "sim sou eu mesma pode falar " * 40 + "mas olha eu ja paguei isso"
    assert best(long_talk, "pt-BR") == "already_paid"


@given(st.text(max_size=300))
def test_matcher_never_fails_and_scores_stay_in_range(text: str) -> None:
    for match in match_objections(text, "pt-BR"):
        assert 0 < match.score <= 1


def test_fold_removes_case_accents_and_apostrophes() -> None:
    assert fold("Não RECONHEÇO, don't!") == "nao reconheco dont"


def test_playbook_search_finds_cards_by_any_word() -> None:
    playbook = load_playbook("pt-BR")
    assert [o.key for o in search_playbook(playbook, "procon")] == ["dispute"]
    assert [o.key for o in search_playbook(playbook, "COMPROVANTE")][0] == "already_paid"
    assert len(search_playbook(playbook, "")) == 9


def test_fill_puts_known_values_and_leaves_an_ellipsis_for_the_rest() -> None:
    text = "O registro é de {creditor}, com vencimento em {due_date}; ligamos {slot}."
    assert fill(text, {"creditor": "Banco X", "due_date": "10/08/2026"}) == (
        "O registro é de Banco X, com vencimento em 10/08/2026; ligamos …."
    )
