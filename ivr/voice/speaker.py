"""The one place a prompt becomes TwiML: <Play> of pre-rendered audio when it
exists, else <Say> in the debtor's language and voice, with a log line that
says why (a prompt never rendered, a call whose personal audio was not
prepared; callback slots are always said live, see `prompt_timing`).

`CallReply` is the TwiML answer to one webhook. It has no bare hang-up: a call
ends only through `end(key)`, which speaks a prompt first, so the flow can
never hang up on a person in silence (invariant 8).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.voice.prompt_catalog import LIVE, PER_CALL, PromptCatalog, PromptError, prompt_timing
from ivr.voice.twiml_text import twiml_text

log = logging.getLogger(__name__)


class PromptAudio(Protocol):
    """Where pre-rendered audio of a sentence lives, if it was rendered.

    Must answer from memory (a manifest loaded at start-up): it is asked
    inside webhooks, where no file I/O and no TTS may happen."""

    def url_for(self, key: str, language: str, text: str) -> str | None: ...


class NoPromptAudio:
    """No pre-rendered audio: every prompt is spoken with <Say>."""

    def url_for(self, key: str, language: str, text: str) -> str | None:
        return None


@dataclass(frozen=True)
class Line:
    """One prompt to speak: its key and the placeholders particular to it."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


def line(key: str, **params: Any) -> Line:
    return Line(key, params)


class Speaker:
    def __init__(self, catalog: PromptCatalog, audio: PromptAudio | None = None) -> None:
        self.catalog = catalog
        self.audio: PromptAudio = audio or NoPromptAudio()

    def speak(
        self, verb: VoiceResponse | Gather, key: str, language: str, params: Mapping[str, Any]
    ) -> str:
        """Append the prompt to `verb` (a response or a Gather); return the text said."""
        text = self.catalog.text(key, language, params)
        url = self.audio.url_for(key, language, text)
        if url:
            verb.play(url)
        else:
            verb.say(text, language=language, voice=self.catalog.book(language).voice or None)
            if not isinstance(self.audio, NoPromptAudio):
                _note_said_without_audio(self.catalog, key, language)
        return text


_warned_lock = threading.Lock()
_warned: set[tuple[str, str]] = set()


def _note_said_without_audio(catalog: PromptCatalog, key: str, language: str) -> None:
    """Log why a prompt is said with <Say>; never the text, which may be personal."""
    try:
        timing = prompt_timing(catalog.book(language), key)
    except PromptError:
        timing = None
    if timing == LIVE:
        log.debug("prompt %s (%s): said live with <Say> (it depends on the moment)", key, language)
    elif timing == PER_CALL:
        log.info(
            "prompt %s (%s): no personal audio prepared for this call; said with <Say>",
            key,
            language,
        )
    else:
        with _warned_lock:
            first = (key, language) not in _warned
            _warned.add((key, language))
        # Once per process at warning level: a missing rendering affects every call.
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "prompt %s (%s): no rendered audio for its current text; said with <Say> "
            "(run `cordial prompts render`)",
            key,
            language,
        )


QUEUE_NAME = "agents"
# Asked of the audio catalog (with empty text) for music to play while a caller waits.
HOLD_MUSIC_KEY = "hold_music"
MIN_SECONDS_BEFORE_HANGUP = 6  # invariant 8 / BR-ANATEL-SHORT
SPOKEN_CHARS_PER_SECOND = 15  # a brisk text-to-speech rate; errs towards "too short"


class CallReply:
    """The TwiML answer to one voice webhook, in one language."""

    def __init__(
        self, speaker: Speaker, language: str, common: Mapping[str, Any], *, answering: bool = False
    ) -> None:
        self.speaker = speaker
        self.language = language
        self.common = dict(common)  # placeholders every prompt may use (company, ...)
        self.answering = answering  # the first TwiML of the call: nothing was said before it
        self.response = VoiceResponse()
        self.spoken: list[str] = []  # keys said, in order (for events and tests)
        self._spoken_chars = 0

    def _speak(self, verb: VoiceResponse | Gather, prompt: Line) -> None:
        params = {**self.common, **prompt.params} if prompt.params else self.common
        text = self.speaker.speak(verb, prompt.key, self.language, params)
        self.spoken.append(prompt.key)
        self._spoken_chars += len(text)

    def say(self, key: str, **params: Any) -> CallReply:
        self._speak(self.response, Line(key, params))
        return self

    def say_lines(self, lines: Sequence[Line]) -> CallReply:
        for prompt in lines:
            self._speak(self.response, prompt)
        return self

    def pause(self, seconds: int) -> CallReply:
        self.response.pause(length=seconds)
        return self

    def ask(
        self,
        lines: Sequence[Line],
        *,
        action: str,
        no_answer_url: str,
        digits: int = 1,
        timeout_seconds: int = 6,
    ) -> CallReply:
        """Speak `lines` inside a <Gather> so a key cuts them short; with no key the call
        goes to `no_answer_url` (never dead air)."""
        gather = self.response.gather(
            input="dtmf", action=action, method="POST", num_digits=digits, timeout=timeout_seconds
        )
        for prompt in lines:
            self._speak(gather, prompt)
        self.response.redirect(no_answer_url, method="POST")
        return self

    def enqueue(self, *, wait_url: str, action: str, queue: str = QUEUE_NAME) -> CallReply:
        if not self.spoken:
            raise RuntimeError("say why the caller is put on hold before enqueueing them")
        self.response.enqueue(
            queue, action=action, method="POST", wait_url=wait_url, wait_url_method="POST"
        )
        return self

    def dial(
        self,
        kind: str,
        target: str,
        *,
        action: str,
        timeout_seconds: int,
        caller_id: str | None = None,
    ) -> CallReply:
        """Connect the caller to a person: kind is number | sip | client."""
        if not self.spoken:
            raise RuntimeError("say who the caller is being connected to before dialling")
        dial = self.response.dial(
            action=action, method="POST", timeout=timeout_seconds, caller_id=caller_id
        )
        if kind == "sip":
            dial.sip(target)
        elif kind == "client":
            dial.client(target)
        else:
            dial.number(target)
        return self

    def hold(self, *, announce: bool) -> CallReply:
        """What a queued caller hears: the hold prompt when `announce` (or when there is no
        music), then the hold music when the audio catalog has it. Never silence."""
        music = self.speaker.audio.url_for(HOLD_MUSIC_KEY, self.language, "")
        if announce or not music:
            self.say("queue_hold")
        if music:
            self.response.play(music)
        return self

    def leave_queue(self) -> CallReply:
        self.response.leave()
        return self

    def end(self, key: str, **params: Any) -> CallReply:
        """Say a last prompt, then hang up: the only way this reply ends a call. A call that
        ends in its first reply stays on the line at least MIN_SECONDS_BEFORE_HANGUP."""
        self.say(key, **params)
        if self.answering:
            short_by = MIN_SECONDS_BEFORE_HANGUP - self._spoken_chars / SPOKEN_CHARS_PER_SECOND
            if short_by > 0:
                self.pause(math.ceil(short_by))
        self.response.hangup()
        return self

    def twiml(self) -> str:
        return twiml_text(self.response)


def empty_twiml() -> str:
    """An answer with no verbs, for status callbacks."""
    return twiml_text(VoiceResponse())


__all__ = [
    "QUEUE_NAME",
    "CallReply",
    "Line",
    "NoPromptAudio",
    "PromptAudio",
    "Speaker",
    "empty_twiml",
    "line",
]
