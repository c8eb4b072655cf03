"""The catalog of sentences the robocall says, one YAML file per language.

Prompts are data (ivr/voice/prompts/<language>.yaml), reviewed like code;
this module loads them once per process and fills their {placeholders}.

A prompt's placeholders also say when its audio can be rendered
(`prompt_timing`): ahead of any call (`cordial prompts render`, into
`audio/`), once per value of a small set of choices (the channel of the
second copy), when the dialer claims the call (the debtor's name, amount,
due date, creditor: `ivr.speech.call_audio`), or not at all because the
text depends on the moment of the call (callback slots), so it is said
with <Say>.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROMPTS_DIR = Path(__file__).with_name("prompts")


# Placeholders every prompt may use, the same on every call of a deployment
# (ivr.voice.identity.common_prompt_params): prompts with only these are rendered ahead.
COMMON_PLACEHOLDERS = frozenset({"company", "neutral_company", "callback_number", "contact_person"})
# Placeholders with a few possible values: each value is rendered ahead, as its own sentence.
CHOICE_PLACEHOLDERS = frozenset({"channel", "document_name"})
# Placeholders from the debtor's record: rendered when the dialer claims the call.
PER_CALL_PLACEHOLDERS = frozenset(
    {"first_name", "amount", "creditor", "due_date", "principal", "interest", "fee"}
)
# Any other placeholder ({slot}, {digit}: callback times offered from the instant of the
# call) makes the prompt "live": said with <Say>, since no TTS may run inside a webhook.

AHEAD = "ahead"
CHOICES = "choices"
PER_CALL = "per_call"
LIVE = "live"


class PromptError(LookupError):
    """A prompt is missing, or a placeholder it needs was not given (a bug in the flow)."""


@dataclass(frozen=True)
class PromptBook:
    """Every prompt of one language, and the few words that go with them."""

    language: str
    voice: str
    contact_person: str
    neutral_company_fallback: str
    document_names: Mapping[str, str]
    prompts: Mapping[str, str]
    placeholders: Mapping[str, frozenset[str]]

    @classmethod
    def from_file(cls, path: Path) -> PromptBook:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("prompts"), dict):
            raise PromptError(
                f"{path}: expected a mapping with a 'prompts' mapping of key: sentence"
            )
        prompts = {str(k): str(v).strip() for k, v in raw["prompts"].items()}
        language = str(raw.get("language") or path.stem)
        if language != path.stem:
            raise PromptError(
                f"{path}: says language {language!r} but the file is named for {path.stem!r}"
            )
        return cls(
            language=language,
            voice=str(raw.get("voice") or ""),
            contact_person=str(raw.get("contact_person") or ""),
            neutral_company_fallback=str(raw.get("neutral_company_fallback") or ""),
            document_names={str(k): str(v) for k, v in (raw.get("document_names") or {}).items()},
            prompts=prompts,
            placeholders={key: placeholders_of(text) for key, text in prompts.items()},
        )


def placeholders_of(template: str) -> frozenset[str]:
    """The {names} a sentence needs."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def prompt_timing(book: PromptBook, key: str) -> str:
    """When the audio of prompt `key` can exist: AHEAD, CHOICES, PER_CALL or LIVE."""
    try:
        names = book.placeholders[key] - COMMON_PLACEHOLDERS
    except KeyError:
        raise PromptError(f"no prompt {key!r} in {book.language}") from None
    if not names:
        return AHEAD
    if names - PER_CALL_PLACEHOLDERS - CHOICE_PLACEHOLDERS:
        return LIVE
    return PER_CALL if names & PER_CALL_PLACEHOLDERS else CHOICES


class PromptCatalog:
    def __init__(self, books: Mapping[str, PromptBook]) -> None:
        if not books:
            raise PromptError("the prompt catalog is empty")
        self._books = dict(books)

    @classmethod
    def load(cls, folder: Path = PROMPTS_DIR) -> PromptCatalog:
        books = [PromptBook.from_file(path) for path in sorted(folder.glob("*.yaml"))]
        return cls({book.language: book for book in books})

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._books))

    def call_language(self, wanted: str | None, default: str | None) -> str:
        """The language a call speaks: the debtor's (or the URL's) when there are prompts in
        it, else the configured default, else the first there is. The webhooks and the
        dialer's personal audio both pick it here, so the audio rendered before a call is
        the audio its webhooks look for."""
        if wanted in self._books:
            return wanted
        return default if default in self._books else self.languages[0]

    def book(self, language: str) -> PromptBook:
        try:
            return self._books[language]
        except KeyError:
            raise PromptError(
                f"no prompts for language {language!r}; expected one of {', '.join(self.languages)}"
            ) from None

    def text(self, key: str, language: str, params: Mapping[str, Any]) -> str:
        """The sentence `key` in `language` with its placeholders filled from `params`
        (extra params are ignored)."""
        book = self.book(language)
        try:
            template = book.prompts[key]
        except KeyError:
            raise PromptError(f"no prompt {key!r} in {language}") from None
        try:
            return template.format_map(params)
        except KeyError as exc:
            raise PromptError(
                f"prompt {key!r} ({language}) needs {{{exc.args[0]}}}; it was not given"
            ) from None

    def differences(self) -> list[str]:
        """Where the languages disagree on prompt keys or placeholders; empty when in step."""
        problems: list[str] = []
        books = [self._books[lang] for lang in self.languages]
        reference = books[0]
        for book in books[1:]:
            for key in sorted(set(reference.prompts) ^ set(book.prompts)):
                where = reference.language if key in reference.prompts else book.language
                problems.append(f"prompt {key!r} exists only in {where}")
            for key in sorted(set(reference.prompts) & set(book.prompts)):
                if reference.placeholders[key] != book.placeholders[key]:
                    problems.append(
                        f"prompt {key!r}: {reference.language} uses {sorted(reference.placeholders[key])}, "
                        f"{book.language} uses {sorted(book.placeholders[key])}"
                    )
        return problems


@functools.cache
def prompt_catalog() -> PromptCatalog:
    """The shipped catalog, read from disk once per process (never inside a webhook's path)."""
    return PromptCatalog.load()


__all__ = [
    "AHEAD",
    "CHOICES",
    "CHOICE_PLACEHOLDERS",
    "COMMON_PLACEHOLDERS",
    "LIVE",
    "PER_CALL",
    "PER_CALL_PLACEHOLDERS",
    "PROMPTS_DIR",
    "PromptBook",
    "PromptCatalog",
    "PromptError",
    "placeholders_of",
    "prompt_catalog",
    "prompt_timing",
]
