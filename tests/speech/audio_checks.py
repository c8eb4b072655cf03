"""Checks that a WAV file really holds speech in Cordial's telephone format."""

from __future__ import annotations

import array
import math
import sys
import wave
from pathlib import Path
from typing import Any

FULL_SCALE = 32767


def read_pcm(path: Path) -> tuple[Any, array.array]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return params, samples


def rms(samples: array.array) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def assert_telephone_speech(path: Path, text: str) -> None:
    """8 kHz mono 16-bit, a duration plausible for the text, and not silent."""
    assert path.is_file(), f"{path} was not written"
    params, samples = read_pcm(path)
    assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
    seconds = params.nframes / params.framerate
    assert 0.03 * len(text) <= seconds <= 0.2 * len(text), (
        f"{seconds:.2f} s for {len(text)} characters"
    )
    assert rms(samples) > 0.01 * FULL_SCALE, f"RMS {rms(samples):.0f} is near silence"
    # Normalised to -3 dBFS: the peak is loud but not clipped.
    peak = max(abs(s) for s in samples)
    assert 0.5 * FULL_SCALE < peak < 0.75 * FULL_SCALE
    # Leading silence was trimmed: speech starts within the first 100 ms.
    assert max(abs(s) for s in samples[:800]) > 0.01 * FULL_SCALE
