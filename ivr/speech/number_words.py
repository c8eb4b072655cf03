"""Whole numbers as they are said, in pt-BR and en-US, without num2words.

A voice webhook says every debtor's amount, and amounts rarely repeat, so a cache
does not help: num2words takes 25 µs (pt-BR) to 60 µs (en-US) per number, this
takes about 2. The words come from number_words.toml. The result is the same as
num2words' with Cordial's corrections (ivr.speech.wording): Brazilian "quatorze",
no commas, no British "and"; tests compare the two for every number up to a
million and for samples up to the trillions.

Brazilian Portuguese joins groups of three digits with "e" where num2words does:
before a group of at most 100 ("um milhão e noventa e um mil", "mil e cem"), and
before a last group of round hundreds below the millions ("mil e duzentos", "dois
milhões e quinhentos mil", but "três bilhões duzentos milhões").
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

_WORDS_FILE = Path(__file__).with_name("number_words.toml")


@dataclass(frozen=True)
class _Vocabulary:
    units: tuple[str, ...]
    tens: tuple[str, ...]
    hundreds: tuple[str, ...]
    exactly_one_hundred: str
    one_thousand: str
    scales: tuple[tuple[str, str], ...]
    conjunction: str  # "e" after hundreds and between some groups; "" in en-US
    tens_then_units: str


def _load() -> dict[str, _Vocabulary]:
    with _WORDS_FILE.open("rb") as f:
        data = tomllib.load(f)
    return {
        language: _Vocabulary(
            tuple(words["units"]),
            tuple(words["tens"]),
            tuple(words["hundreds"]),
            words["exactly_one_hundred"],
            words["one_thousand"],
            tuple((one, many) for one, many in words["scales"]),
            words["and"],
            words["tens_then_units"],
        )
        for language, words in data.items()
    }


_VOCABULARIES = _load()
# The file names scales up to the trillions: numbers below 10**15. Beyond, num2words
# joins the groups by rules of its own that nobody needs to owe money in.
SPELLED_BELOW = min(1000 ** (len(v.scales) + 1) for v in _VOCABULARIES.values())


def spell_number(n: int, language: str) -> str:
    """`n` (0 or more, below SPELLED_BELOW) in words: 1234 → "mil duzentos e trinta e quatro",
    "one thousand two hundred thirty-four". The caller checks the language."""
    words = _VOCABULARIES[language]
    if not 0 <= n < SPELLED_BELOW:
        raise ValueError(f"number {n} is out of range; expected 0 to {SPELLED_BELOW - 1}")
    if n < 1000:
        return _below_thousand(n, words) if n else words.units[0]
    groups = []  # (scale, value) of the nonzero groups of three digits, highest first
    scale = 0
    while n:
        n, value = divmod(n, 1000)
        if value:
            groups.append((scale, value))
        scale += 1
    groups.reverse()
    said: list[str] = []
    last = len(groups) - 1
    for index, (scale, value) in enumerate(groups):
        if (
            index
            and words.conjunction
            and (value <= 100 or (index == last and scale <= 1 and value % 100 == 0))
        ):
            said.append(words.conjunction)
        if scale == 0:
            said.append(_below_thousand(value, words))
        elif scale == 1 and value == 1:
            said.append(words.one_thousand)  # "mil", not "um mil"
        else:
            one, many = words.scales[scale - 1]
            said.append(f"{_below_thousand(value, words)} {one if value == 1 else many}")
    return " ".join(said)


def _below_thousand(n: int, words: _Vocabulary) -> str:
    if n == 100:
        return words.exactly_one_hundred
    hundreds, rest = divmod(n, 100)
    said = [words.hundreds[hundreds]] if hundreds else []
    if rest:
        if words.conjunction and hundreds:
            said.append(words.conjunction)
        if rest < 20:
            said.append(words.units[rest])
        else:
            tens, units = divmod(rest, 10)
            said.append(
                f"{words.tens[tens]}{words.tens_then_units}{words.units[units]}"
                if units
                else words.tens[tens]
            )
    return " ".join(said)


__all__ = ["SPELLED_BELOW", "spell_number"]
