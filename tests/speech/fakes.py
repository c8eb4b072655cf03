"""Stand-ins for engines that need the network."""

from __future__ import annotations

from pathlib import Path

from ivr.speech.tts import EngineUnavailable, EspeakEngine, GttsEngine


class FakeGoogle:
    """Stands in for gTTS (same name and voices); speaks with espeak-ng, or fails while down."""

    name = "gtts"

    def __init__(self) -> None:
        self.down = False

    def voice(self, language: str) -> str:
        return GttsEngine().voice(language)

    def synthesize(self, text: str, language: str, workdir: Path) -> Path:
        if self.down:
            raise EngineUnavailable("Failed to connect")
        return EspeakEngine().synthesize(text, language, workdir)
