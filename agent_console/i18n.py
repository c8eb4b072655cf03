"""The console's words: one catalog per language (i18n/<language>.yaml), looked up
by dotted key, plus number, money and date formatting in the reader's language.

A key missing from a catalog is a bug the parity test catches; at run time it
shows the key itself rather than failing the page.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

CATALOG_DIR = Path(__file__).with_name("i18n")
LANGUAGES: tuple[str, ...] = ("pt-BR", "en-US")
DEFAULT_LANGUAGE = "pt-BR"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = str(value)
    return flat


@lru_cache(maxsize=len(LANGUAGES))
def catalog(language: str) -> dict[str, str]:
    """Every string of `language`, by dotted key."""
    if language not in LANGUAGES:
        raise ValueError(
            f"language {language!r} is not supported; expected one of {', '.join(LANGUAGES)}"
        )
    raw = yaml.safe_load((CATALOG_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
    return flatten(raw)


def supported(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def translate(language: str, key: str, **values: Any) -> str:
    text = catalog(supported(language)).get(key)
    if text is None:
        return key
    return text.format(**values) if values else text


def subset(language: str, prefix: str) -> dict[str, str]:
    """The strings under `prefix` (for the page's JavaScript), keys without it."""
    start = prefix + "."
    return {
        k[len(start) :]: v for k, v in catalog(supported(language)).items() if k.startswith(start)
    }


def _locale(language: str) -> str:
    return supported(language).replace("-", "_")


def money(amount: Decimal | None, currency: str, language: str) -> str:
    if amount is None:
        return ""
    return format_currency(amount, currency, locale=_locale(language))


def number(value: Decimal | float | int, language: str) -> str:
    return format_decimal(value, locale=_locale(language))


def percent(rate: Decimal | float, language: str, digits: int = 1) -> str:
    pattern = "#,##0." + "0" * digits + " %" if digits else "#,##0 %"
    return format_percent(rate, format=pattern, locale=_locale(language))


def local_datetime(instant: datetime | None, zone_key: str, language: str) -> str:
    if instant is None:
        return ""
    return format_datetime(
        instant, format="short", tzinfo=ZoneInfo(zone_key), locale=_locale(language)
    )


def local_date(day: date | None, language: str) -> str:
    if day is None:
        return ""
    return format_date(day, format="short", locale=_locale(language))


__all__ = [
    "LANGUAGES",
    "catalog",
    "flatten",
    "local_date",
    "local_datetime",
    "money",
    "number",
    "percent",
    "subset",
    "supported",
    "translate",
]
