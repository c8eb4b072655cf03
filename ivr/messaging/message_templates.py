"""The texts of outgoing messages, one YAML file per language (ivr/messaging/templates/).

Loaded once per process; `render` fills {placeholders} and refuses a template
whose placeholders were not all given.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATES_DIR = Path(__file__).with_name("templates")


class TemplateError(LookupError):
    """A message template is missing or a placeholder was not given (a bug, not a user error)."""


@dataclass(frozen=True)
class MessageBook:
    language: str
    date_format: str
    payment_preference: tuple[str, ...]
    opt_out_keywords: frozenset[str]
    templates: Mapping[str, str]

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


__all__ = ["MessageBook", "TemplateError", "message_book", "message_books", "placeholders_of"]
