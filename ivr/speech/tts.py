"""Text-to-speech rendering into telephone-ready WAV files, ahead of any call.

Two engines sit behind one small interface: gTTS (Google's voice, needs the
network; lang "pt" on translate.google.com.br for the Brazilian accent, "en"
on .com for en-US) and espeak-ng (offline, voices "pt-br" and "en-us").
`TtsRenderer("auto")` tries gTTS with a short deadline, remembers a failure
for the rest of the process, and falls back to espeak-ng, logging which
engine rendered what. Nothing here may run inside a webhook.

Output format: 8 kHz, mono, 16-bit signed little-endian PCM WAV. It is what
the phone network carries at full quality (8 kHz), Twilio's <Play> accepts
it, and Python's `wave` module (tests, the carrier emulator, media streams)
reads it directly. We keep it linear instead of mu-law so the audio is
companded exactly once, by the carrier, into whatever codec the leg uses
(mu-law in the US, A-law on Brazilian trunks); the files are twice the size
of mu-law, 16 kB per second, which does not matter for prompts of a few
seconds. sox resamples, trims leading and trailing silence and normalises
the peak to -3 dBFS; MP3 from gTTS needs sox's MP3 support (Debian package
`libsox-fmt-mp3`), without which gTTS counts as unavailable.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import gtts

from ivr.speech.languages import require_language

if TYPE_CHECKING:
    from ivr.config import Config

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2  # bytes: 16-bit signed PCM
ENGINE_CHOICES: tuple[str, ...] = ("auto", "gtts", "espeak")

# sox effects after the input is read: trim silence at both ends (the
# `reverse` trick trims the tail), resample with a steep anti-alias filter,
# then set the peak to -3 dBFS so every prompt plays at the same level.
_TRIM_LEADING_SILENCE = ("silence", "1", "0.05", "1%")
_SOX_EFFECTS = (
    *_TRIM_LEADING_SILENCE,
    "reverse",
    *_TRIM_LEADING_SILENCE,
    "reverse",
    *("rate", "-v", str(SAMPLE_RATE)),
    *("norm", "-3"),
)
_SUBPROCESS_TIMEOUT_S = 60


class TtsError(RuntimeError):
    """Rendering failed for a reason we cause or the machine lacks (not the debtor's input)."""


class EngineUnavailable(TtsError):
    """An engine cannot render on this machine right now (no network, missing program)."""


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class RenderedAudio:
    """One rendered file and how it was made."""

    path: Path
    engine: str
    voice: str
    duration_s: float
    sample_rate: int


class SpeechEngine(Protocol):
    """A text-to-speech engine: writes raw audio in any format sox reads."""

    name: str

    def voice(self, language: str) -> str:
        """The engine's voice for a Cordial language code, as recorded in the manifest."""
        ...

    def synthesize(self, text: str, language: str, workdir: Path) -> Path:
        """Write `text` spoken in `language` to a file in `workdir`; return its path."""
        ...


# gTTS reachability is remembered per process: once Google could not be
# reached, every later render goes straight to the fallback instead of
# waiting for another timeout.
_gtts_failure: str | None = None
_gtts_failure_lock = threading.Lock()


def gtts_failure() -> str | None:
    """Why gTTS failed earlier in this process, or None if it has not failed."""
    with _gtts_failure_lock:
        return _gtts_failure


def forget_gtts_failure() -> None:
    """Let the next render try gTTS again (tests; an operator who fixed the network)."""
    global _gtts_failure
    with _gtts_failure_lock:
        _gtts_failure = None


def _remember_gtts_failure(reason: str) -> None:
    global _gtts_failure
    with _gtts_failure_lock:
        _gtts_failure = reason


class GttsEngine:
    """Google Translate's voice through gTTS. Needs the network; returns MP3."""

    name = "gtts"
    _VOICES = {"pt-BR": ("pt", "com.br"), "en-US": ("en", "com")}

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s

    def voice(self, language: str) -> str:
        lang, tld = self._VOICES[require_language(language)]
        return f"{lang}@{tld}"

    def synthesize(self, text: str, language: str, workdir: Path) -> Path:
        remembered = gtts_failure()
        if remembered is not None:
            raise EngineUnavailable(f"gTTS failed earlier in this process: {remembered}")
        if not sox_reads_mp3():
            reason = "sox cannot read MP3 (install Debian's libsox-fmt-mp3)"
            _remember_gtts_failure(reason)
            raise EngineUnavailable(reason)
        lang, tld = self._VOICES[require_language(language)]
        out = workdir / "gtts.mp3"
        error: list[Exception] = []

        def fetch() -> None:
            try:
                gtts.gTTS(text, lang=lang, tld=tld, timeout=self.timeout_s).save(str(out))
            except Exception as exc:  # reported to the caller below, whatever it is
                error.append(exc)

        # requests' timeout does not cover name resolution; a daemon thread
        # with a deadline does, so an offline machine never stalls a render.
        worker = threading.Thread(target=fetch, name="gtts-fetch", daemon=True)
        worker.start()
        deadline_s = self.timeout_s + min(self.timeout_s, 1.0)
        worker.join(deadline_s)
        if worker.is_alive():
            reason = f"no answer from translate.google.{tld} within {deadline_s:g} s"
        elif error:
            reason = f"{type(error[0]).__name__}: {error[0]}"
        elif not out.is_file() or out.stat().st_size == 0:
            reason = "gTTS wrote no audio"
        else:
            return out
        _remember_gtts_failure(reason)
        raise EngineUnavailable(reason)


class EspeakEngine:
    """espeak-ng, offline, through its command line. Returns 22 kHz WAV."""

    name = "espeak"
    _VOICES = {"pt-BR": "pt-br", "en-US": "en-us"}

    def __init__(self, binary: str = "espeak-ng", words_per_minute: int = 155) -> None:
        self.binary = binary
        # A little slower than espeak's 175 wpm default: phone audio is narrowband.
        self.words_per_minute = words_per_minute

    def voice(self, language: str) -> str:
        return self._VOICES[require_language(language)]

    def synthesize(self, text: str, language: str, workdir: Path) -> Path:
        program = shutil.which(self.binary)
        if program is None:
            raise EngineUnavailable(f"{self.binary} is not installed (Debian package espeak-ng)")
        out = workdir / "espeak.wav"
        command = [program, "-v", self.voice(language), "-s", str(self.words_per_minute)]
        command += ["-w", str(out), "--stdin"]
        # Text goes through stdin so a sentence starting with "-" is never an option.
        _run(command, stdin=text.encode("utf-8"))
        return out


class TtsRenderer:
    """Renders text to a telephone WAV with the configured engine choice.

    `choice` is "auto" (gTTS, falling back to espeak-ng for the rest of the
    process after its first failure), "gtts" or "espeak" (that engine only).
    """

    def __init__(
        self,
        choice: str = "auto",
        *,
        gtts_engine: GttsEngine | None = None,
        espeak_engine: EspeakEngine | None = None,
    ) -> None:
        if choice not in ENGINE_CHOICES:
            raise ValueError(
                f"TTS engine {choice!r} is not valid; expected one of {', '.join(ENGINE_CHOICES)}"
            )
        self.choice = choice
        self.gtts = gtts_engine or GttsEngine()
        self.espeak = espeak_engine or EspeakEngine()

    def planned_engine(self) -> SpeechEngine:
        """The engine the next render will try first."""
        if self.choice == "espeak" or (self.choice == "auto" and gtts_failure() is not None):
            return self.espeak
        return self.gtts

    def acceptable(self, language: str) -> list[tuple[str, str]]:
        """(engine, voice) pairs whose existing audio is as good as a new render, best first.

        With "auto", audio from gTTS is always kept, so a gTTS outage never
        re-renders a catalog with espeak-ng; espeak-ng audio is kept only while
        gTTS is known to fail, so it is upgraded once Google is reachable again.
        """
        planned = self.planned_engine()
        pairs = [(planned.name, planned.voice(language))]
        if self.choice == "auto" and planned is not self.gtts:
            pairs.insert(0, (self.gtts.name, self.gtts.voice(language)))
        return pairs

    def render(
        self, text: str, language: str, dest: Path, *, private: bool = False
    ) -> RenderedAudio:
        """Render `text` into `dest` (written atomically) and describe the result.

        `private` keeps the text out of the log (a debtor's name or amount).
        """
        require_language(language)
        if not text.strip():
            raise ValueError("text to render is empty")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cordial-tts-") as work:
            engine, raw = self._synthesize(text, language, Path(work))
            info = convert_to_telephone_wav(raw, dest)
        voice = engine.voice(language)
        what = f"<{len(text)} private characters>" if private else repr(_excerpt(text))
        log.info(
            "tts: %s (voice %s) rendered %s %s into %s (%.2f s)",
            engine.name,
            voice,
            language,
            what,
            dest.name,
            info.duration_s,
        )
        return RenderedAudio(dest, engine.name, voice, info.duration_s, info.sample_rate)

    def _synthesize(self, text: str, language: str, workdir: Path) -> tuple[SpeechEngine, Path]:
        engine = self.planned_engine()
        try:
            return engine, engine.synthesize(text, language, workdir)
        except EngineUnavailable as exc:
            if self.choice != "auto" or engine is self.espeak:
                raise
            _remember_gtts_failure(str(exc))
            log.warning(
                "tts: gTTS cannot render (%s); espeak-ng renders instead for the rest "
                "of this process",
                exc,
            )
        return self.espeak, self.espeak.synthesize(text, language, workdir)


def renderer_from_config(config: Config) -> TtsRenderer:
    """The renderer named by CORDIAL_TTS_ENGINE."""
    return TtsRenderer(config.get("CORDIAL_TTS_ENGINE"))


def convert_to_telephone_wav(src: Path, dest: Path) -> WavInfo:
    """Convert any audio sox reads into Cordial's format (see module docstring) at `dest`."""
    sox = shutil.which("sox")
    if sox is None:
        raise TtsError("sox is not installed (Debian package sox); it converts rendered audio")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        # -D: no dither, so the same input always gives the same bytes.
        command = [sox, "-D", "-V1", str(src), "-t", "wav", "-r", str(SAMPLE_RATE)]
        command += ["-c", str(CHANNELS), "-b", str(8 * SAMPLE_WIDTH), "-e", "signed-integer"]
        _run([*command, str(tmp), *_SOX_EFFECTS])
        info = read_wav_info(tmp)
        if info.frames == 0:
            raise TtsError(f"rendering produced only silence for {dest.name}")
        os.replace(tmp, dest)
        return info
    finally:
        tmp.unlink(missing_ok=True)


def read_wav_info(path: Path) -> WavInfo:
    """Header facts of a PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        return WavInfo(wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())


def join_wavs(parts: Sequence[Path], dest: Path, *, gap_ms: int = 0) -> WavInfo:
    """Concatenate telephone WAVs (same format) into `dest`, with `gap_ms` of silence between.

    Pure Python, no subprocess: joining is a copy of frames, far cheaper than rendering.
    """
    if not parts:
        raise ValueError("nothing to join: no parts given")
    gap = b"\x00" * (SAMPLE_RATE * gap_ms // 1000) * SAMPLE_WIDTH * CHANNELS
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    frames = 0
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(CHANNELS)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(SAMPLE_RATE)
            for index, part in enumerate(parts):
                with wave.open(str(part), "rb") as wav:
                    shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
                    if shape != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH):
                        raise ValueError(
                            f"{part} is {shape[0]} Hz, {shape[1]} channel(s), "
                            f"{shape[2] * 8}-bit; expected 8000 Hz mono 16-bit"
                        )
                    if index and gap:
                        out.writeframes(gap)
                        frames += len(gap) // SAMPLE_WIDTH
                    out.writeframes(wav.readframes(wav.getnframes()))
                    frames += wav.getnframes()
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return WavInfo(SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH, frames)


@functools.cache
def sox_reads_mp3() -> bool:
    """Whether this machine's sox was built with MP3 support."""
    sox = shutil.which("sox")
    if sox is None:
        return False
    result = subprocess.run([sox, "-h"], capture_output=True, text=True, check=False)
    formats = next(
        (line for line in result.stdout.splitlines() if line.startswith("AUDIO FILE FORMATS")), ""
    )
    return "mp3" in formats.split()


def _run(command: list[str], *, stdin: bytes | None = None) -> None:
    try:
        subprocess.run(
            command, input=stdin, capture_output=True, check=True, timeout=_SUBPROCESS_TIMEOUT_S
        )
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip()
        raise TtsError(
            f"{Path(command[0]).name} failed (exit {exc.returncode}): {detail}"
        ) from None
    except subprocess.TimeoutExpired:
        raise TtsError(
            f"{Path(command[0]).name} took longer than {_SUBPROCESS_TIMEOUT_S} s"
        ) from None


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
