"""Persona files and how personas are chosen for called numbers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ivr.telephony.emulator import Persona, PersonaChooser, PersonaError, load_personas
from ivr.telephony.emulator.personas import PERSONA_DIR, load_persona

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
