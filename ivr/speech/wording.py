"""How people say amounts, dates and times aloud, in pt-BR and en-US.

Pure functions from plain values to the words a text-to-speech engine reads,
so a prompt says "mil duzentos e trinta e quatro reais" instead of letting
the engine guess how to read "R$ 1.234,00". Number words are num2words' with
its quirks fixed (no commas between groups, no British "and" inside American
numbers, the Brazilian "quatorze"), spelled the same by ivr.speech.number_words,
which is ten times faster: a webhook says every debtor's own amount. Hours are
feminine in pt-BR ("uma hora", "duas horas"), and a round million takes "de"
("dois milhões de reais").
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from decimal import Decimal

from babel.dates import format_date
from num2words import num2words

from ivr.speech.languages import require_language
from ivr.speech.number_words import SPELLED_BELOW, spell_number

# Currency nouns per (currency, language): singular and plural unit, then cent.
_CURRENCY_NOUNS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("BRL", "pt-BR"): ("real", "reais", "centavo", "centavos"),
    ("USD", "pt-BR"): ("dólar", "dólares", "centavo", "centavos"),
    ("BRL", "en-US"): ("real", "reais", "centavo", "centavos"),
    ("USD", "en-US"): ("dollar", "dollars", "cent", "cents"),
}
CURRENCIES: tuple[str, ...] = ("BRL", "USD")

_BABEL_LOCALE = {"pt-BR": "pt_BR", "en-US": "en_US"}
_AND = {"pt-BR": " e ", "en-US": " and "}


def number_words(n: int, language: str) -> str:
    """A whole number, zero or more, as it is said: 1234 → "mil duzentos e trinta e quatro"."""
    require_language(language)
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number {n!r} is not a whole number")
    if n < 0:
        raise ValueError(f"number {n} is negative; only zero or more can be spoken")
    return _number_words(n, language)


def _number_words(n: int, language: str) -> str:
    if n < SPELLED_BELOW:
        return spell_number(n, language)  # the same words, a tenth of the time
    return _num2words_corrected(n, language)


@functools.lru_cache(maxsize=256)
def _num2words_corrected(n: int, language: str) -> str:
    """num2words' words for `n`, corrected as Brazilians and Americans say them."""
    if language == "pt-BR":
        words = num2words(n, lang="pt_BR").replace(",", " ")
        # num2words follows Portugal here; Brazilians say and write "quatorze".
        words = re.sub(r"\bcatorze\b", "quatorze", words)
    else:
        # num2words speaks British English: "one hundred and one", with commas.
        words = num2words(n, lang="en").replace(",", " ")
        words = re.sub(r"\band\b", " ", words)
    return " ".join(words.split())


def spoken_amount(amount: Decimal, currency: str, language: str) -> str:
    """An amount of money as it is said, e.g. Decimal("1234.56"), "BRL", "pt-BR" →
    "mil duzentos e trinta e quatro reais e cinquenta e seis centavos".

    Zero is "zero reais" / "zero dollars"; less than one unit is said in cents
    only ("um centavo"). Negative amounts, fractions of a cent and floats are
    refused: an amount read to a debtor must be exact.
    """
    require_language(language)
    nouns = _CURRENCY_NOUNS.get((currency, language))
    if nouns is None:
        raise ValueError(
            f"currency {currency!r} is not supported; expected one of {', '.join(CURRENCIES)}"
        )
    unit_one, unit_many, cent_one, cent_many = nouns
    units, cents = divmod(_whole_cents(amount), 100)

    parts: list[str] = []
    if units or not cents:
        noun = unit_one if units == 1 else unit_many
        if language == "pt-BR" and units and units % 1_000_000 == 0:
            # "um milhão de reais", "dois bilhões de reais": a round million takes "de".
            noun = f"de {noun}"
        parts.append(f"{number_words(units, language)} {noun}")
    if cents:
        parts.append(f"{number_words(cents, language)} {cent_one if cents == 1 else cent_many}")
    return _AND[language].join(parts)


@functools.lru_cache(maxsize=4096)
def spoken_date(
    d: date, language: str, *, with_weekday: bool = False, with_year: bool = False
) -> str:
    """A calendar date as it is said: "vinte e quatro de novembro", "primeiro de dezembro",
    "November twenty-fourth"; optionally led by the weekday and followed by the year."""
    require_language(language)
    locale = _BABEL_LOCALE[language]
    month = format_date(d, "MMMM", locale=locale)
    if language == "pt-BR":
        day = "primeiro" if d.day == 1 else number_words(d.day, language)
        words = f"{day} de {month}"
        if with_year:
            words += f" de {number_words(d.year, language)}"
    else:
        words = f"{month} {num2words(d.day, lang='en', to='ordinal')}"
        if with_year:
            year = re.sub(r"\band\b", " ", num2words(d.year, lang="en", to="year"))
            words += f", {' '.join(year.split())}"
    if with_weekday:
        words = f"{format_date(d, 'EEEE', locale=locale)}, {words}"
    return words


def spoken_time(t: time, language: str) -> str:
    """A time of day, unambiguous without context.

    pt-BR uses the 24-hour clock as Brazilians do in formal speech:
    "quatorze horas e trinta minutos", "uma hora", "meio-dia", "meia-noite e dez
    minutos". en-US uses the 12-hour clock with AM/PM: "two thirty PM",
    "nine oh five AM", "noon", "midnight". Seconds are not said.
    """
    require_language(language)
    hour, minute = t.hour, t.minute
    if language == "pt-BR":
        if hour == 12:
            words = "meio-dia"
        elif hour == 0:
            words = "meia-noite"
        else:
            words = f"{_feminine(number_words(hour, language))} {'hora' if hour == 1 else 'horas'}"
        if minute:
            words += f" e {number_words(minute, language)} {'minuto' if minute == 1 else 'minutos'}"
        return words
    if minute == 0 and hour in (0, 12):
        return "noon" if hour == 12 else "midnight"
    words = number_words(hour % 12 or 12, language)
    if minute:
        minutes = number_words(minute, language)
        words += f" oh {minutes}" if minute < 10 else f" {minutes}"
    return f"{words} {'AM' if hour < 12 else 'PM'}"


def spoken_slot(instant_local: datetime, language: str, *, today: date | None = None) -> str:
    """A callback slot, weekday + date + time, already in the debtor's local time:
    "quarta-feira, vinte e cinco de novembro, às dez horas",
    "Wednesday, November twenty-fifth, at ten AM".

    When `today` (the debtor's local date) is given and the slot is today or
    tomorrow, that word leads: "amanhã, quarta-feira, …".
    """
    require_language(language)
    parts: list[str] = []
    if today is not None:
        relative = {0: ("hoje", "today"), 1: ("amanhã", "tomorrow")}.get(
            (instant_local.date() - today).days
        )
        if relative:
            parts.append(relative[0] if language == "pt-BR" else relative[1])
    parts.append(spoken_date(instant_local.date(), language, with_weekday=True))
    parts.append(_at_time(instant_local.time(), language))
    return ", ".join(parts)


def _at_time(t: time, language: str) -> str:
    """The time with its preposition: "às dez horas", "à uma hora", "ao meio-dia", "at noon"."""
    words = spoken_time(t, language)
    if language == "en-US":
        return f"at {words}"
    if t.hour == 12:
        return f"ao {words}"
    if t.hour in (0, 1):
        return f"à {words}"
    return f"às {words}"


def _feminine(words: str) -> str:
    """Hours are feminine in Portuguese: "uma hora", "vinte e duas horas"."""
    return re.sub(r"\bdois$", "duas", re.sub(r"\bum$", "uma", words))


def _whole_cents(amount: Decimal) -> int:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(
            f"amount {amount!r} must be a Decimal (or int), not {type(amount).__name__}; "
            "money is never a float"
        )
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"amount {amount} is not a finite number")
    if value < 0:
        raise ValueError(f"amount {amount} is negative; only zero or more can be spoken")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(
            f"amount {amount} has a fraction of a cent; round it to two decimal places first"
        )
    return int(cents)
