"""<Start><Stream>: fork a call's audio to a WebSocket as Twilio Media Streams
do. A stream is its own timeline process: it connects (signed like a webhook),
sends `connected` and `start`, then the persona's sentence as 20 ms mu-law
frames, and `stop` when the call ends or the TwiML stops it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from .media import FRAME_SECONDS, MediaError, MediaStream, split_frames
from .records import EmulatedCall
from .timeline import Sleep
from .transport import TransportError

if TYPE_CHECKING:
    from .emulator import CarrierEmulator


class MediaStreams:
    def __init__(self, emulator: CarrierEmulator) -> None:
        self.emu = emulator

    def start(self, call: EmulatedCall, el: ET.Element, doc_url: str) -> MediaStream:
        emu = self.emu
        url = urljoin(doc_url, el.get("url", ""))
        parameters = {p.get("name", ""): p.get("value", "") for p in el if p.tag == "Parameter"}
        stream = MediaStream(
            sid=emu.new_sid("MZ"),
            account_sid=emu.account_sid,
            call_sid=call.sid,
            url=url,
            name=el.get("name"),
            track=el.get("track", "inbound_track"),
            parameters=parameters,
            started_at=emu.now(),
        )
        call.streams.append(stream)
        call.note(
            emu.now(),
            "stream_start",
            stream_sid=stream.sid,
            url=url,
            name=stream.name,
            parameters=parameters,
        )
        emu.timeline.spawn(f"stream {stream.sid}", self._run(call, stream))
        return stream

    def stop(self, call: EmulatedCall, name: str | None = None) -> None:
        """Stop the call's stream called `name` (all of them when None)."""
        for stream in call.streams:
            if name is None or stream.name == name or stream.sid == name:
                self._close(call, stream)

    def _send(self, call: EmulatedCall, stream: MediaStream, message: dict[str, Any]) -> bool:
        if stream.connection is None or stream.closed:
            return False
        try:
            stream.connection.send(message)
            return True
        except TransportError as exc:
            call.note(self.emu.now(), "stream_error", stream_sid=stream.sid, error=str(exc))
            stream.closed = True
            stream.connection.close()
            return False

    def _run(self, call: EmulatedCall, stream: MediaStream) -> Generator[Sleep, None, None]:
        emu = self.emu
        headers = {"X-Twilio-Signature": emu.sign(stream.url, []), "User-Agent": "Twilio.TmeWs/1.0"}
        try:
            stream.connection = emu.transport.open_stream(stream.url, headers)
        except TransportError as exc:
            call.note(emu.now(), "stream_error", stream_sid=stream.sid, error=str(exc))
            stream.closed = True
            return
        if stream.closed:  # the call ended while connecting
            stream.connection.close()
            return
        self._send(call, stream, stream.connected_message())
        self._send(call, stream, stream.start_message())
        speech = call.persona.speech
        if not speech:
            return
        yield Sleep(call.persona.speech_delay_seconds)
        if stream.closed:
            return
        try:
            audio = emu.speech.mulaw(speech, call.persona.language)
        except MediaError as exc:
            call.note(emu.now(), "stream_error", stream_sid=stream.sid, error=str(exc))
            return
        frames = split_frames(audio)
        call.note(emu.now(), "spoke", text=speech, frames=len(frames), stream_sid=stream.sid)
        offset = emu.now() - stream.started_at
        step = emu.media_frames_per_step
        for start in range(0, len(frames), step):
            batch = frames[start : start + step]
            for i, frame in enumerate(batch):
                at = stream.started_at + offset + timedelta(seconds=FRAME_SECONDS * (start + i))
                if not self._send(call, stream, stream.media_message(frame, at)):
                    return
                stream.frames_sent += 1
            yield Sleep(FRAME_SECONDS * len(batch))
        call.note(emu.now(), "stream_frames", stream_sid=stream.sid, frames=stream.frames_sent)

    def _close(self, call: EmulatedCall, stream: MediaStream) -> None:
        if stream.closed:
            return
        self._send(call, stream, stream.stop_message())
        stream.closed = True
        if stream.connection is not None:
            stream.connection.close()
        call.note(self.emu.now(), "stream_stop", stream_sid=stream.sid, frames=stream.frames_sent)
