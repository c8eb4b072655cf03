"""The exact sentences of the voice flow's prompt catalog that get audio, and when.

Ahead of any call (`cordial prompts render`, committed in `audio/`): every
prompt whose placeholders are the same on every call ({company},
{callback_number}, ...), and one sentence per value of a choice placeholder
("menu[channel=SMS]", "menu[channel=WhatsApp]"). At claim time
(`ivr.speech.call_audio`): the right-party check with the first name and the
disclosure with the spoken amount, due date and creditor. Never: callback
slots ("amanhã às nove e meia: tecle 1") depend on the instant the debtor
asks, so they are said with <Say> (see `ivr.voice.prompt_catalog.prompt_timing`).

The per-call texts here must be the ones the flow fills in
(`ivr.voice.flow.CallFlow._ask_right_party` and `_disclosure_lines`); a test
plays a whole call through the emulator to keep the two in step. A sentence
that differs is never wrong, only spoken with <Say>.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ivr.config import Config
from ivr.speech.manifest import PromptText
from ivr.speech.wording import spoken_amount, spoken_date
from ivr.voice.prompt_catalog import (
    AHEAD,
    CHOICE_PLACEHOLDERS,
    CHOICES,
    PER_CALL,
    PromptBook,
    PromptCatalog,
    prompt_timing,
)


@dataclass(frozen=True)
class CatalogTexts:
    """The catalog split by when its audio is made."""

    ahead: list[PromptText]  # rendered into audio/ (choices included, one per value)
    per_call: list[PromptText]  # templates, rendered when a call is claimed
    live: list[PromptText]  # templates said with <Say> (they depend on the instant)


def choice_values(book: PromptBook) -> dict[str, tuple[str, ...]]:
    """Every value a choice placeholder can take in `book`'s language."""
    from ivr.voice.flow import CHANNEL_NAMES  # the flow decides which channels exist

    values = {
        "channel": tuple(dict.fromkeys(CHANNEL_NAMES.values())),
        "document_name": tuple(dict.fromkeys(book.document_names.values())),
    }
    missing = CHOICE_PLACEHOLDERS - values.keys()
    if missing:
        raise ValueError(f"no values known for choice placeholders {sorted(missing)}")
    return values


def choice_key(key: str, chosen: Mapping[str, str]) -> str:
    """The manifest key of one choice of a prompt: "menu[channel=SMS]"."""
    return f"{key}[{','.join(f'{name}={value}' for name, value in sorted(chosen.items()))}]"


def catalog_texts(
    catalog: PromptCatalog, common_params: Mapping[str, Mapping[str, object]]
) -> CatalogTexts:
    """Split the catalog; `common_params` maps each language to the placeholders that are
    the same on every call ({company}, ...), as the flow fills them."""
    ahead: list[PromptText] = []
    per_call: list[PromptText] = []
    live: list[PromptText] = []
    for language in catalog.languages:
        book = catalog.book(language)
        common = dict(common_params[language])
        values = choice_values(book)
        for key, template in book.prompts.items():
            timing = prompt_timing(book, key)
            if timing == AHEAD:
                ahead.append(PromptText(key, language, catalog.text(key, language, common)))
            elif timing == CHOICES:
                names = sorted(book.placeholders[key] & CHOICE_PLACEHOLDERS)
                for combination in itertools.product(*(values[n] for n in names)):
                    chosen = dict(zip(names, combination, strict=True))
                    text = catalog.text(key, language, {**common, **chosen})
                    ahead.append(PromptText(choice_key(key, chosen), language, text))
            elif timing == PER_CALL:
                per_call.append(PromptText(key, language, template))
            else:
                live.append(PromptText(key, language, template))
    return CatalogTexts(ahead=ahead, per_call=per_call, live=live)


def catalog_texts_for(config: Config, catalog: PromptCatalog) -> CatalogTexts:
    """`catalog_texts` with the common placeholders of this deployment's configuration."""
    from ivr.voice.identity import common_prompt_params

    common = {lang: common_prompt_params(config, catalog.book(lang)) for lang in catalog.languages}
    return catalog_texts(catalog, common)


@dataclass(frozen=True)
class DebtFacts:
    """What a call's personal sentences say, read when the call is claimed."""

    amount: Decimal
    principal: Decimal
    interest: Decimal
    fee: Decimal
    currency: str
    due_date: date
    creditor: str
    itemised: bool  # BR-RECORD: principal, interest and fee are said too


def personal_sentences(
    catalog: PromptCatalog,
    language: str,
    common: Mapping[str, object],
    first_name: str,
    debt: DebtFacts | None,
    *,
    today: date,
) -> dict[str, str]:
    """The personal sentences of one call, by prompt key, exactly as the flow will fill
    them: the right-party check, and (for a debt that may be disclosed) the disclosure.

    `today` decides whether the due date is said with its year, as in the flow.
    """
    params: dict[str, object] = {**common, "first_name": first_name}
    keys = ["right_party_check"]
    if debt is not None:
        params |= {
            "amount": spoken_amount(debt.amount, debt.currency, language),
            "creditor": debt.creditor,
            "due_date": spoken_date(
                debt.due_date, language, with_year=debt.due_date.year != today.year
            ),
        }
        keys.append("disclosure")
        if debt.itemised:
            params |= {
                "principal": spoken_amount(debt.principal, debt.currency, language),
                "interest": spoken_amount(debt.interest, debt.currency, language),
                "fee": spoken_amount(debt.fee, debt.currency, language),
            }
            keys.append("disclosure_itemised")
    return {key: catalog.text(key, language, params) for key in keys}


__all__ = [
    "CatalogTexts",
    "DebtFacts",
    "catalog_texts",
    "catalog_texts_for",
    "choice_key",
    "choice_values",
    "personal_sentences",
]
