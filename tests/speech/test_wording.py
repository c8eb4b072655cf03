"""Amounts, dates and times are said the way people say them, in pt-BR and en-US."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.speech.wording import number_words, spoken_amount, spoken_date, spoken_slot, spoken_time

BRL_IN_PORTUGUESE = [
    ("0", "zero reais"),
    ("0.00", "zero reais"),
    ("0.01", "um centavo"),
    ("0.02", "dois centavos"),
    ("0.50", "cinquenta centavos"),
    ("1", "um real"),
    ("1.00", "um real"),
    ("1.01", "um real e um centavo"),
    ("2", "dois reais"),
    ("14", "quatorze reais"),
    ("21.21", "vinte e um reais e vinte e um centavos"),
    ("100", "cem reais"),
    ("101", "cento e um reais"),
    ("120.50", "cento e vinte reais e cinquenta centavos"),
    ("1000", "mil reais"),
    ("1001", "mil e um reais"),
    ("1100", "mil e cem reais"),
    ("1234.56", "mil duzentos e trinta e quatro reais e cinquenta e seis centavos"),
    ("2000", "dois mil reais"),
    ("21000", "vinte e um mil reais"),
    ("100000", "cem mil reais"),
    ("1000000", "um milhão de reais"),
    ("2000000", "dois milhões de reais"),
    ("2000000.10", "dois milhões de reais e dez centavos"),
    ("1500000", "um milhão e quinhentos mil reais"),
    (
        "1234567.89",
        "um milhão duzentos e trinta e quatro mil quinhentos e sessenta e sete reais "
        "e oitenta e nove centavos",
    ),
    ("1000000000", "um bilhão de reais"),
]

USD_IN_ENGLISH = [
    ("0", "zero dollars"),
    ("0.01", "one cent"),
    ("0.99", "ninety-nine cents"),
    ("1", "one dollar"),
    ("1.01", "one dollar and one cent"),
    ("2.00", "two dollars"),
    ("101", "one hundred one dollars"),
    ("1234.56", "one thousand two hundred thirty-four dollars and fifty-six cents"),
    ("2000000", "two million dollars"),
    ("1500000.50", "one million five hundred thousand dollars and fifty cents"),
    (
        "999999.99",
        "nine hundred ninety-nine thousand nine hundred ninety-nine dollars and ninety-nine cents",
    ),
]


@pytest.mark.parametrize(("amount", "words"), BRL_IN_PORTUGUESE)
def test_reais_are_said_as_brazilians_say_them(amount: str, words: str) -> None:
    assert spoken_amount(Decimal(amount), "BRL", "pt-BR") == words


@pytest.mark.parametrize(("amount", "words"), USD_IN_ENGLISH)
def test_dollars_are_said_as_americans_say_them(amount: str, words: str) -> None:
    assert spoken_amount(Decimal(amount), "USD", "en-US") == words


def test_other_currency_in_each_language() -> None:
    assert spoken_amount(Decimal("1"), "USD", "pt-BR") == "um dólar"
    assert spoken_amount(Decimal("3000000"), "USD", "pt-BR") == "três milhões de dólares"
    assert spoken_amount(Decimal("2.01"), "BRL", "en-US") == "two reais and one centavo"


def test_whole_int_amounts_are_accepted() -> None:
    assert spoken_amount(5, "BRL", "pt-BR") == "cinco reais"


@pytest.mark.parametrize("amount", [Decimal("-0.01"), Decimal("-10")])
def test_negative_amount_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="negative"):
        spoken_amount(amount, "BRL", "pt-BR")


def test_fraction_of_a_cent_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction of a cent"):
        spoken_amount(Decimal("10.005"), "BRL", "pt-BR")


def test_float_amount_is_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        spoken_amount(10.5, "BRL", "pt-BR")  # type: ignore[arg-type]


def test_non_finite_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        spoken_amount(Decimal("NaN"), "USD", "en-US")


def test_unknown_currency_names_the_value_and_the_expected_ones() -> None:
    with pytest.raises(ValueError, match=r"'EUR'.*BRL, USD"):
        spoken_amount(Decimal("1"), "EUR", "pt-BR")


@pytest.mark.parametrize("language", ["pt", "pt-PT", "en", "es-ES", ""])
def test_unknown_language_names_the_value_and_the_expected_ones(language: str) -> None:
    pattern = re.escape(repr(language)) + r".*pt-BR, en-US"
    with pytest.raises(ValueError, match=pattern):
        spoken_amount(Decimal("1"), "BRL", language)
    with pytest.raises(ValueError, match=pattern):
        spoken_date(date(2026, 1, 1), language)
    with pytest.raises(ValueError, match=pattern):
        spoken_time(time(10), language)


@given(st.integers(min_value=0, max_value=10**12))
def test_every_amount_is_words_only(cents: int) -> None:
    amount = Decimal(cents) / 100
    units, rest = divmod(cents, 100)
    pt = spoken_amount(amount, "BRL", "pt-BR")
    en = spoken_amount(amount, "USD", "en-US")
    for words in (pt, en):
        assert not re.search(r"[\d,]|  ", words), words
    # Cents are said iff there are some; the unit is said unless there are only cents.
    assert ("centavo" in pt) == bool(rest)
    assert ("real" in pt or "reais" in pt) == (units > 0 or rest == 0)
    assert pt.endswith("de reais") == (units > 0 and units % 1_000_000 == 0 and rest == 0)
    # American numbers have no "and" inside: at most the one before the cents.
    assert en.count(" and ") == (1 if units and rest else 0)


@pytest.mark.parametrize(
    ("n", "pt", "en"),
    [
        (0, "zero", "zero"),
        (14, "quatorze", "fourteen"),
        (1100, "mil e cem", "one thousand one hundred"),
        (1_000_001, "um milhão e um", "one million one"),
    ],
)
def test_number_words(n: int, pt: str, en: str) -> None:
    assert number_words(n, "pt-BR") == pt
    assert number_words(n, "en-US") == en


@pytest.mark.parametrize(
    ("day", "pt", "en"),
    [
        (date(2026, 11, 24), "vinte e quatro de novembro", "November twenty-fourth"),
        (date(2026, 12, 1), "primeiro de dezembro", "December first"),
        (date(2027, 1, 2), "dois de janeiro", "January second"),
        (date(2026, 3, 21), "vinte e um de março", "March twenty-first"),
        (date(2026, 10, 31), "trinta e um de outubro", "October thirty-first"),
    ],
)
def test_dates(day: date, pt: str, en: str) -> None:
    assert spoken_date(day, "pt-BR") == pt
    assert spoken_date(day, "en-US") == en


def test_dates_with_weekday_and_year() -> None:
    day = date(2026, 12, 1)
    assert spoken_date(day, "pt-BR", with_weekday=True) == "terça-feira, primeiro de dezembro"
    assert spoken_date(day, "en-US", with_weekday=True) == "Tuesday, December first"
    assert (
        spoken_date(day, "pt-BR", with_year=True)
        == "primeiro de dezembro de dois mil e vinte e seis"
    )
    assert spoken_date(day, "en-US", with_year=True) == "December first, twenty twenty-six"


@pytest.mark.parametrize(
    ("clock", "pt", "en"),
    [
        (time(0, 0), "meia-noite", "midnight"),
        (time(0, 10), "meia-noite e dez minutos", "twelve ten AM"),
        (time(1, 0), "uma hora", "one AM"),
        (time(1, 1), "uma hora e um minuto", "one oh one AM"),
        (time(2, 0), "duas horas", "two AM"),
        (time(9, 5), "nove horas e cinco minutos", "nine oh five AM"),
        (time(10, 0), "dez horas", "ten AM"),
        (time(12, 0), "meio-dia", "noon"),
        (time(12, 30), "meio-dia e trinta minutos", "twelve thirty PM"),
        (time(14, 30), "quatorze horas e trinta minutos", "two thirty PM"),
        (time(21, 0), "vinte e uma horas", "nine PM"),
        (time(22, 45, 59), "vinte e duas horas e quarenta e cinco minutos", "ten forty-five PM"),
    ],
)
def test_times(clock: time, pt: str, en: str) -> None:
    assert spoken_time(clock, "pt-BR") == pt
    assert spoken_time(clock, "en-US") == en


def test_slot_is_weekday_date_and_time() -> None:
    slot = datetime(2026, 11, 25, 10, 0)
    assert spoken_slot(slot, "pt-BR") == "quarta-feira, vinte e cinco de novembro, às dez horas"
    assert spoken_slot(slot, "en-US") == "Wednesday, November twenty-fifth, at ten AM"


def test_slot_says_today_or_tomorrow_when_told_the_date() -> None:
    today = date(2026, 11, 24)
    assert spoken_slot(datetime(2026, 11, 25, 13, 0), "pt-BR", today=today) == (
        "amanhã, quarta-feira, vinte e cinco de novembro, às treze horas"
    )
    assert spoken_slot(datetime(2026, 11, 24, 12, 0), "en-US", today=today) == (
        "today, Tuesday, November twenty-fourth, at noon"
    )
    assert spoken_slot(datetime(2026, 11, 27, 9, 30), "en-US", today=today).startswith("Friday,")


@pytest.mark.parametrize(
    ("clock", "preposition"),
    [(time(12, 0), "ao meio-dia"), (time(1, 0), "à uma hora"), (time(0, 0), "à meia-noite")],
)
def test_slot_uses_the_right_portuguese_preposition(clock: time, preposition: str) -> None:
    slot = datetime.combine(date(2026, 11, 25), clock)
    assert spoken_slot(slot, "pt-BR").endswith(preposition)
