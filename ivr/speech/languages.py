"""The languages Cordial speaks, and the one check every speech function makes on a code."""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("pt-BR", "en-US")


def require_language(language: str) -> str:
    """Return `language` if Cordial speaks it; otherwise raise ValueError naming it."""
    if language not in LANGUAGES:
        raise ValueError(
            f"language {language!r} is not supported; expected one of {', '.join(LANGUAGES)}"
        )
    return language
