"""Per-call personal audio: the sentences that carry a debtor's name, amount and due date.

The dialer calls `render_personal_audio` when it claims a call, never a
webhook, so the TwiML only plays files that already exist. Each sentence is
rendered whole by the same renderer as the prompt catalog (natural prosody,
the same voice as the prompts around it) into a content-addressed cache,
`<audio>/personal/`, keyed by (text, language, voice, engine). A retried
call, or another debtor with the same sentence ("o valor é de cento e vinte
reais"), costs one file lookup; only new sentences are rendered.

Why not concatenate pre-rendered fragments (number words, month names)?
Joining WAVs is cheaper (`tts.join_wavs`, a frame copy: about 1 ms per
call), but it sounds choppy and cannot say names, while whole sentences cost
about 20 ms per call with espeak-ng when new (p95 about 35 ms, two
sentences, on a 2-core machine) and about 0.03 ms when cached: measured by
`scripts/bench_tts.py`. With gTTS reachable a new sentence costs a network
round trip instead, still at claim time, never in a webhook.

These files are personal data (LGPD): file names are an HMAC under the
instance's secret, so a URL neither reveals nor lets anyone guess a text;
logs never carry the text; `prune_personal_audio` deletes files unused for
a while (run it daily, with the clock's now).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ivr.speech.languages import require_language
from ivr.speech.tts import EspeakEngine, GttsEngine, TtsRenderer

PERSONAL_DIR = "personal"


@dataclass(frozen=True)
class PersonalAudio:
    """The files for one call, by sentence name, and which of them were rendered just now."""

    files: dict[str, Path]
    rendered: tuple[str, ...]


def personal_file_name(
    text: str, language: str, voice: str, engine: str, secret: bytes | str
) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    message = "\x1f".join((engine, voice, language, text)).encode("utf-8")
    return f"{hmac.new(key, message, hashlib.sha256).hexdigest()[:32]}.wav"


def render_personal_audio(
    sentences: Mapping[str, str],
    language: str,
    audio_dir: Path | str,
    renderer: TtsRenderer,
    *,
    secret: bytes | str,
) -> PersonalAudio:
    """Make sure every sentence (name → final text, placeholders already filled) has a file.

    Returns the file for each sentence name; raises TtsError if one cannot be
    rendered, so the dialer can fall back to a call without personal audio
    (or put the claim back) instead of placing a call that would go silent.
    """
    require_language(language)
    if not secret:
        raise ValueError("a secret is required to name personal audio files")
    folder = Path(audio_dir) / PERSONAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    rendered: list[str] = []
    for name, text in sentences.items():
        if not text.strip():
            raise ValueError(f"personal sentence {name!r} is empty")
        cached = [
            folder / personal_file_name(text, language, voice, engine, secret)
            for engine, voice in renderer.acceptable(language)
        ]
        path = next((p for p in cached if p.is_file()), None)
        if path is not None:
            os.utime(path)  # last use, for pruning
        else:
            # Render under a neutral name: which engine speaks is known only afterwards,
            # and another worker may be looking for the same sentence meanwhile.
            partial = folder / f".{uuid.uuid4().hex}.partial.wav"
            audio = renderer.render(text, language, partial, private=True)
            path = folder / personal_file_name(text, language, audio.voice, audio.engine, secret)
            os.replace(partial, path)
            rendered.append(name)
        files[name] = path
    return PersonalAudio(files=files, rendered=tuple(rendered))


def find_personal_audio(
    text: str, language: str, audio_dir: Path | str, *, secret: bytes | str
) -> Path | None:
    """The rendered file for a personal sentence, by its final text, if the dialer made one
    (gTTS audio preferred). Two `stat` calls, no rendering: fit for a webhook."""
    require_language(language)
    folder = Path(audio_dir) / PERSONAL_DIR
    for engine in (GttsEngine(), EspeakEngine()):
        path = folder / personal_file_name(
            text, language, engine.voice(language), engine.name, secret
        )
        if path.is_file():
            return path
    return None


def prune_personal_audio(
    audio_dir: Path | str, *, older_than: timedelta, now: datetime
) -> list[Path]:
    """Delete personal files not used since `now - older_than`; return what was deleted."""
    folder = Path(audio_dir) / PERSONAL_DIR
    if not folder.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    removed = []
    for path in sorted(folder.glob("*.wav")):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another worker pruned it first
            continue
    return removed
