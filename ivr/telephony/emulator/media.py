"""Audio the personas speak: a sentence rendered with espeak-ng and sox to
8 kHz mu-law, cut into the 20 ms frames of Twilio Media Streams, and the JSON
messages of that protocol (connected, start, media, stop)."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .transport import StreamConnection

SAMPLE_RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz, 8-bit mu-law
FRAME_SECONDS = 0.02
MULAW_SILENCE = b"\xff"
ESPEAK_VOICES = {"pt-BR": "pt-br", "en-US": "en-us"}


class MediaError(RuntimeError):
    """Speech could not be rendered."""


class SpeechRenderer:
    """Renders sentences to raw 8 kHz mu-law; caches by (text, language)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def mulaw(self, text: str, language: str) -> bytes:
        key = (text, language)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        audio = self._render(text, language)
        with self._lock:
            self._cache[key] = audio
        return audio

    def _render(self, text: str, language: str) -> bytes:
        espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
        if not espeak or not sox:
            raise MediaError(
                "rendering persona speech needs espeak-ng and sox on PATH (apt install espeak-ng sox)"
            )
        voice = ESPEAK_VOICES.get(language, language.lower())
        wav = subprocess.run(
            [espeak, "-v", voice, "--stdout", text], capture_output=True, check=False, timeout=60
        )
        if wav.returncode != 0 or not wav.stdout:
            raise MediaError(
                f"espeak-ng failed for voice {voice!r}: {wav.stderr.decode(errors='replace')}"
            )
        raw = subprocess.run(
            [
                sox,
                "-q",
                "-t",
                "wav",
                "-",
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-e",
                "mu-law",
                "-t",
                "raw",
                "-",
            ],
            input=wav.stdout,
            capture_output=True,
            check=False,
            timeout=60,
        )
        if raw.returncode != 0 or not raw.stdout:
            raise MediaError(f"sox failed: {raw.stderr.decode(errors='replace')}")
        return raw.stdout


def split_frames(audio: bytes) -> list[bytes]:
    """20 ms frames; the last one padded with mu-law silence."""
    frames = [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1] + MULAW_SILENCE * (FRAME_BYTES - len(frames[-1]))
    return frames


@dataclass
class MediaStream:
    """One `<Start><Stream>` fork of a call's audio to a WebSocket."""

    sid: str
    account_sid: str
    call_sid: str
    url: str
    name: str | None
    track: str
    parameters: dict[str, str]
    started_at: datetime
    connection: StreamConnection | None = None
    sequence: int = 0
    chunk: int = 0
    frames_sent: int = 0
    closed: bool = False

    def _next_sequence(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def connected_message(self) -> dict[str, Any]:
        return {"event": "connected", "protocol": "Call", "version": "1.0.0"}

    def start_message(self) -> dict[str, Any]:
        return {
            "event": "start",
            "sequenceNumber": self._next_sequence(),
            "start": {
                "streamSid": self.sid,
                "accountSid": self.account_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"]
                if self.track == "inbound_track"
                else ["outbound"]
                if self.track == "outbound_track"
                else ["inbound", "outbound"],
                "customParameters": dict(self.parameters),
                "mediaFormat": {
                    "encoding": "audio/x-mulaw",
                    "sampleRate": SAMPLE_RATE,
                    "channels": 1,
                },
            },
            "streamSid": self.sid,
        }

    def media_message(self, frame: bytes, at: datetime) -> dict[str, Any]:
        self.chunk += 1
        timestamp_ms = int((at - self.started_at).total_seconds() * 1000)
        return {
            "event": "media",
            "sequenceNumber": self._next_sequence(),
            "media": {
                "track": "inbound",
                "chunk": str(self.chunk),
                "timestamp": str(timestamp_ms),
                "payload": base64.b64encode(frame).decode("ascii"),
            },
            "streamSid": self.sid,
        }

    def stop_message(self) -> dict[str, Any]:
        return {
            "event": "stop",
            "sequenceNumber": self._next_sequence(),
            "streamSid": self.sid,
            "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
        }


def audio_file_seconds(data: bytes) -> float | None:
    """Length of a WAV or constant-bitrate MP3 file, if it can be read."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data)) as wav:
                return wav.getnframes() / float(wav.getframerate())
        except (wave.Error, EOFError, ZeroDivisionError):
            return None
    return _mp3_seconds(data)


_MP3_BITRATES = {
    1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],  # MPEG-1 layer III
    2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],  # MPEG-2/2.5 layer III
}


def _mp3_seconds(data: bytes) -> float | None:
    """Length of a constant-bitrate MP3, from the first frame header's bitrate."""
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        start = 10 + size
    for i in range(start, min(len(data) - 4, start + 4096)):
        if data[i] == 0xFF and (data[i + 1] & 0xE0) == 0xE0:
            version_bits = (data[i + 1] >> 3) & 0x3
            layer_bits = (data[i + 1] >> 1) & 0x3
            index = data[i + 2] >> 4
            if layer_bits != 1 or index in (0, 15) or version_bits == 1:
                continue
            table = _MP3_BITRATES[1 if version_bits == 3 else 2]
            bitrate = table[index] * 1000
            return (len(data) - i) * 8 / bitrate
    return None
