"""The speller says every number exactly as num2words (with Cordial's corrections) does."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ivr.speech.number_words import SPELLED_BELOW, spell_number
from ivr.speech.wording import _num2words_corrected, number_words

LANGUAGES = ("pt-BR", "en-US")

# Groups of three digits where the joining rules change: below and at 100, round
# hundreds, teens.
_EDGE_GROUPS = (0, 1, 2, 9, 10, 11, 14, 19, 20, 21, 99, 100, 101, 110, 119, 120, 200, 201, 300, 999)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_number_below_a_hundred_thousand_is_said_as_num2words_says_it(
    language: str,
) -> None:
    wrong = [
        (n, spell_number(n, language), _num2words_corrected.__wrapped__(n, language))
        for n in range(100_000)
        if spell_number(n, language) != _num2words_corrected.__wrapped__(n, language)
    ]
    assert wrong[:5] == []


@given(
    n=st.one_of(
        st.integers(min_value=0, max_value=10**7),
        st.integers(min_value=0, max_value=SPELLED_BELOW - 1),
        st.lists(st.sampled_from(_EDGE_GROUPS), min_size=5, max_size=5).map(
            lambda groups: sum(g * 1000**k for k, g in enumerate(groups))
        ),
    ),
    language=st.sampled_from(LANGUAGES),
)
@example(n=1_300_200, language="pt-BR")  # "um milhão trezentos mil e duzentos"
@example(n=3_200_000_000, language="pt-BR")  # "três bilhões duzentos milhões"
@example(n=1_091_206, language="pt-BR")  # "um milhão e noventa e um mil duzentos e seis"
def test_any_number_is_said_as_num2words_says_it(n: int, language: str) -> None:
    assert spell_number(n, language) == _num2words_corrected.__wrapped__(n, language)


@pytest.mark.parametrize(
    ("n", "pt", "en"),
    [
        (21, "vinte e um", "twenty-one"),
        (100, "cem", "one hundred"),
        (101, "cento e um", "one hundred one"),
        (1000, "mil", "one thousand"),
        (1200, "mil e duzentos", "one thousand two hundred"),
        (1234, "mil duzentos e trinta e quatro", "one thousand two hundred thirty-four"),
        (2_500_000, "dois milhões e quinhentos mil", "two million five hundred thousand"),
    ],
)
def test_numbers_as_people_say_them(n: int, pt: str, en: str) -> None:
    assert (spell_number(n, "pt-BR"), spell_number(n, "en-US")) == (pt, en)


def test_numbers_from_a_quadrillion_on_still_come_from_num2words() -> None:
    assert SPELLED_BELOW == 10**15
    for out_of_range in (SPELLED_BELOW, -1):
        with pytest.raises(ValueError, match="out of range"):
            spell_number(out_of_range, "pt-BR")
    assert number_words(SPELLED_BELOW, "pt-BR") == "um quatrilhão"
    assert number_words(2 * SPELLED_BELOW + 1, "en-US") == "two quadrillion one"
