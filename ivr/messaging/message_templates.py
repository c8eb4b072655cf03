"""The texts of outgoing messages, one YAML file per language (ivr/messaging/templates/).

Loaded once per process; `render` fills {placeholders} and refuses a template
whose placeholders were not all given. Each file also holds the WhatsApp second copy's
template as it is submitted to Twilio and Meta for approval ({{1}}, {{2}}, ... filled from
named variables), checked here against WhatsApp's rules when it loads.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATES_DIR = Path(__file__).with_name("templates")


class TemplateError(LookupError):
    """A message template is missing or a placeholder was not given (a bug, not a user error)."""


# A WhatsApp template's variable: {{1}}, {{2}}, ...
_WHATSAPP_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# What WhatsApp refuses inside a variable's value (Twilio error 63013): new lines, tabs,
# more than four spaces in a row; and an empty value.
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class WhatsAppTemplate:
    """A WhatsApp message template (Twilio Content API, type twilio/text): `text` is what is
    submitted for approval, with {{1}}..{{n}}; `variables` names what fills each, in order
    (placeholders of the SMS second copy), with a sample for the reviewers."""

    text: str
    variables: tuple[str, ...]
    samples: Mapping[str, str]

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> WhatsAppTemplate:
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise TemplateError(f"{where}: expected a mapping with 'text' and 'variables'")
        items = raw.get("variables") or []
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and len(i) == 1 for i in items
        ):
            raise TemplateError(f"{where}: 'variables' must be a list of `name: sample` items")
        pairs = [(str(k), str(v)) for item in items for k, v in item.items()]
        template = cls(
            text=raw["text"].strip(), variables=tuple(k for k, _ in pairs), samples=dict(pairs)
        )
        template.check(where)
        return template

    def check(self, where: str) -> None:
        """WhatsApp's rules for a template it will approve: variables numbered from 1 with
        none skipped, none at the very start or end, none next to another."""
        numbers = [int(n) for n in _WHATSAPP_VARIABLE.findall(self.text)]
        if sorted(set(numbers)) != list(range(1, len(self.variables) + 1)):
            raise TemplateError(
                f"{where}: the text uses variables {sorted(set(numbers))} but "
                f"{len(self.variables)} are named; number them 1 to {len(self.variables)}"
            )
        if len(set(self.variables)) != len(self.variables):
            raise TemplateError(f"{where}: a variable is named twice")
        if _WHATSAPP_VARIABLE.match(self.text) or re.search(r"\}\}\s*$", self.text):
            raise TemplateError(
                f"{where}: WhatsApp refuses a template starting or ending with a variable"
            )
        if re.search(r"\}\}\s*\{\{", self.text):
            raise TemplateError(f"{where}: WhatsApp refuses two variables next to each other")

    def content_variables(self, params: Mapping[str, Any]) -> dict[str, str]:
        """The ContentVariables of a message: {"1": ..., "2": ...}, each value on one line
        and never empty (WhatsApp fails the message otherwise, Twilio error 63013)."""
        values: dict[str, str] = {}
        for number, name in enumerate(self.variables, start=1):
            if name not in params:
                raise TemplateError(f"WhatsApp template variable {{{{{number}}}}} needs {{{name}}}")
            values[str(number)] = _WHITESPACE.sub(" ", str(params[name])).strip() or "-"
        return values

    def render(self, content_variables: Mapping[str, str]) -> str:
        """The text the debtor reads: the template with its variables filled in."""
        return _WHATSAPP_VARIABLE.sub(
            lambda m: content_variables.get(m.group(1), m.group(0)), self.text
        )


@dataclass(frozen=True)
class MessageBook:
    language: str
    date_format: str
    payment_preference: tuple[str, ...]
    opt_out_keywords: frozenset[str]
    templates: Mapping[str, str]
    whatsapp_second_copy: WhatsAppTemplate | None = None

    @classmethod
    def from_file(cls, path: Path) -> MessageBook:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("templates"), dict):
            raise TemplateError(
                f"{path}: expected a mapping with a 'templates' mapping of key: text"
            )
        return cls(
            language=str(raw.get("language") or path.stem),
            date_format=str(raw.get("date_format") or "yyyy-MM-dd"),
            payment_preference=tuple(str(k) for k in raw.get("payment_preference") or ("link",)),
            opt_out_keywords=frozenset(str(k).upper() for k in raw.get("opt_out_keywords") or ()),
            templates={str(k): str(v).strip() for k, v in raw["templates"].items()},
            whatsapp_second_copy=WhatsAppTemplate.from_raw(
                raw["whatsapp_second_copy"], f"{path}: whatsapp_second_copy"
            )
            if raw.get("whatsapp_second_copy") is not None
            else None,
        )

    def render(self, key: str, params: Mapping[str, Any]) -> str:
        try:
            template = self.templates[key]
        except KeyError:
            raise TemplateError(f"no message template {key!r} in {self.language}") from None
        try:
            return template.format_map(params)
        except KeyError as exc:
            raise TemplateError(
                f"message template {key!r} ({self.language}) needs {{{exc.args[0]}}}"
            ) from None


def placeholders_of(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@functools.cache
def message_books() -> dict[str, MessageBook]:
    books = [MessageBook.from_file(path) for path in sorted(TEMPLATES_DIR.glob("*.yaml"))]
    return {book.language: book for book in books}


def message_book(language: str, default: str = "pt-BR") -> MessageBook:
    books = message_books()
    return books.get(language) or books[default]


__all__ = [
    "MessageBook",
    "TemplateError",
    "WhatsAppTemplate",
    "message_book",
    "message_books",
    "placeholders_of",
]
