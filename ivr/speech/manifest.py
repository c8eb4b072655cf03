"""The catalog of rendered prompt audio: `manifest.json` in the audio folder.

Each entry maps (prompt key, language) to the file that speaks its current
text, with the text, voice and engine it was rendered from, its duration,
sample rate and render time. File names are a hash of (engine, voice,
language, text), so identical texts share one file and a changed text gets
a new name: `render_all` re-renders only prompts whose text (or engine or
voice) changed, and webhooks only find files that already exist, through a
`PromptAudioIndex` held in memory (or `lookup`).

Stale files are left on disk by `render_all`: a call in progress may hold
TwiML that points at the old file, and deleting it mid-call would give the
debtor dead air. `prune_unreferenced` removes them when the operator chooses
(`cordial speech prune`, e.g. after a deploy has drained).

The API takes plain `PromptText(key, language, text)` triples, so it does
not depend on the format of the prompt catalog files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import string
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ivr.clock import Clock, SystemClock
from ivr.speech.languages import require_language
from ivr.speech.personal import (
    PERSONAL_DIR,
    find_personal_audio,
    personal_url_expiry,
    personal_url_token,
)
from ivr.speech.tts import (
    CHANNELS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    TtsError,
    TtsRenderer,
    read_wav_info,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
_LOCK_NAME = ".manifest.lock"


class ManifestError(RuntimeError):
    """The manifest file cannot be read."""


@dataclass(frozen=True)
class PromptText:
    """One sentence of the prompt catalog in one language."""

    key: str
    language: str
    text: str


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    language: str
    text: str
    voice: str
    engine: str
    file: str
    duration_s: float
    sample_rate: int
    rendered_at: str


@dataclass(frozen=True)
class RenderProgress:
    """Reported after each prompt; `outcome` is one of RenderSummary's list names."""

    done: int
    total: int
    prompt: PromptText
    outcome: str
    engine: str | None = None


@dataclass
class RenderSummary:
    """What `render_all` did, prompt by prompt, as (key, language) pairs."""

    rendered: list[tuple[str, str]] = field(default_factory=list)
    reused: list[tuple[str, str]] = field(default_factory=list)  # file already on disk
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    templated: list[tuple[str, str]] = field(default_factory=list)  # has {placeholders}
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # key, language, reason
    engines: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failed


def audio_file_name(text: str, language: str, voice: str, engine: str) -> str:
    """The content-addressed file name for one rendering of `text`."""
    digest = hashlib.sha256("\x1f".join((engine, voice, language, text)).encode("utf-8"))
    return f"{digest.hexdigest()[:24]}.wav"


def placeholders(text: str) -> list[str]:
    """The `{names}` a prompt text expects; ValueError if its braces are malformed."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"text {text!r} has malformed braces: {exc}") from None


def render_all(
    prompts: Iterable[PromptText],
    audio_dir: Path | str,
    engine: TtsRenderer | str = "auto",
    *,
    progress: Callable[[RenderProgress], None] | None = None,
    clock: Clock | None = None,
) -> RenderSummary:
    """Render every prompt that is missing or whose text, voice or engine changed.

    Prompts with `{placeholders}` are personal and rendered per call
    (`ivr.speech.personal`), so they are only listed as templated here. A
    failure is recorded and the run goes on; the manifest is saved after
    every render so an interrupted run keeps its progress.
    """
    items = list(prompts)
    _refuse_duplicates(items)
    renderer = engine if isinstance(engine, TtsRenderer) else TtsRenderer(engine)
    clock = clock or SystemClock()
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    summary = RenderSummary()

    with _locked(audio_dir):
        try:
            entries = load_manifest(audio_dir)
        except ManifestError as exc:
            # Files are content-addressed, so a fresh manifest reuses them at once.
            log.warning("audio manifest unreadable, rebuilding it: %s", exc)
            entries = {}
        for done, prompt in enumerate(items, start=1):
            outcome, engine_name = _render_one(prompt, audio_dir, renderer, entries, summary, clock)
            if outcome in ("rendered", "reused"):
                _save_manifest(audio_dir, entries)
            if progress is not None:
                progress(RenderProgress(done, len(items), prompt, outcome, engine_name))
    return summary


def _render_one(
    prompt: PromptText,
    audio_dir: Path,
    renderer: TtsRenderer,
    entries: dict[tuple[str, str], ManifestEntry],
    summary: RenderSummary,
    clock: Clock,
) -> tuple[str, str | None]:
    ident = (prompt.key, prompt.language)
    try:
        require_language(prompt.language)
        if placeholders(prompt.text):
            summary.templated.append(ident)
            return "templated", None
        if not prompt.text.strip():
            raise ValueError("text is empty")
    except ValueError as exc:
        summary.failed.append((*ident, str(exc)))
        return "failed", None

    acceptable = renderer.acceptable(prompt.language)
    current = entries.get(ident)
    if (
        current is not None
        and current.text == prompt.text
        and (current.engine, current.voice) in acceptable
        and (audio_dir / current.file).is_file()
    ):
        summary.unchanged.append(ident)
        return "unchanged", current.engine

    for engine_name, voice in acceptable:
        name = audio_file_name(prompt.text, prompt.language, voice, engine_name)
        if (audio_dir / name).is_file():
            # Another key (or an earlier manifest) already rendered this exact text.
            info = read_wav_info(audio_dir / name)
            entries[ident] = _entry(
                prompt, voice, engine_name, name, info.duration_s, info.sample_rate, clock
            )
            summary.reused.append(ident)
            return "reused", engine_name

    # Render under a neutral name: which engine speaks is known only afterwards.
    partial = audio_dir / f".{uuid.uuid4().hex}.partial.wav"
    try:
        audio = renderer.render(prompt.text, prompt.language, partial)
    except (TtsError, ValueError) as exc:
        log.error("could not render prompt %s (%s): %s", prompt.key, prompt.language, exc)
        summary.failed.append((*ident, str(exc)))
        return "failed", None
    final_name = audio_file_name(prompt.text, prompt.language, audio.voice, audio.engine)
    os.replace(partial, audio_dir / final_name)
    entries[ident] = _entry(
        prompt, audio.voice, audio.engine, final_name, audio.duration_s, audio.sample_rate, clock
    )
    summary.rendered.append(ident)
    summary.engines[audio.engine] += 1
    return "rendered", audio.engine


def lookup(
    audio_dir: Path | str, key: str, language: str, *, text: str | None = None
) -> Path | None:
    """The rendered file for a prompt, or None if it has not been rendered.

    With `text`, also None when the file speaks a different (older) text, so
    the caller can tell a stale rendering from a current one. Cheap enough
    for a webhook: the manifest is re-read only when the file changes.
    """
    audio_dir = Path(audio_dir)
    try:
        entries = _cached_manifest(audio_dir)
    except ManifestError as exc:
        log.error("audio manifest unreadable; prompt %s (%s) has no audio: %s", key, language, exc)
        return None
    entry = entries.get((key, language))
    if entry is None or (text is not None and entry.text != text):
        return None
    path = audio_dir / entry.file
    return path if path.is_file() else None


class PromptAudioIndex:
    """Which sentences have rendered audio, answered from memory inside webhooks
    (the `PromptAudio` the voice flow's Speaker asks).

    The manifest is read when the index is made and on `reload()` (after
    `cordial prompts render`, restart the web workers); a prompt is found by
    its key or by its exact text, so a prompt whose text changed since is
    answered None and the caller falls back to <Say> rather than play an old
    sentence. With `secret`, personal sentences rendered by the dialer are
    found too, with one `stat` (`personal.find_personal_audio`), and their
    URLs carry an expiring signature. The web app serves `audio_dir` at
    `base_url` (`ivr.speech.web`).
    """

    def __init__(
        self,
        audio_dir: Path | str,
        base_url: str,
        *,
        secret: bytes | str | None = None,
        clock: Clock | None = None,
        captions: bool = False,
    ) -> None:
        self.audio_dir = Path(audio_dir)
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._clock = clock or SystemClock()
        # Remember what personal URLs say (for the carrier emulator's transcripts only:
        # it keeps personal sentences in memory).
        self._personal_captions: OrderedDict[str, str] | None = OrderedDict() if captions else None
        self._by_key: dict[tuple[str, str], tuple[str, str]] = {}
        self._by_text: dict[tuple[str, str], str] = {}
        self._captions: dict[str, str] = {}
        self.reload()

    def reload(self) -> None:
        try:
            entries = load_manifest(self.audio_dir)
        except ManifestError as exc:
            log.error("audio manifest unreadable; every prompt will be spoken with <Say>: %s", exc)
            entries = {}
        present = {
            ident: entry
            for ident, entry in entries.items()
            if (self.audio_dir / entry.file).is_file()
        }
        self._by_key = {ident: (entry.text, entry.file) for ident, entry in present.items()}
        self._by_text = {(entry.language, entry.text): entry.file for entry in present.values()}
        self._captions = {entry.file: entry.text for entry in present.values()}
        missing = len(entries) - len(present)
        if missing:
            log.warning(
                "audio manifest in %s lists %d file(s) that are missing; those prompts "
                "will be spoken with <Say> (run `cordial prompts render`)",
                self.audio_dir,
                missing,
            )

    @property
    def prompt_count(self) -> int:
        """How many (key, language) prompts have a rendered file."""
        return len(self._by_key)

    def path_for(self, key: str, language: str, text: str) -> Path | None:
        """The file that speaks exactly `text` for this prompt, or None."""
        static = self._static_file(key, language, text)
        if static is not None:
            return self.audio_dir / static
        if self._secret and text.strip():
            return find_personal_audio(text, language, self.audio_dir, secret=self._secret)
        return None

    def url_for(self, key: str, language: str, text: str) -> str | None:
        static = self._static_file(key, language, text)
        if static is not None:
            return f"{self.base_url}/{static}"
        if not (self._secret and text.strip()):
            return None
        path = find_personal_audio(text, language, self.audio_dir, secret=self._secret)
        if path is None:
            return None
        expires = personal_url_expiry(self._clock.now())
        token = personal_url_token(path.name, expires, self._secret)
        url = f"{self.base_url}/{PERSONAL_DIR}/{path.name}?exp={expires}&sig={token}"
        if self._personal_captions is not None:
            self._personal_captions[path.name] = text
            while len(self._personal_captions) > _PERSONAL_CAPTIONS_KEPT:
                self._personal_captions.popitem(last=False)
        return url

    def caption_for(self, url: str) -> str | None:
        """The sentence a URL from `url_for` speaks (the emulator's `play_captions`)."""
        name = url.split("?", 1)[0].rsplit("/", 1)[-1]
        caption = self._captions.get(name)
        if caption is None and self._personal_captions is not None:
            caption = self._personal_captions.get(name)
        return caption

    def _static_file(self, key: str, language: str, text: str) -> str | None:
        known = self._by_key.get((key, language))
        if known is not None and known[0] == text:
            return known[1]
        # The same sentence under another key, or one of a prompt's choices ("menu[channel=SMS]").
        return self._by_text.get((language, text))


_PERSONAL_CAPTIONS_KEPT = 4096


def load_manifest(audio_dir: Path | str) -> dict[tuple[str, str], ManifestEntry]:
    """All entries of the manifest in `audio_dir` (empty if there is none yet)."""
    path = Path(audio_dir) / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path} cannot be read as JSON: {exc}") from None
    try:
        return {
            (key, language): ManifestEntry(key=key, language=language, **fields)
            for language, prompts in raw["prompts"].items()
            for key, fields in prompts.items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"{path} is not a Cordial audio manifest: {exc!r}") from None


def prune_unreferenced(audio_dir: Path | str) -> list[Path]:
    """Delete rendered files in `audio_dir` that no manifest entry points at; return them."""
    audio_dir = Path(audio_dir)
    with _locked(audio_dir):
        referenced = {entry.file for entry in load_manifest(audio_dir).values()}
        removed = [p for p in sorted(audio_dir.glob("*.wav")) if p.name not in referenced]
        for path in removed:
            path.unlink(missing_ok=True)
    return removed


def _entry(
    prompt: PromptText,
    voice: str,
    engine: str,
    file: str,
    duration_s: float,
    sample_rate: int,
    clock: Clock,
) -> ManifestEntry:
    return ManifestEntry(
        key=prompt.key,
        language=prompt.language,
        text=prompt.text,
        voice=voice,
        engine=engine,
        file=file,
        duration_s=round(duration_s, 3),
        sample_rate=sample_rate,
        rendered_at=clock.now().isoformat(timespec="seconds"),
    )


def _save_manifest(audio_dir: Path, entries: dict[tuple[str, str], ManifestEntry]) -> None:
    prompts: dict[str, dict[str, dict[str, object]]] = {}
    for (key, language), entry in sorted(
        entries.items(), key=lambda item: (item[0][1], item[0][0])
    ):
        fields = asdict(entry)
        del fields["key"], fields["language"]
        prompts.setdefault(language, {})[key] = fields
    document = {
        "version": MANIFEST_VERSION,
        "format": {
            "container": "wav",
            "encoding": "pcm_s16le",
            "sample_rate": SAMPLE_RATE,
            "channels": CHANNELS,
            "bits": SAMPLE_WIDTH * 8,
        },
        "prompts": prompts,
    }
    path = audio_dir / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int, int], dict[tuple[str, str], ManifestEntry]]] = {}


def _cached_manifest(audio_dir: Path) -> dict[tuple[str, str], ManifestEntry]:
    path = (audio_dir / MANIFEST_NAME).resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    entries = load_manifest(audio_dir)
    with _cache_lock:
        _cache[path] = (stamp, entries)
    return entries


@contextlib.contextmanager
def _locked(audio_dir: Path) -> Iterator[None]:
    """One renderer or pruner at a time per audio folder, across processes."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    with open(audio_dir / _LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refuse_duplicates(items: list[PromptText]) -> None:
    seen: set[tuple[str, str]] = set()
    for item in items:
        ident = (item.key, item.language)
        if ident in seen:
            raise ValueError(f"prompt {item.key!r} appears twice for {item.language}")
        seen.add(ident)
