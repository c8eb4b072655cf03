"""The console's words live in per-language catalogs that must say the same things."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from agent_console import i18n
from agent_console.actions import disposition_codes
from agent_console.campaign_settings import SECOND_FACTORS
from agent_console.playbooks import load_playbook
from ivr.compliance.presets import WEEKDAYS
from ivr.models import DebtStatus

CONSOLE = Path(i18n.__file__).parent
LITERAL_KEY = re.compile(r"""\bt(?:_or)?\(\s*['"]([a-z_]+(?:\.[A-Za-z0-9_-]+)+)['"]\s*[,)]""")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_the_same_keys() -> None:
    pt, en = i18n.catalog("pt-BR"), i18n.catalog("en-US")
    assert sorted(set(pt) - set(en)) == []
    assert sorted(set(en) - set(pt)) == []


def test_both_catalogs_use_the_same_placeholders() -> None:
    pt, en = i18n.catalog("pt-BR"), i18n.catalog("en-US")
    different = {
        key: (placeholders(pt[key]), placeholders(en[key]))
        for key in pt
        if placeholders(pt[key]) != placeholders(en[key])
    }
    assert different == {}


def test_no_catalog_text_is_empty() -> None:
    for language in i18n.LANGUAGES:
        assert [k for k, v in i18n.catalog(language).items() if not v.strip()] == []


def test_every_key_written_in_templates_and_code_exists() -> None:
    sources = list((CONSOLE / "templates").rglob("*.html")) + list(CONSOLE.glob("*.py"))
    used = set()
    for path in sources:
        used |= set(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    catalog = i18n.catalog("en-US")
    assert len(used) > 150
    assert sorted(key for key in used if key not in catalog) == []


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_code_the_console_shows_has_words(language: str) -> None:
    catalog = i18n.catalog(language)
    wanted = (
        [f"disposition.{code}" for code in disposition_codes()]
        + [f"debt_status.{status.value}" for status in DebtStatus]
        + [f"second_factor.{factor}" for factor in SECOND_FACTORS]
        + [f"weekday.{day}" for day in WEEKDAYS]
        + [f"weekday_short.{day}" for day in WEEKDAYS]
        + [f"language_name.{code}" for code in i18n.LANGUAGES]
        + [f"role.{role}" for role in ("agent", "supervisor")]
        + [
            f"field.{name}"
            for name in (
                "caller_id",
                "down_payment",
                "installments",
                "first_payment",
                "late_fee_rate",
                "due_at",
                "phone",
                "debt",
                "note",
                "channels",
            )
        ]
    )
    assert [key for key in wanted if key not in catalog] == []


def test_unknown_key_shows_the_key_rather_than_failing() -> None:
    assert i18n.translate("en-US", "no.such.key") == "no.such.key"
    assert i18n.translate("xx-XX", "nav.queue") == "Fila"  # unsupported language: the default


def test_money_and_dates_follow_the_language() -> None:
    from datetime import date
    from decimal import Decimal

    assert i18n.money(Decimal("1260.5"), "BRL", "pt-BR") == "R$\xa01.260,50"
    assert i18n.money(Decimal("1260.5"), "USD", "en-US") == "$1,260.50"
    assert i18n.local_date(date(2026, 12, 1), "pt-BR") == "01/12/2026"
    assert i18n.local_date(date(2026, 12, 1), "en-US") == "12/1/26"


def test_playbooks_exist_for_every_language_with_the_same_objections() -> None:
    keys = {
        language: [o.key for o in load_playbook(language).objections] for language in i18n.LANGUAGES
    }
    assert keys["pt-BR"] == keys["en-US"]


def test_every_string_the_page_script_says_exists() -> None:
    script = (CONSOLE / "static" / "console.js").read_text(encoding="utf-8")
    used = set(re.findall(r"""\bsay\(\s*["']([a-z_]+)["']""", script))
    assert {"pop_announce", "taken_by", "reveal_failed"} <= used
    assert sorted(key for key in used if f"js.{key}" not in i18n.catalog("en-US")) == []
