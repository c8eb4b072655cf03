"""How the company presents itself on a call: its name, the neutral name a
voicemail uses, and the callback number read digit by digit."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import phonenumbers

from ivr.config import Config
from ivr.voice.prompt_catalog import PromptBook

# Words that say "debt collection" in a business name. A voicemail is a limited-content
# message (US-REGF-LCM) and may be heard by others (BR-CDC-42): it never says them.
_COLLECTION_WORDS = (
    "assessoria de cobranca",
    "recuperacao de credito",
    "recuperacao de creditos",
    "cobrancas",
    "cobranca",
    "cobradora",
    "recuperadora",
    "dividas",
    "divida",
    "debt collectors",
    "debt collector",
    "debt collection",
    "collections",
    "collection",
    "collectors",
    "collector",
    "debt recovery",
    "recovery",
    "debts",
    "debt",
)
_CONNECTORS = {"&", "-", "e", "and", "de", "da", "do", "of", "/", ",", "+"}


def _fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )


def _says_collection(parts: list[str]) -> bool:
    for phrase in _COLLECTION_WORDS:
        target = phrase.split()
        if any(parts[i : i + len(target)] == target for i in range(len(parts) - len(target) + 1)):
            return True
    return False


def neutral_company_name(company: str, fallback: str) -> str:
    """`company` without words that say debt collection ("Cordial Cobranças" -> "Cordial");
    `fallback` when nothing else is left."""
    words = company.split()
    folded = [_fold(w).strip(".,;:") for w in words]
    keep = [True] * len(words)
    for phrase in _COLLECTION_WORDS:
        target = phrase.split()
        for i in range(len(words) - len(target) + 1):
            if folded[i : i + len(target)] == target:
                for j in range(i, i + len(target)):
                    keep[j] = False
    # A word joined from several ("Debt-Collection", "Cobrança/Recuperação") goes when its
    # parts say it.
    for i, word in enumerate(folded):
        parts = [part for part in re.split(r"[^0-9a-z]+", word) if part]
        if keep[i] and len(parts) > 1 and _says_collection(parts):
            keep[i] = False
    # A connector left beside a removed word ("Silva & [Cobrança] Ltda") goes too.
    for i, word in enumerate(folded):
        beside_removed = (i > 0 and not keep[i - 1]) or (i + 1 < len(words) and not keep[i + 1])
        if word in _CONNECTORS and beside_removed:
            keep[i] = False
    kept = [w for w, k in zip(words, keep, strict=True) if k]
    while kept and _fold(kept[-1]) in _CONNECTORS:
        kept.pop()
    while kept and _fold(kept[0]) in _CONNECTORS:
        kept.pop(0)
    return " ".join(kept) or fallback


def spoken_phone_number(number: str, region: str = "BR") -> str:
    """A phone number as digits to read one by one, grouped as people write it nationally:
    "+551140000000" -> "1 1, 4 0 0 0, 0 0 0 0"."""
    try:
        parsed = phonenumbers.parse(number, region)
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        national = number
    groups = [g for g in re.split(r"\D+", national) if g]
    return ", ".join(" ".join(group) for group in groups)


@functools.lru_cache(maxsize=16)
def _common(
    company: str, callback_number: str, region: str, contact_person: str, fallback: str
) -> dict[str, Any]:
    return {
        "company": company,
        "neutral_company": neutral_company_name(company, fallback),
        "callback_number": spoken_phone_number(callback_number, region),
        "contact_person": contact_person,
    }


def common_prompt_params(config: Config, book: PromptBook) -> dict[str, Any]:
    """Placeholders every prompt may use: {company}, {neutral_company}, {callback_number},
    {contact_person}. Computed once per process and language."""
    return _common(
        config.get("CORDIAL_COMPANY_NAME"),
        config.get("CORDIAL_CALLBACK_NUMBER"),
        config.get("CORDIAL_DEFAULT_REGION"),
        book.contact_person,
        book.neutral_company_fallback,
    )


__all__ = ["common_prompt_params", "neutral_company_name", "spoken_phone_number"]
