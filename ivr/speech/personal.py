"""Per-call personal audio: the sentences that carry a debtor's name, amount and due date.

The dialer calls `render_personal_audio` when it claims a call, never a
webhook, so the TwiML only plays files that already exist. Each sentence is
rendered whole by the same renderer as the prompt catalog (natural prosody,
the same voice as the prompts around it) into a content-addressed cache
under `<audio>/personal/`, keyed by (text, language, voice, engine). A retried
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
a while (every dialer runs it at start and then daily:
`ivr.speech.call_audio.prune_call_audio`).

Layout: each rendering is cached under `personal/renderings/`, named for
(text, language, voice, engine), so a gTTS rendering replaces an espeak-ng
one once Google is reachable again; the file the call plays is a hard link
to the best rendering under `personal/`, named for (text, language) only, so
a webhook finds it with one `stat` (`find_personal_audio`). Its URL carries
an expiring signature (`personal_url_token`): the web app serves a personal
file only to a URL it issued within the hour (`ivr.speech.web`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ivr.speech.languages import require_language
from ivr.speech.tts import TtsRenderer

PERSONAL_DIR = "personal"
RENDERINGS_DIR = "renderings"
# A personal URL works for about an hour after the webhook that issued it: long enough
# for any call to play it, short enough that a URL copied from a log soon stops working.
URL_LIFETIME = timedelta(hours=1)
_URL_EXPIRY_STEP_S = 900  # expiries are rounded up, so one call's URLs stay the same


@dataclass(frozen=True)
class PersonalAudio:
    """The files for one call, by sentence name, and which of them were rendered just now."""

    files: dict[str, Path]
    rendered: tuple[str, ...]


def personal_file_name(
    text: str, language: str, voice: str, engine: str, secret: bytes | str
) -> str:
    """The cache name of one engine's rendering of `text` (under `personal/renderings/`)."""
    return f"{_mac(secret, engine, voice, language, text)[:32]}.wav"


def spoken_file_name(text: str, language: str, secret: bytes | str) -> str:
    """The name of the file a call plays for `text`, whichever engine rendered it."""
    return f"{_mac(secret, 'spoken', language, text)[:32]}.wav"


def personal_url_expiry(now: datetime) -> int:
    """When a personal URL issued at `now` stops working (Unix seconds)."""
    deadline = (now + URL_LIFETIME).timestamp()
    return math.ceil(deadline / _URL_EXPIRY_STEP_S) * _URL_EXPIRY_STEP_S


def personal_url_token(file_name: str, expires: int, secret: bytes | str) -> str:
    """The signature a personal URL carries: it names the file and its expiry."""
    return _mac(secret, "url", file_name, str(expires))[:32]


def personal_url_is_valid(
    file_name: str, expires: str | None, token: str | None, secret: bytes | str, now: datetime
) -> bool:
    """Whether a requested personal URL was issued by this instance and has not expired."""
    if not expires or not token or not expires.isascii() or not expires.isdigit():
        return False
    if len(expires) > 12 or int(expires) < now.timestamp():
        return False
    expected = personal_url_token(file_name, int(expires), secret)
    return hmac.compare_digest(expected, token)


def _mac(secret: bytes | str, *fields: str) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, "\x1f".join(fields).encode("utf-8"), hashlib.sha256).hexdigest()


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
    renderings = folder / RENDERINGS_DIR
    renderings.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    rendered: list[str] = []
    for name, text in sentences.items():
        if not text.strip():
            raise ValueError(f"personal sentence {name!r} is empty")
        cached = [
            renderings / personal_file_name(text, language, voice, engine, secret)
            for engine, voice in renderer.acceptable(language)
        ]
        path = next((p for p in cached if p.is_file()), None)
        if path is None:
            # Render under a neutral name: which engine speaks is known only afterwards,
            # and another worker may be looking for the same sentence meanwhile.
            partial = renderings / f".{uuid.uuid4().hex}.partial.wav"
            audio = renderer.render(text, language, partial, private=True)
            path = renderings / personal_file_name(
                text, language, audio.voice, audio.engine, secret
            )
            os.replace(partial, path)
            rendered.append(name)
        spoken = folder / spoken_file_name(text, language, secret)
        _publish(path, spoken)
        os.utime(spoken)  # last use, for pruning (the rendering too, when it is a link)
        files[name] = spoken
    return PersonalAudio(files=files, rendered=tuple(rendered))


def _publish(rendering: Path, spoken: Path) -> None:
    """Make `spoken` the file a call plays for `rendering`, atomically."""
    try:
        if os.path.samefile(rendering, spoken):
            return
    except FileNotFoundError:
        pass
    tmp = spoken.with_name(f".{uuid.uuid4().hex}.tmp")
    try:
        try:
            os.link(rendering, tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(rendering, tmp)
        os.replace(tmp, spoken)
    finally:
        tmp.unlink(missing_ok=True)


def find_personal_audio(
    text: str, language: str, audio_dir: Path | str, *, secret: bytes | str
) -> Path | None:
    """The file a call plays for a personal sentence, by its final text, if the dialer
    rendered it. One `stat`, no rendering: fit for a webhook."""
    require_language(language)
    # os.path on strings: this runs for every personal sentence of every webhook.
    path = os.path.join(audio_dir, PERSONAL_DIR, spoken_file_name(text, language, secret))
    return Path(path) if os.path.isfile(path) else None


def prune_personal_audio(
    audio_dir: Path | str, *, older_than: timedelta, now: datetime
) -> list[Path]:
    """Delete personal files (played and cached) not used since `now - older_than`;
    return what was deleted."""
    folder = Path(audio_dir) / PERSONAL_DIR
    if not folder.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    removed = []
    for path in sorted([*folder.glob("*.wav"), *(folder / RENDERINGS_DIR).glob("*.wav")]):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another worker pruned it first
            continue
    return removed
