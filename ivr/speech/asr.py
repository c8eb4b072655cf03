"""Speech recognition of a live call, behind a small interface.

Twilio Media Streams deliver 8 kHz mu-law; `mulaw_decode` turns it into
16-bit PCM for a `Recognizer` stream opened from an `AsrEngine`:
`VoskEngine` (the default; one model per process, shared by every stream)
or `PocketsphinxEngine` (its bundled US English model, restricted to a list
of phrases). `download_vosk_model` fetches an official small model.
"""

from __future__ import annotations

import array
import json
import logging
import shutil
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ivr.speech.languages import require_language

if TYPE_CHECKING:
    from ivr.config import Config

log = logging.getLogger(__name__)


# --- G.711 mu-law --------------------------------------------------------

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def _mulaw_to_linear(byte: int) -> int:
    u = ~byte & 0xFF
    magnitude = (((u & 0x0F) << 3) + _MULAW_BIAS) << ((u >> 4) & 0x07)
    return _MULAW_BIAS - magnitude if u & 0x80 else magnitude - _MULAW_BIAS


def _linear_to_mulaw(sample: int) -> int:
    # Negative samples use the one's complement (-x - 1), as ITU-T G.191's reference does.
    sign = 0x80 if sample < 0 else 0
    magnitude = min(~sample if sample < 0 else sample, _MULAW_CLIP) + _MULAW_BIAS
    exponent = magnitude.bit_length() - 8  # position of the top bit above 0x80
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


_DECODED = [_mulaw_to_linear(b) for b in range(256)]
# Two 256-byte translation tables, one per byte of the little-endian sample,
# so decoding is two C-speed bytes.translate calls and two slice assignments.
_DECODE_LOW = bytes(s & 0xFF for s in _DECODED)
_DECODE_HIGH = bytes((s >> 8) & 0xFF for s in _DECODED)
# Encoding indexed by the unsigned 16-bit view of each signed sample.
_ENCODE = bytes(_linear_to_mulaw(u - 0x10000 if u >= 0x8000 else u) for u in range(0x10000))


def mulaw_decode(data: bytes) -> bytes:
    """8-bit G.711 mu-law → 16-bit signed little-endian PCM, same sample rate."""
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(_DECODE_LOW)
    out[1::2] = data.translate(_DECODE_HIGH)
    return bytes(out)


def mulaw_encode(pcm16: bytes) -> bytes:
    """16-bit signed little-endian PCM → 8-bit G.711 mu-law (tests, the carrier emulator)."""
    if len(pcm16) % 2:
        raise ValueError(f"PCM16 data has an odd length ({len(pcm16)} bytes)")
    samples = array.array("H", pcm16)
    if sys.byteorder == "big":
        samples.byteswap()
    return bytes(map(_ENCODE.__getitem__, samples))


# --- The recogniser interface ------------------------------------------


@dataclass(frozen=True)
class PartialResult:
    """What the recogniser heard so far. `final` is True when it closed an utterance."""

    text: str
    final: bool = False


class Recognizer(Protocol):
    """One audio stream being transcribed (one call leg)."""

    def accept_pcm16(self, chunk: bytes) -> PartialResult | None:
        """Feed 16-bit little-endian mono PCM; return news (changed text), or None."""
        ...

    def final(self) -> str:
        """End the stream and return the whole transcript."""
        ...


class AsrEngine(Protocol):
    name: str

    def open_stream(self, sample_rate: int = 8000) -> Recognizer:
        """A new recogniser for one stream at `sample_rate` Hz."""
        ...


# --- Vosk ----------------------------------------------------------------

_vosk_models: dict[Path, Any] = {}
_vosk_models_lock = threading.Lock()


class VoskEngine:
    """Vosk (Kaldi) streaming recognition. The model is loaded once per process
    and path, on first use, and shared by every stream; each stream has its own
    KaldiRecognizer."""

    name = "vosk"

    def __init__(self, model_path: Path | str) -> None:
        self.model_path = Path(model_path)

    @property
    def model(self) -> Any:
        key = self.model_path.resolve()
        with _vosk_models_lock:
            model = _vosk_models.get(key)
            if model is None:
                model = _load_vosk_model(key)
                _vosk_models[key] = model
            return model

    def open_stream(self, sample_rate: int = 8000) -> VoskStream:
        import vosk

        return VoskStream(vosk.KaldiRecognizer(self.model, sample_rate))


def _load_vosk_model(path: Path) -> Any:
    if not (path / "am").is_dir() and not (path / "conf").is_dir():
        raise FileNotFoundError(
            f"no Vosk model at {path}; set VOSK_MODEL_PATH to an unzipped model folder "
            "(`cordial speech download-model pt-BR` fetches one)"
        )
    import vosk

    vosk.SetLogLevel(-1)
    log.info("asr: loading Vosk model from %s", path)
    return vosk.Model(str(path))


class VoskStream:
    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer
        self._utterances: list[str] = []
        self._partial = ""

    def accept_pcm16(self, chunk: bytes) -> PartialResult | None:
        if self._recognizer.AcceptWaveform(chunk):
            text = json.loads(self._recognizer.Result()).get("text", "").strip()
            self._partial = ""
            if text:
                self._utterances.append(text)
                return PartialResult(text, final=True)
            return None
        partial = json.loads(self._recognizer.PartialResult()).get("partial", "").strip()
        if partial and partial != self._partial:
            self._partial = partial
            return PartialResult(partial)
        return None

    def final(self) -> str:
        text = json.loads(self._recognizer.FinalResult()).get("text", "").strip()
        if text:
            self._utterances.append(text)
        return " ".join(self._utterances)


# --- PocketSphinx ----------------------------------------------------------


class PocketsphinxEngine:
    """PocketSphinx with its bundled US English model, restricted to `phrases`.

    mode "grammar" (default) builds a JSGF grammar of the phrases: robust, but
    everything heard is matched to some phrase. mode "keywords" spots the
    phrases in free speech with `keyword_threshold` (tune per phrase length).
    The model is wideband, so 8 kHz audio is upsampled to 16 kHz on the way in.
    A Decoder is not thread-safe: each stream gets its own.
    """

    name = "pocketsphinx"
    _MODEL_RATE = 16000

    def __init__(
        self,
        phrases: Sequence[str],
        *,
        mode: str = "grammar",
        keyword_threshold: float = 1e-20,
    ) -> None:
        if mode not in ("grammar", "keywords"):
            raise ValueError(
                f"pocketsphinx mode {mode!r} is not valid; expected 'grammar' or 'keywords'"
            )
        cleaned = [" ".join(p.lower().split()) for p in phrases]
        if not cleaned or not all(cleaned):
            raise ValueError("pocketsphinx needs at least one non-empty phrase")
        self.phrases = tuple(dict.fromkeys(cleaned))
        self.mode = mode
        self.keyword_threshold = keyword_threshold
        self._checked = False

    def jsgf(self) -> str:
        alternatives = " | ".join(self.phrases)
        return f"#JSGF V1.0;\ngrammar cordial;\npublic <utterance> = ( {alternatives} )+ ;\n"

    def open_stream(self, sample_rate: int = 8000) -> PocketsphinxStream:
        if sample_rate not in (8000, self._MODEL_RATE):
            raise ValueError(f"sample rate {sample_rate} is not supported; expected 8000 or 16000")
        from pocketsphinx import Decoder

        decoder = Decoder(lm=None, loglevel="FATAL")
        if not self._checked:
            unknown = {w for p in self.phrases for w in p.split() if decoder.lookup_word(w) is None}
            if unknown:
                raise ValueError(
                    f"words {sorted(unknown)} are not in pocketsphinx's dictionary; rephrase them"
                )
            self._checked = True
        if self.mode == "grammar":
            decoder.add_jsgf_string("cordial", self.jsgf())
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".kws", delete=False) as keyfile:
                keyfile.writelines(f"{p} /{self.keyword_threshold:g}/\n" for p in self.phrases)
            try:
                decoder.add_kws("cordial", keyfile.name)
            finally:
                Path(keyfile.name).unlink(missing_ok=True)
        decoder.activate_search("cordial")
        return PocketsphinxStream(decoder, upsample=sample_rate == 8000)


class PocketsphinxStream:
    def __init__(self, decoder: Any, *, upsample: bool) -> None:
        self._decoder = decoder
        self._upsample = upsample
        self._previous = 0  # last sample of the previous chunk, for interpolation
        self._partial = ""
        self._decoder.start_utt()

    def accept_pcm16(self, chunk: bytes) -> PartialResult | None:
        if self._upsample:
            chunk = self._to_16k(chunk)
        self._decoder.process_raw(chunk, False, False)
        hypothesis = self._decoder.hyp()
        text = " ".join(hypothesis.hypstr.split()) if hypothesis is not None else ""
        if text and text != self._partial:
            self._partial = text
            return PartialResult(text)
        return None

    def final(self) -> str:
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return " ".join(hypothesis.hypstr.split()) if hypothesis is not None else ""

    def _to_16k(self, chunk: bytes) -> bytes:
        """Double the rate by linear interpolation: a midpoint before every sample."""
        if len(chunk) % 2:
            raise ValueError(f"PCM16 chunk has an odd length ({len(chunk)} bytes)")
        samples = array.array("h", chunk)
        if sys.byteorder == "big":
            samples.byteswap()
        if not samples:
            return b""
        out = array.array("h", bytes(4 * len(samples)))
        out[1::2] = samples
        previous = [self._previous, *samples[:-1]]
        out[0::2] = array.array("h", [(a + b) >> 1 for a, b in zip(previous, samples, strict=True)])
        self._previous = samples[-1]
        if sys.byteorder == "big":
            out.byteswap()
        return out.tobytes()


# --- Choosing an engine, getting a model ---------------------------------


def asr_engine_from_config(config: Config, *, phrases: Sequence[str] = ()) -> AsrEngine:
    """The engine named by CORDIAL_ASR_ENGINE (Vosk needs VOSK_MODEL_PATH)."""
    choice = config.get("CORDIAL_ASR_ENGINE")
    if choice == "pocketsphinx":
        return PocketsphinxEngine(phrases)
    model_path = config.get("VOSK_MODEL_PATH")
    if not model_path:
        raise ValueError(
            "VOSK_MODEL_PATH is empty; set it to an unzipped Vosk model folder "
            "(`cordial speech download-model pt-BR` fetches one)"
        )
    return VoskEngine(model_path)


VOSK_MODEL_BASE_URL = "https://alphacephei.com/vosk/models/"
VOSK_MODELS = {"pt-BR": "vosk-model-small-pt-0.3", "en-US": "vosk-model-small-en-us-0.15"}


class ModelDownloadError(RuntimeError):
    """The model could not be fetched or unpacked."""


def download_vosk_model(
    language: str, dest: Path | str, *, base_url: str = VOSK_MODEL_BASE_URL, timeout_s: float = 30.0
) -> Path:
    """Download and unzip the official small Vosk model for `language` into `dest`;
    return the model folder (the value for VOSK_MODEL_PATH)."""
    name = VOSK_MODELS[require_language(language)]
    dest = Path(dest)
    target = dest / name
    if (target / "am").is_dir():
        return target
    url = f"{base_url.rstrip('/')}/{name}.zip"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as work:
        archive = Path(work) / f"{name}.zip"
        try:
            with (
                urllib.request.urlopen(url, timeout=timeout_s) as response,
                open(archive, "wb") as out,
            ):
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelDownloadError(
                f"could not download the {language} Vosk model from {url}: {reason}. "
                f"On a machine without internet, download {url} elsewhere, unzip it into "
                f"{dest} and set VOSK_MODEL_PATH={target}"
            ) from None
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    resolved = (Path(work) / member).resolve()
                    if not resolved.is_relative_to(Path(work).resolve()):
                        raise ModelDownloadError(f"{url} holds an unsafe path {member!r}")
                bundle.extractall(work)
        except zipfile.BadZipFile as exc:
            raise ModelDownloadError(f"{url} is not a valid zip file: {exc}") from None
        unpacked = Path(work) / name
        if not unpacked.is_dir():
            raise ModelDownloadError(f"{url} does not contain the folder {name}/")
        unpacked.rename(target)
    return target
