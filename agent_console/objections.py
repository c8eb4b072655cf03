"""Which objection the debtor is raising, from what they just said.

A pure matcher over the playbook's triggers: phrases are compared with windows of
the transcript of about their length, character by character, so that speech
recognition slips ("pague" for "paguei", "desempregada" for "desempregado",
missing accents and punctuation, words run together) still match; keywords are
matched word by word with the same tolerance and add a little evidence. Only
windows near a word that resembles one of the phrase's words are compared, so a
long transcript costs little.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from agent_console.playbooks import Objection, fold, load_playbook

PHRASE_THRESHOLD = 0.8  # character similarity for a phrase to count
PHRASE_WEIGHT = 0.8
KEYWORD_WEIGHT = 0.1
MAX_KEYWORDS_COUNTED = 3
MIN_SCORE = 0.2  # one phrase, or two keywords


@dataclass(frozen=True, slots=True)
class Match:
    key: str
    score: float  # 0..1
    phrase: str  # the trigger that matched best (a phrase, or the keywords found)


@lru_cache(maxsize=65536)
def words_alike(heard: str, word: str) -> bool:
    if heard == word:
        return True
    if min(len(heard), len(word)) < 4:
        return False
    if min(len(heard), len(word)) >= 6 and heard[:5] == word[:5]:
        return True  # same stem: desempregado / desempregada, harassing / harassment
    return SequenceMatcher(None, heard, word).ratio() >= 0.8


@lru_cache(maxsize=4096)
def _folded_words(text: str) -> tuple[str, ...]:
    return tuple(fold(text).split())


def _phrase_similarity(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> float:
    """Best character similarity between the phrase and a window of the transcript
    of its length (give or take one word) near a word resembling one of its words."""
    size = len(phrase)
    target = " ".join(phrase)
    anchors = [i for i, token in enumerate(tokens) if any(words_alike(token, w) for w in phrase)]
    best = 0.0
    tried: set[tuple[int, int]] = set()
    for anchor in anchors:
        for length in (size - 1, size, size + 1):
            if length < 1:
                continue
            for start in range(max(0, anchor - length + 1), min(anchor, len(tokens) - 1) + 1):
                end = min(len(tokens), start + length)
                if (start, end) in tried:
                    continue
                tried.add((start, end))
                ratio = SequenceMatcher(
                    None, " ".join(tokens[start:end]), target, autojunk=False
                ).ratio()
                if ratio > best:
                    best = ratio
                    if best == 1.0:
                        return best
    return best


def _score(tokens: tuple[str, ...], heard: frozenset[str], objection: Objection) -> Match | None:
    best_ratio, best_phrase = 0.0, ""
    for phrase in objection.phrases:
        phrase_words = _folded_words(phrase)
        if not phrase_words:
            continue
        ratio = _phrase_similarity(tokens, phrase_words)
        if ratio > best_ratio:
            best_ratio, best_phrase = ratio, phrase
    keywords = [k for k in objection.keywords if any(words_alike(h, fold(k)) for h in heard)]
    phrase_part = best_ratio if best_ratio >= PHRASE_THRESHOLD else 0.0
    score = PHRASE_WEIGHT * phrase_part + KEYWORD_WEIGHT * min(len(keywords), MAX_KEYWORDS_COUNTED)
    score = round(min(score, 1.0), 3)
    if score < MIN_SCORE:
        return None
    return Match(
        key=objection.key, score=score, phrase=best_phrase if phrase_part else ", ".join(keywords)
    )


def match_objections(transcript: str, language: str) -> list[Match]:
    """The playbook's objections the transcript suggests, best first (may be empty)."""
    tokens = tuple(fold(transcript).split())
    if not tokens:
        return []
    heard = frozenset(tokens)
    playbook = load_playbook(language)
    matches = [m for m in (_score(tokens, heard, o) for o in playbook.objections) if m is not None]
    order = {o.key: i for i, o in enumerate(playbook.objections)}
    return sorted(matches, key=lambda m: (-m.score, order[m.key]))


__all__ = ["Match", "match_objections", "words_alike"]
