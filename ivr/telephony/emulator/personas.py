"""Scripted callees ("personas") of the local carrier emulator, and how one is
chosen for each called number.

A persona is a small YAML file in ``ivr/telephony/personas/``; its name is the
file name without ``.yaml``. Every field is optional:

``description``
    One line for people reading reports.
``language``
    ``pt-BR`` (default) or ``en-US``: the voice used to render ``speech``.
``answer``
    ``human`` (default), ``machine`` (voicemail), ``fax``, ``busy``,
    ``no_answer`` or ``failed``.
``ring_seconds``
    Seconds of ringing before answering (default 5). A value at or above the
    call's ``Timeout`` means no answer.
``amd_seconds``
    Seconds Answering Machine Detection takes before the call's Url is fetched
    (default 2.5 for a human, 4 for a machine).
``amd_result``
    Override what AMD reports (``human``, ``machine_start``, ``fax``,
    ``unknown``), e.g. to model a misdetection.
``keys``
    What is pressed at each successive ``<Gather>``: a list of strings, one
    per Gather, each one or more keys (``"1"``, ``"1985"``, ``"12#"``); ``""``
    means silence. When the list is exhausted the persona stays silent.
``answers``
    Mapping of a phrase (case-insensitive substring of what was said or played
    since the previous Gather) to the keys pressed when it is heard; checked
    before ``keys`` and does not consume an entry of ``keys``. Used for second
    factors, e.g. ``"year you were born": "{birth_year}"``.
``facts``
    What the person who answers knows about themselves, by name:
    ``birth_year`` (four digits) and ``document_first_3`` (the first three
    digits of their CPF or SSN). Keys in ``keys`` and ``answers`` may say
    ``{birth_year}`` or ``{document_first_3}`` to type them; a fact nobody
    gave is not known, and its keys are silence. These are the persona's own
    when whoever assigns it to a number does not say who is reached there;
    ``Persona.with_facts`` (or ``PersonaChooser(facts_for=...)``) puts the
    called person's facts in their place, the way a debtor knows their own
    birth year. A persona that types a literal instead plays someone who
    does not know.
``key_delay_seconds``
    Seconds between the end of a Gather's prompts and the first key (default 1.5).
``hang_up_after_seconds``
    Hang up this many seconds after answering.
``hang_up_on_hearing``
    Hang up halfway through a prompt that contains this phrase.
``queue_patience_seconds``
    Seconds the persona waits in an ``<Enqueue>`` queue before hanging up
    (default 120).
``speech``
    A sentence the persona says: sent as audio into a ``<Start><Stream>``
    media stream, and recorded by ``<Record>``.
``speech_delay_seconds``
    Seconds after a stream starts before the sentence is spoken (default 1).
``weight``
    Relative share of this persona in the weighted distribution used for
    demos and simulations (default 1; 0 keeps it out).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

PERSONA_DIR = Path(__file__).resolve().parent.parent / "personas"

ANSWER_KINDS = ("human", "machine", "fax", "busy", "no_answer", "failed")

# What a person may be asked to type about themselves (a right-party check's second factor).
FACT_NAMES = ("birth_year", "document_first_3")
_FACT_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class PersonaError(ValueError):
    """A persona file or choice cannot be used."""


def person_facts(*, birth_date: date | None, document: str | None) -> dict[str, str]:
    """The facts (see ``FACT_NAMES``) of a person with this birth date and document
    (CPF or SSN, punctuated or not); what is missing is left out, as not known."""
    facts: dict[str, str] = {}
    if birth_date is not None:
        facts["birth_year"] = f"{birth_date.year:04d}"
    digits = "".join(ch for ch in document or "" if ch.isdigit())
    if len(digits) >= 3:
        facts["document_first_3"] = digits[:3]
    return facts


def _check_facts(persona: str, facts: Iterable[tuple[str, str]]) -> None:
    for name, value in facts:
        if name not in FACT_NAMES:
            raise PersonaError(
                f"persona {persona!r}: unknown fact {name!r}; expected some of {', '.join(FACT_NAMES)}"
            )
        if not value.isdigit():
            raise PersonaError(f"persona {persona!r}: fact {name} must be digits, not {value!r}")


def _check_placeholders(persona: str, keys: str) -> None:
    for name in _FACT_PLACEHOLDER.findall(keys):
        if name not in FACT_NAMES:
            raise PersonaError(
                f"persona {persona!r}: keys {keys!r} name an unknown fact {{{name}}}; "
                f"expected {', '.join('{' + n + '}' for n in FACT_NAMES)}"
            )
    rest = _FACT_PLACEHOLDER.sub("", keys)
    if "{" in rest or "}" in rest:
        raise PersonaError(f"persona {persona!r}: keys {keys!r} have an unmatched brace")


@dataclass(frozen=True)
class Persona:
    name: str
    description: str = ""
    language: str = "pt-BR"
    answer: str = "human"
    ring_seconds: float = 5.0
    amd_seconds: float | None = None
    amd_result: str | None = None
    keys: tuple[str, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()
    key_delay_seconds: float = 1.5
    hang_up_after_seconds: float | None = None
    hang_up_on_hearing: str | None = None
    queue_patience_seconds: float = 120.0
    speech: str | None = None
    speech_delay_seconds: float = 1.0
    weight: float = 1.0
    facts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.answer not in ANSWER_KINDS:
            raise PersonaError(
                f"persona {self.name!r}: answer {self.answer!r} is not one of {', '.join(ANSWER_KINDS)}"
            )
        if self.ring_seconds < 0 or self.key_delay_seconds < 0:
            raise PersonaError(f"persona {self.name!r}: durations must not be negative")
        for keys in (*self.keys, *(k for _, k in self.answers)):
            _check_placeholders(self.name, keys)
        _check_facts(self.name, self.facts)

    def with_facts(self, facts: Mapping[str, str]) -> Persona:
        """This persona played by the person these facts describe (the debtor called):
        they replace the persona's own, and a fact not given is not known."""
        return replace(self, facts=tuple(sorted((str(n), str(v)) for n, v in facts.items())))

    @property
    def answers_call(self) -> bool:
        return self.answer in ("human", "machine", "fax")

    def detection_seconds(self) -> float:
        if self.amd_seconds is not None:
            return self.amd_seconds
        return 2.5 if self.answer == "human" else 4.0

    def answered_by(self, machine_detection: str) -> str:
        """What Twilio's AnsweredBy would say for this persona."""
        if self.amd_result:
            return self.amd_result
        if self.answer == "human":
            return "human"
        if self.answer == "fax":
            return "fax"
        return "machine_end_beep" if machine_detection == "DetectMessageEnd" else "machine_start"

    def keys_for_gather(self, index: int, heard: Iterable[str]) -> tuple[str, bool]:
        """Keys pressed at the Gather number `index` (0-based) after hearing `heard`.

        Returns (keys, consumed): consumed is False when an `answers` phrase matched,
        so the scripted list does not advance."""
        text = " ".join(heard).casefold()
        for phrase, keys in self.answers:
            if phrase.casefold() in text:
                return self._typed(keys), False
        if index < len(self.keys):
            return self._typed(self.keys[index]), True
        return "", True

    def _typed(self, keys: str) -> str:
        """`keys` with each {fact} replaced by what this person knows: a fact they do not
        know leaves them silent."""
        if not _FACT_PLACEHOLDER.search(keys):
            return keys
        known = dict(self.facts)
        if any(name not in known for name in _FACT_PLACEHOLDER.findall(keys)):
            return ""
        return _FACT_PLACEHOLDER.sub(lambda match: known[match[1]], keys)

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> Persona:
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = set(data) - known
        if unknown:
            raise PersonaError(
                f"persona {name!r}: unknown field(s) {', '.join(sorted(unknown))}; "
                f"expected some of {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = dict(data)
        keys = values.get("keys") or []
        if not isinstance(keys, list):
            raise PersonaError(f"persona {name!r}: keys must be a list of strings")
        values["keys"] = tuple("" if k is None else str(k) for k in keys)
        answers = values.get("answers") or {}
        if not isinstance(answers, Mapping):
            raise PersonaError(f"persona {name!r}: answers must map a phrase to keys")
        values["answers"] = tuple((str(p), str(k)) for p, k in answers.items())
        facts = values.get("facts") or {}
        if not isinstance(facts, Mapping):
            raise PersonaError(f"persona {name!r}: facts must map a fact's name to its digits")
        values["facts"] = tuple(sorted((str(n), str(v)) for n, v in facts.items()))
        try:
            return cls(name=name, **values)
        except TypeError as exc:
            raise PersonaError(f"persona {name!r}: {exc}") from None


def load_persona(path: Path) -> Persona:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, Mapping):
        raise PersonaError(f"persona file {path} must hold a mapping of fields")
    return Persona.from_mapping(path.stem, data)


def load_personas(directory: Path = PERSONA_DIR) -> dict[str, Persona]:
    """Every persona in `directory`, by name."""
    personas = {p.stem: load_persona(p) for p in sorted(directory.glob("*.yaml"))}
    if not personas:
        raise PersonaError(f"no persona files (*.yaml) in {directory}")
    return personas


@dataclass(frozen=True)
class AgentSimulation:
    """How the far end of a `<Dial>` (an agent's phone, SIP address or browser) behaves."""

    outcome: str = "answer"  # answer | no-answer | busy | failed
    answer_after_seconds: float = 3.0
    talk_seconds: float = 45.0

    def __post_init__(self) -> None:
        if self.outcome not in ("answer", "no-answer", "busy", "failed"):
            raise PersonaError(
                f"agent outcome {self.outcome!r} is not answer, no-answer, busy or failed"
            )


@dataclass
class PersonaChooser:
    """Chooses the persona that answers each called number.

    An explicit mapping (number -> persona or persona name) wins; any other
    number gets a persona drawn from the weighted distribution by a hash of
    (seed, number[, attempt]) -- deterministic, so a simulation is repeatable.

    `facts_for`, when given, says who is reached at a number: the facts (see
    ``person_facts``) of the person the call is for, or None when it cannot
    say. Whoever places the calls knows that; the emulator asks for nothing
    else, so a persona answers a second factor as the debtor would."""

    personas: dict[str, Persona]
    explicit: dict[str, Persona | str] = field(default_factory=dict)
    seed: str = "cordial"
    vary_by_attempt: bool = False
    weights: dict[str, float] | None = None
    facts_for: Callable[[str], Mapping[str, str] | None] | None = None

    @classmethod
    def default(
        cls, explicit: Mapping[str, Persona | str] | None = None, **kwargs: Any
    ) -> PersonaChooser:
        return cls(personas=load_personas(), explicit=dict(explicit or {}), **kwargs)

    def __post_init__(self) -> None:
        for number, choice in self.explicit.items():
            self._resolve(choice, number)
        if self.weights is not None:
            for name in self.weights:
                self._resolve(name, "weights")
        self._weighted = self._distribution()
        if not self._weighted:
            raise PersonaError("no persona has a positive weight")
        self._total_weight = sum(w for _, w in self._weighted)

    def assign(self, number: str, persona: Persona | str) -> None:
        self._resolve(persona, number)
        self.explicit[number] = persona

    def get(self, name: str) -> Persona:
        return self._resolve(name, name)

    def choose(self, number: str, attempt: int = 0) -> Persona:
        """The persona answering `number` on its `attempt`-th call (0-based)."""
        persona = self._draw(number, attempt)
        facts = self.facts_for(number) if self.facts_for is not None else None
        return persona if facts is None else persona.with_facts(facts)

    def _draw(self, number: str, attempt: int) -> Persona:
        if number in self.explicit:
            return self._resolve(self.explicit[number], number)
        key = f"{self.seed}|{number}|{attempt if self.vary_by_attempt else 0}"
        draw = (
            int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
            / 2**64
            * self._total_weight
        )
        for persona, weight in self._weighted:
            draw -= weight
            if draw < 0:
                return persona
        return self._weighted[-1][0]

    def _distribution(self) -> list[tuple[Persona, float]]:
        weights = self.weights or {name: p.weight for name, p in self.personas.items()}
        return [(self.personas[n], float(w)) for n, w in sorted(weights.items()) if w > 0]

    def _resolve(self, choice: Persona | str, context: str) -> Persona:
        if isinstance(choice, Persona):
            return choice
        try:
            return self.personas[choice]
        except KeyError:
            raise PersonaError(
                f"unknown persona {choice!r} for {context}; known: {', '.join(sorted(self.personas))}"
            ) from None
