"""The objection playbooks (playbooks/<language>.yaml) as typed values, and the
agent's search over them. Texts are data: code never adds a sentence."""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PLAYBOOK_DIR = Path(__file__).with_name("playbooks")
LANGUAGES = ("pt-BR", "en-US")


class PlaybookError(ValueError):
    """A playbook file says something the console cannot use."""


@dataclass(frozen=True, slots=True)
class Objection:
    key: str
    hotkey: str
    title: str
    script: str
    sentences: tuple[str, ...]
    questions: tuple[str, ...]
    offers: tuple[str, ...]
    phrases: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Playbook:
    language: str
    version: int
    objections: tuple[Objection, ...]

    def get(self, key: str) -> Objection | None:
        return next((o for o in self.objections if o.key == key), None)


def fold(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces: how both the
    triggers and a transcript are compared. Apostrophes vanish ("don't" == "dont")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("'", "").replace("\u2019", "")
    kept = "".join(ch if ch.isalnum() else " " for ch in plain)
    return " ".join(kept.split())


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PlaybookError(f"{where}: expected a list of non-empty texts")
    return tuple(value)


@lru_cache(maxsize=len(LANGUAGES))
def load_playbook(language: str) -> Playbook:
    if language not in LANGUAGES:
        raise ValueError(
            f"language {language!r} has no playbook; expected one of {', '.join(LANGUAGES)}"
        )
    path = PLAYBOOK_DIR / f"{language}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw.get("version"), int):
        raise PlaybookError(f"{path.name}: `version` must be a whole number")
    objections = []
    for index, item in enumerate(raw.get("objections") or []):
        where = f"{path.name}: objections[{index}]"
        try:
            objections.append(
                Objection(
                    key=str(item["key"]),
                    hotkey=str(item["hotkey"]),
                    title=str(item["title"]),
                    script=str(item["script"]),
                    sentences=_strings(f"{where}.sentences", item["sentences"]),
                    questions=_strings(f"{where}.questions", item["questions"]),
                    offers=_strings(f"{where}.offers", item["offers"]),
                    phrases=_strings(f"{where}.triggers.phrases", item["triggers"]["phrases"]),
                    keywords=_strings(f"{where}.triggers.keywords", item["triggers"]["keywords"]),
                )
            )
        except KeyError as exc:
            raise PlaybookError(f"{where}: missing {exc.args[0]!r}") from None
    hotkeys = [o.hotkey for o in objections]
    if len(set(hotkeys)) != len(hotkeys):
        raise PlaybookError(f"{path.name}: two objections share a hotkey ({hotkeys})")
    return Playbook(language=language, version=raw["version"], objections=tuple(objections))


def search_playbook(playbook: Playbook, query: str) -> list[Objection]:
    """Objections whose title, texts or triggers contain every word of `query`."""
    words = fold(query).split()
    if not words:
        return list(playbook.objections)
    found = []
    for objection in playbook.objections:
        haystack = fold(
            " ".join(
                [
                    objection.title,
                    objection.script,
                    *objection.sentences,
                    *objection.questions,
                    *objection.offers,
                    *objection.phrases,
                    *objection.keywords,
                ]
            )
        )
        if all(word in haystack for word in words):
            found.append(objection)
    return found


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "…"


def fill(text: str, values: dict[str, str]) -> str:
    """Fill the placeholders the console knows ({first_name}, {creditor}, ...); leave
    the others as an ellipsis for the agent to say."""
    try:
        return string.Formatter().vformat(text, (), _Blank(values))
    except (ValueError, IndexError):
        return text


__all__ = [
    "Objection",
    "Playbook",
    "PlaybookError",
    "fill",
    "fold",
    "load_playbook",
    "search_playbook",
]
