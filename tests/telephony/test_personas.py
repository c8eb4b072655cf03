"""Persona files and how personas are chosen for called numbers."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from ivr.telephony.emulator import Persona, PersonaChooser, PersonaError, load_personas
from ivr.telephony.emulator.personas import PERSONA_DIR, load_persona, person_facts

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "ivr" / "voice" / "prompts"

EXPECTED = {
    "asks_sms",
    "asks_callback",
    "asks_agent",
    "opts_out",
    "wrong_person",
    "silent",
    "hangs_up_mid_prompt",
    "voicemail",
    "busy",
    "no_answer",
    "invalid_keys",
    "speaks_objection",
}


def test_shipped_personas_load() -> None:
    personas = load_personas()
    assert set(personas) >= EXPECTED
    assert personas["voicemail"].answer == "machine"
    assert personas["asks_callback"].keys == ("1", "2", "1")
    assert personas["silent"].keys == ()
    assert all(p.language in ("pt-BR", "en-US") for p in personas.values())


def test_persona_file_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("answer: human\nring_secs: 3\n")
    with pytest.raises(PersonaError, match="unknown field.*ring_secs"):
        load_persona(bad)
    bad.write_text("answer: maybe\n")
    with pytest.raises(PersonaError, match="answer 'maybe'"):
        load_persona(bad)


def test_keys_come_from_answers_before_the_script() -> None:
    persona = Persona(name="p", keys=("1", "3"), answers=(("year you were born", "1985"),))
    assert persona.keys_for_gather(0, ["If you are Maria, press 1"]) == ("1", True)
    assert persona.keys_for_gather(1, ["Please type the YEAR you were born"]) == ("1985", False)
    assert persona.keys_for_gather(1, ["Menu"]) == ("3", True)
    assert persona.keys_for_gather(2, ["Menu"]) == ("", True)


def test_amd_result_by_kind() -> None:
    assert Persona(name="h").answered_by("Enable") == "human"
    assert Persona(name="m", answer="machine").answered_by("Enable") == "machine_start"
    assert Persona(name="m", answer="machine").answered_by("DetectMessageEnd") == "machine_end_beep"
    assert Persona(name="x", amd_result="unknown").answered_by("Enable") == "unknown"


def test_explicit_choice_wins() -> None:
    chooser = PersonaChooser.default(explicit={"+5511999990001": "busy"})
    assert chooser.choose("+5511999990001").name == "busy"
    custom = Persona(name="custom")
    chooser.assign("+5511999990002", custom)
    assert chooser.choose("+5511999990002") is custom


def test_unknown_persona_is_a_clear_error() -> None:
    with pytest.raises(PersonaError, match="unknown persona 'bussy'.*known: .*busy"):
        PersonaChooser.default(explicit={"+5511999990001": "bussy"})


def test_distribution_is_deterministic_and_follows_weights() -> None:
    numbers = [f"+55119{n:08d}" for n in range(4000)]
    first = PersonaChooser.default(seed="demo")
    again = PersonaChooser.default(seed="demo")
    choices = [first.choose(n).name for n in numbers]
    assert choices == [again.choose(n).name for n in numbers]
    counts = Counter(choices)
    weights = {name: p.weight for name, p in load_personas(PERSONA_DIR).items()}
    total = sum(weights.values())
    for name, weight in weights.items():
        expected = len(numbers) * weight / total
        assert abs(counts[name] - expected) < 4 * expected**0.5 + 5, name
    other = PersonaChooser.default(seed="other")
    other_seed = [other.choose(n).name for n in numbers]
    assert other_seed != choices


def test_weights_can_be_overridden_and_vary_by_attempt() -> None:
    only_busy = PersonaChooser.default(weights={"busy": 1})
    assert {only_busy.choose(f"+5511{n:09d}").name for n in range(50)} == {"busy"}
    varying = PersonaChooser.default(vary_by_attempt=True)
    assert len({varying.choose("+5511999990001", attempt).name for attempt in range(30)}) > 1
    fixed = PersonaChooser.default()
    assert len({fixed.choose("+5511999990001", attempt).name for attempt in range(30)}) == 1


def _second_factor_questions(language: str) -> dict[str, str]:
    """The second-factor questions as the voice flow asks them, from its prompt file."""
    book = yaml.safe_load((PROMPTS_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
    prompts = book["prompts"]
    questions = {"birth_year": prompts["second_factor_birth_year"]}
    for kind, name in book["document_names"].items():
        questions[kind] = prompts["second_factor_document_digits"].format(document_name=name)
    return questions


@pytest.mark.parametrize("language", ["pt-BR", "en-US"])
@pytest.mark.parametrize(
    "name", ["asks_sms", "asks_callback", "asks_agent", "speaks_objection", "speaks_objection_en"]
)
def test_personas_who_confirm_their_name_type_their_own_second_factor(
    name: str, language: str
) -> None:
    debtor = person_facts(birth_date=date(1972, 3, 9), document="529.982.247-25")
    persona = load_personas()[name].with_facts(debtor)
    questions = _second_factor_questions(language)
    assert persona.keys_for_gather(1, [questions["birth_year"]]) == ("1972", False)
    assert persona.keys_for_gather(1, [questions["cpf"]]) == ("529", False)
    assert persona.keys_for_gather(1, [questions["ssn"]]) == ("529", False)


@pytest.mark.parametrize("language", ["pt-BR", "en-US"])
def test_a_persona_who_does_not_know_types_a_wrong_second_factor(language: str) -> None:
    debtor = person_facts(birth_date=date(1972, 3, 9), document="52998224725")
    persona = load_personas()["fails_second_factor"].with_facts(debtor)
    questions = _second_factor_questions(language)
    birth_year, _ = persona.keys_for_gather(1, [questions["birth_year"]])
    document, _ = persona.keys_for_gather(1, [questions["cpf"]])
    assert birth_year not in ("", "1972") and document not in ("", "529")


def test_the_called_persons_facts_replace_the_personas_own() -> None:
    persona = Persona(
        name="p",
        keys=("1", "{birth_year}#"),
        answers=(("year you were born", "{birth_year}"), ("first three", "{document_first_3}")),
        facts=(("birth_year", "1985"),),
    )
    assert persona.keys_for_gather(0, ["Please type the year you were born"])[0] == "1985"
    assert persona.keys_for_gather(0, ["the first three digits"])[0] == ""  # not known
    called = persona.with_facts(person_facts(birth_date=date(2001, 1, 2), document=None))
    assert called.keys_for_gather(0, ["Please type the year you were born"])[0] == "2001"
    assert called.keys_for_gather(1, ["Menu"]) == ("2001#", True)
    nobody = persona.with_facts({})
    assert nobody.keys_for_gather(0, ["Please type the year you were born"])[0] == ""
    assert persona.facts == (("birth_year", "1985"),)  # a copy: the shared persona is unchanged


def test_person_facts_leave_out_what_is_not_on_record() -> None:
    assert person_facts(birth_date=date(1958, 12, 31), document="123-45-6789") == {
        "birth_year": "1958",
        "document_first_3": "123",
    }
    assert person_facts(birth_date=None, document="12") == {}


def test_the_chooser_gives_each_persona_the_facts_of_who_is_called() -> None:
    called = {"+5511999990001": {"birth_year": "1972", "document_first_3": "529"}}
    chooser = PersonaChooser.default(
        explicit={"+5511999990001": "asks_sms", "+5511999990002": "asks_sms"},
        facts_for=called.get,
    )
    asked = ["digite os quatro números do ano em que você nasceu"]
    assert chooser.choose("+5511999990001").keys_for_gather(1, asked)[0] == "1972"
    # Nobody said who answers here: the persona's own facts.
    assert chooser.choose("+5511999990002").keys_for_gather(1, asked)[0] == "1985"
    assert chooser.choose("+5511999990002") is chooser.get("asks_sms")


def test_persona_facts_and_placeholders_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text('answers:\n  "year you were born": "{birth_yaer}"\n')
    with pytest.raises(PersonaError, match=r"unknown fact \{birth_yaer\}.*\{birth_year\}"):
        load_persona(bad)
    bad.write_text('keys: ["{birth_year"]\n')
    with pytest.raises(PersonaError, match="unmatched brace"):
        load_persona(bad)
    bad.write_text("facts:\n  shoe_size: '42'\n")
    with pytest.raises(PersonaError, match="unknown fact 'shoe_size'.*birth_year"):
        load_persona(bad)
    bad.write_text("facts:\n  birth_year: nineteen\n")
    with pytest.raises(PersonaError, match="birth_year must be digits"):
        load_persona(bad)
    with pytest.raises(PersonaError, match="unknown fact 'cpf'"):
        Persona(name="p").with_facts({"cpf": "529"})
