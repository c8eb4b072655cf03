"""The local carrier emulator: Twilio's call and message resources and the
phone network behind them, on one discrete-event timeline.

``rest_api.py`` parses Twilio's REST requests and calls the typed methods here
(``create_call``, ``update_call``, ``create_message``); the network side is the
call processes of ``interpreter.py``, with queues and bridges in
``switchboard.py`` and media streams in ``streams.py``. Every webhook is
signed with ``RequestValidator(auth_token)`` exactly as Twilio signs it.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import re
import threading
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

from ivr.clock import Clock, SystemClock
from ivr.config import EMULATOR_WHATSAPP_CONTENT_SIDS, EMULATOR_WHATSAPP_FROM
from ivr.telephony.dev_credentials import EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN

from .faults import FaultPlan
from .interpreter import CallInterpreter, HungUp, Redirected
from .media import SpeechRenderer, audio_file_seconds
from .personas import AgentSimulation, Persona, PersonaChooser
from .records import EmulatedCall, EmulatedMessage
from .streams import MediaStreams
from .switchboard import Switchboard
from .timeline import Timeline
from .transport import HttpTransport, Transport, TransportError, WebhookResponse

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
TWILIO_API_BASE = "https://api.twilio.com"
SIP_RESPONSE_CODES = {
    "completed": "200",
    "busy": "486",
    "no-answer": "487",
    "canceled": "487",
    "failed": "500",
}
DEFAULT_PLAY_SECONDS = 3.0  # a <Play> whose file cannot be read
# WhatsApp's customer service window: free-form messages reach a user only this long after
# the user last wrote to the business; outside it, only approved templates do.
WHATSAPP_SERVICE_WINDOW = timedelta(hours=24)
# Why a message was not delivered (Twilio's error codes, reported in the status callback).
MESSAGE_ERRORS = {
    30003: "Unreachable destination handset",
    63007: "Twilio could not find a Channel with the specified From address",
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
}
_CONTENT_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def cordial_content_templates() -> dict[str, str]:
    """The emulator account's approved templates: Cordial's WhatsApp second copy in each
    language, under the SIDs CORDIAL_CARRIER=emulator uses by default."""
    from ivr.messaging.message_templates import message_books

    return {
        EMULATOR_WHATSAPP_CONTENT_SIDS[language]: book.whatsapp_second_copy.text
        for language, book in message_books().items()
        if book.whatsapp_second_copy is not None and language in EMULATOR_WHATSAPP_CONTENT_SIDS
    }


class ApiError(Exception):
    """A Twilio-style REST error: HTTP status, Twilio error code, message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def rfc2822(instant: datetime | None) -> str | None:
    return format_datetime(instant, usegmt=False) if instant is not None else None


@dataclass
class Recording:
    sid: str
    call_sid: str
    account_sid: str
    duration: int
    url: str

    def action_params(self) -> list[tuple[str, str]]:
        return [
            ("RecordingUrl", self.url),
            ("RecordingSid", self.sid),
            ("RecordingDuration", str(self.duration)),
        ]


class CarrierEmulator:
    """Twilio's REST API subset and phone network, for development and simulation.

    Virtual time: give a `VirtualClock` and drive with `run_until` /
    `run_until_idle`; use a `WsgiTransport` to reach the app in-process and
    `carrier()` for an in-process SDK carrier. Real time: `serve()` starts the
    REST server on 127.0.0.1 and the network in background threads."""

    def __init__(
        self,
        *,
        account_sid: str = EMULATOR_ACCOUNT_SID,
        auth_token: str = EMULATOR_AUTH_TOKEN,
        clock: Clock | None = None,
        transport: Transport | None = None,
        personas: PersonaChooser | None = None,
        agents: dict[str, AgentSimulation] | None = None,
        default_agent: AgentSimulation | None = None,
        duplicate_status_callbacks: bool = False,
        speech: SpeechRenderer | None = None,
        media_frames_per_step: int = 10,
        play_captions: Callable[[str], str | None] | None = None,
        seed: str = "cordial",
        time_scale: float = 1.0,
        whatsapp_senders: Iterable[str] | None = None,
        content_templates: Mapping[str, str] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.clock: Clock = clock or SystemClock()
        self.transport: Transport = transport or HttpTransport()
        self.personas = personas or PersonaChooser.default()
        self.agents: dict[str, AgentSimulation] = dict(agents or {})
        self.default_agent = default_agent or AgentSimulation()
        self.duplicate_status_callbacks = duplicate_status_callbacks
        self.speech = speech or SpeechRenderer()
        self.media_frames_per_step = max(1, media_frames_per_step)
        self.play_captions = play_captions
        self.seed = seed
        self.public_base_url = TWILIO_API_BASE  # where recordings are served; set by serve()
        self.validator = RequestValidator(auth_token)
        self.timeline = Timeline(self.clock, time_scale)
        self.faults = FaultPlan()
        self.switchboard = Switchboard(self)
        self.streams = MediaStreams(self)
        self.undeliverable: set[str] = set()  # message recipients whose messages fail
        # The account's WhatsApp-enabled senders (E.164, no prefix); WhatsApp messages from any
        # other number fail (63007).
        senders = [EMULATOR_WHATSAPP_FROM] if whatsapp_senders is None else whatsapp_senders
        self.whatsapp_senders: set[str] = {n.removeprefix("whatsapp:") for n in senders}
        # The account's approved content templates: SID -> text with {{1}}, {{2}}, ...
        self.content_templates: dict[str, str] = (
            dict(content_templates)
            if content_templates is not None
            else cordial_content_templates()
        )
        # When each WhatsApp user last wrote to each sender: (user, sender) -> instant.
        self.whatsapp_inbound: dict[tuple[str, str], datetime] = {}
        self.calls: dict[str, EmulatedCall] = {}
        self.messages: dict[str, EmulatedMessage] = {}
        self.recordings: dict[str, Recording] = {}
        self.stopping = threading.Event()
        self._interpreter = CallInterpreter(self)
        self._ids = itertools.count(1)
        self._attempts_by_number: dict[str, int] = {}
        self._media_seconds: dict[str, float] = {}
        self._rest_app: Any = None

    # --- time -------------------------------------------------------------
    @property
    def lock(self) -> threading.RLock:
        return self.timeline.lock

    def now(self) -> datetime:
        return self.clock.now()

    def run_until(self, instant: datetime, max_events: int | None = None) -> int:
        """Virtual time: process every event up to `instant`; the clock ends there."""
        return self.timeline.run_until(instant, max_events)

    def run_for(self, seconds: float) -> int:
        return self.timeline.run_until(self.now() + timedelta(seconds=seconds))

    def run_until_idle(self, max_events: int = 1_000_000) -> int:
        """Virtual time: process events until nothing is left to happen."""
        return self.timeline.run_until_idle(max_events)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Real time: block until `predicate()` holds, re-checked after each event."""
        return self.timeline.wait_for(predicate, timeout)

    def wait_for_call_end(self, sid: str, timeout: float = 10.0) -> EmulatedCall:
        if not self.wait_for(lambda: sid in self.calls and self.calls[sid].finalized, timeout):
            raise TimeoutError(f"call {sid} did not end within {timeout} s")
        return self.calls[sid]

    # --- entry points -----------------------------------------------------
    @property
    def rest_app(self) -> Any:
        """The WSGI app serving the REST API."""
        if self._rest_app is None:
            from .rest_api import create_rest_app

            self._rest_app = create_rest_app(self)
        return self._rest_app

    def carrier(self, **kwargs: Any) -> Any:
        """An `EmulatorCarrier`: the Twilio adapter whose SDK reaches this emulator
        in-process (no socket). Keyword arguments go to `TwilioCarrier`."""
        from .sdk_client import EmulatorCarrier

        return EmulatorCarrier(self, **kwargs)

    def serve(self, host: str = "127.0.0.1", port: int = 0, realtime: bool = True) -> Any:
        """Context manager (`EmulatorServer`): the REST API on a loopback socket and,
        when `realtime`, the network running against the clock in a thread."""
        from .server import EmulatorServer

        return EmulatorServer(self, host=host, port=port, realtime=realtime)

    # --- inspection ---------------------------------------------------------
    def call(self, sid: str) -> EmulatedCall:
        return self.calls[sid]

    def calls_to(self, number: str) -> list[EmulatedCall]:
        with self.lock:
            return [c for c in self.calls.values() if c.to == number]

    def assign_persona(self, number: str, persona: Persona | str) -> None:
        self.personas.assign(number, persona)

    def audit_log(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": [c.to_dict() for c in self.calls.values()],
                "messages": [m.to_dict() for m in self.messages.values()],
            }

    def write_audit_log(self, path: Path) -> None:
        """One JSON object per line: every call and message with its full log."""
        data = self.audit_log()
        with open(path, "w", encoding="utf-8") as fh:
            for item in data["calls"]:
                fh.write(json.dumps({"type": "call", **item}, ensure_ascii=False) + "\n")
            for item in data["messages"]:
                fh.write(json.dumps({"type": "message", **item}, ensure_ascii=False) + "\n")

    def new_sid(self, prefix: str) -> str:
        """Twilio-shaped and repeatable: the prefix and 32 hex digits from the seed."""
        n = next(self._ids)
        return prefix + hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()[:32]

    # --- calls (REST) -----------------------------------------------------------
    def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str | None = None,
        method: str = "POST",
        twiml: str | None = None,
        fallback_url: str | None = None,
        fallback_method: str = "POST",
        status_callback: str | None = None,
        status_callback_method: str = "POST",
        status_callback_events: Iterable[str] = ("completed",),
        machine_detection: str | None = None,
        record: bool = False,
        timeout: int = 60,
    ) -> EmulatedCall:
        with self.lock:
            attempt = self._attempts_by_number.get(to, 0)
            self._attempts_by_number[to] = attempt + 1
            now = self.now()
            call = EmulatedCall(
                sid=self.new_sid("CA"),
                account_sid=self.account_sid,
                to=to,
                from_=from_,
                persona=self.personas.choose(to, attempt),
                date_created=now,
                date_updated=now,
                url=url,
                method=method.upper(),
                twiml=twiml,
                fallback_url=fallback_url,
                fallback_method=fallback_method.upper(),
                status_callback=status_callback,
                status_callback_method=status_callback_method.upper(),
                status_callback_events=frozenset(status_callback_events),
                machine_detection=machine_detection,
                record=record,
                timeout=timeout,
            )
            self.calls[call.sid] = call
            call.note(
                now,
                "created",
                persona=call.persona.name,
                url=url,
                timeout=timeout,
                machine_detection=machine_detection,
                record=record,
            )
            call.process = self.timeline.spawn(
                f"call {call.sid}",
                self._interpreter.run_call(call),
                on_exit=lambda error: self._process_exit(call, error),
            )
        return call

    def get_call(self, sid: str) -> EmulatedCall:
        call = self.calls.get(sid)
        if call is None:
            raise ApiError(404, 20404, f"The requested resource Calls/{sid}.json was not found")
        return call

    def update_call(
        self,
        sid: str,
        *,
        status: str | None = None,
        url: str | None = None,
        method: str = "POST",
        twiml: str | None = None,
    ) -> EmulatedCall:
        """Hang up (`status` completed / canceled) or redirect (`url` or `twiml`) a call."""
        with self.lock:
            call = self.get_call(sid)
            now = self.now()
            if status is not None:
                call.note(now, "api_update", status=status)
                if call.ended or (status == "canceled" and call.live):
                    return call  # canceled only stops calls not yet answered
                final = "completed" if call.live else "canceled"
                call.status, call.end_time, call.hangup_source = final, now, "api"
                call.date_updated = now
                if call.process is not None:
                    self.timeline.interrupt(call.process, HungUp("api", final))
                self.timeline.notify()
                return call
            if call.ended:
                raise ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
            call.note(now, "api_update", url=url, method=method, twiml=twiml)
            call.date_updated = now
            if call.twiml_started and call.live and call.process is not None:
                self.timeline.interrupt(
                    call.process,
                    Redirected(url, method.upper(), twiml),
                    condition=lambda: call.live,
                )
            else:  # not answered yet: the new TwiML runs when it is
                call.url, call.method, call.twiml = url, method.upper(), twiml
            return call

    # --- messages (REST) ----------------------------------------------------------
    def create_message(
        self,
        *,
        to: str,
        from_: str,
        body: str | None = None,
        status_callback: str | None = None,
        content_sid: str | None = None,
        content_variables: Mapping[str, str] | None = None,
    ) -> EmulatedMessage:
        """Accept a message as Twilio does (queued), then deliver it or report, through the
        status callback, why not: a WhatsApp message from a number that is not a WhatsApp
        sender fails (63007), and a free-form one (no template) to a user who has not written
        within 24 hours fails (63016); recipients in `undeliverable` are unreachable (30003)."""
        with self.lock:
            now = self.now()
            if content_sid is not None:
                template = self.content_templates.get(content_sid)
                if template is None:
                    raise ApiError(400, 21655, "The ContentSid is Invalid")
                variables = dict(content_variables or {})
                body = _CONTENT_VARIABLE.sub(
                    lambda m: variables.get(m.group(1), m.group(0)), template
                )
            message = EmulatedMessage(
                sid=self.new_sid("SM"),
                account_sid=self.account_sid,
                to=to,
                from_=from_,
                body=body or "",
                date_created=now,
                date_updated=now,
                status_callback=status_callback,
                content_sid=content_sid,
                content_variables=None if content_variables is None else dict(content_variables),
            )
            self.messages[message.sid] = message
            message.note(
                now,
                "created",
                channel=message.channel,
                body=message.body,
                content_sid=content_sid,
                content_variables=message.content_variables,
            )
            final, error = self._message_fate(message, now)
            label = f"message {message.sid}"
            self.timeline.after(0.0, lambda: self._message_progress(message, "queued"), label)
            if final == "failed":  # refused by the channel: never sent
                self.timeline.after(
                    1.0, lambda: self._message_progress(message, final, error), label
                )
            else:
                self.timeline.after(1.0, lambda: self._message_progress(message, "sent"), label)
                self.timeline.after(
                    3.0, lambda: self._message_progress(message, final, error), label
                )
            self.timeline.notify()
        return message

    def receive_whatsapp(self, from_: str, to: str = EMULATOR_WHATSAPP_FROM) -> None:
        """The user `from_` wrote to the WhatsApp sender `to`: for 24 hours the sender may
        answer with free-form messages (WhatsApp's customer service window)."""
        with self.lock:
            key = (from_.removeprefix("whatsapp:"), to.removeprefix("whatsapp:"))
            self.whatsapp_inbound[key] = self.now()

    def _message_fate(self, message: EmulatedMessage, now: datetime) -> tuple[str, int | None]:
        """How a message ends: final status and error code."""
        to, from_ = message.to.removeprefix("whatsapp:"), message.from_.removeprefix("whatsapp:")
        if message.channel == "whatsapp":
            if from_ not in self.whatsapp_senders:
                return "failed", 63007
            wrote = self.whatsapp_inbound.get((to, from_))
            in_window = wrote is not None and now - wrote < WHATSAPP_SERVICE_WINDOW
            if message.content_sid is None and not in_window:
                return "failed", 63016
        if to in self.undeliverable:
            return "undelivered", 30003
        return "delivered", None

    def get_message(self, sid: str) -> EmulatedMessage:
        message = self.messages.get(sid)
        if message is None:
            raise ApiError(404, 20404, f"The requested resource Messages/{sid}.json was not found")
        return message

    def _message_progress(
        self, message: EmulatedMessage, status: str, error_code: int | None = None
    ) -> None:
        now = self.now()
        message.status, message.date_updated = status, now
        if status == "sent":
            message.date_sent = now
        if error_code is not None:
            message.error_code = error_code
        message.note(now, "status", status=status, error_code=error_code)
        if not message.status_callback:
            return
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", API_VERSION),
            ("From", message.from_),
            ("To", message.to),
            ("MessageSid", message.sid),
            ("SmsSid", message.sid),
            ("MessageStatus", status),
            ("SmsStatus", status),
        ]
        if error_code is not None:
            params.append(("ErrorCode", str(error_code)))
        token = self.new_sid("")
        for delivery in range(1, 3 if self.duplicate_status_callbacks else 2):
            response = self._post_signed("POST", message.status_callback, params, token)
            message.note(
                now,
                "status_callback",
                status=status,
                url=message.status_callback,
                delivery=delivery,
                http_status=response.status if response else None,
            )

    # --- the life of a call (called by the interpreter) ---------------------------
    def _process_exit(self, call: EmulatedCall, error: BaseException | None) -> None:
        if error is not None:
            call.note(self.now(), "emulator_error", error=repr(error))
            self.timeline.errors.append(error)
        if not call.finalized:
            self.end_call(call, "failed" if error is not None else "completed", "system")

    def _check_not_ended(self, call: EmulatedCall) -> None:
        # A REST update may have ended the call from another thread just now.
        if call.ended:
            raise HungUp(call.hangup_source or "api", call.status)

    def mark_initiated(self, call: EmulatedCall) -> None:
        now = self.now()
        call.start_time = call.date_updated = now
        call.note(now, "status", status="initiated")
        self.status_callback(call, "initiated")

    def mark_ringing(self, call: EmulatedCall) -> None:
        now = self.now()
        with self.lock:
            self._check_not_ended(call)
            call.status, call.date_updated = "ringing", now
        call.note(now, "status", status="ringing")
        self.status_callback(call, "ringing")

    def mark_answered(self, call: EmulatedCall) -> None:
        now = self.now()
        with self.lock:
            self._check_not_ended(call)
            call.status, call.answered_at, call.date_updated = "in-progress", now, now
        if call.machine_detection:
            call.answered_by = call.persona.answered_by(call.machine_detection)
        call.note(now, "status", status="in-progress", answered_by=call.answered_by)
        hang_up_after = call.persona.hang_up_after_seconds
        if hang_up_after is not None and call.process is not None:
            process = call.process

            def persona_hangs_up() -> None:
                if not call.ended:
                    call.note(self.now(), "persona_hangs_up", reason=f"after {hang_up_after} s")
                    self.timeline.interrupt(
                        process, HungUp("caller"), condition=lambda: not call.ended
                    )

            self.timeline.after(hang_up_after, persona_hangs_up, f"hang-up timer {call.sid}")
        self.status_callback(call, "answered")

    def end_call(self, call: EmulatedCall, status: str, source: str) -> None:
        """Finish a call once: final status, queue and bridge left, streams
        stopped, the whole-call recording, the completed status callback."""
        now = self.now()
        with self.lock:
            if call.finalized:
                return
            call.finalized = True
            if not call.ended:
                call.status, call.end_time, call.hangup_source = status, now, source
            call.end_time = call.end_time or now
            call.date_updated = now
        self.switchboard.drop(call)
        self.switchboard.leave_bridge(call)
        self.streams.stop(call)
        if call.record and call.answered_at is not None and call.recording_sid is None:
            self.create_recording(call, call.duration or 0)
        call.note(
            now, "ended", status=call.status, source=call.hangup_source, duration=call.duration
        )
        self.status_callback(call, "completed")
        self.timeline.notify()

    def agent_for(self, target: str) -> AgentSimulation:
        return self.agents.get(target, self.default_agent)

    def create_dial_leg(self, parent: EmulatedCall, kind: str, target: str) -> EmulatedCall:
        """The child call a <Dial> places to an agent (simulated: it runs no TwiML)."""
        to = {"Client": f"client:{target}"}.get(kind, target)
        with self.lock:
            now = self.now()
            leg = EmulatedCall(
                sid=self.new_sid("CA"),
                account_sid=self.account_sid,
                to=to,
                from_=parent.from_,
                persona=Persona(name="agent"),
                date_created=now,
                date_updated=now,
                direction="outbound-dial",
                parent_call_sid=parent.sid,
                status="ringing",
                start_time=now,
            )
            self.calls[leg.sid] = leg
        leg.note(now, "created", parent=parent.sid, noun=kind, target=target)
        return leg

    def answer_dial_leg(self, leg: EmulatedCall) -> None:
        leg.status, leg.answered_at = "in-progress", self.now()
        leg.note(self.now(), "status", status="in-progress")

    def finish_dial_leg(self, leg: EmulatedCall, status: str) -> None:
        now = self.now()
        leg.status, leg.end_time, leg.date_updated = status, now, now
        leg.finalized = True
        leg.note(now, "ended", status=status, duration=leg.duration)
        self.timeline.notify()

    def create_recording(self, call: EmulatedCall, seconds: int) -> Recording:
        sid = self.new_sid("RE")
        url = f"{self.public_base_url}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}"
        recording = Recording(sid, call.sid, self.account_sid, int(seconds), url)
        self.recordings[sid] = recording
        if call.record and call.recording_sid is None:
            call.recording_sid = sid
        return recording

    def recording_wav(self, sid: str) -> bytes:
        """A recording's audio: silence of its duration (8 kHz, 16-bit mono WAV)."""
        recording = self.recordings[sid]
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\x00\x00" * 8000 * recording.duration)
        return buffer.getvalue()

    def media_seconds(self, url: str) -> float:
        """Length of a <Play> file: read from the file when it is served, else a guess."""
        if url not in self._media_seconds:
            seconds = None
            try:
                response = self.transport.request(
                    "GET", url, None, {"User-Agent": "TwilioProxy/1.1"}
                )
                if response.ok:
                    seconds = audio_file_seconds(response.body)
            except TransportError:
                pass
            self._media_seconds[url] = seconds or DEFAULT_PLAY_SECONDS
        return self._media_seconds[url]

    def caption_for(self, url: str) -> str | None:
        """The words a <Play> file says, when the app told us (`play_captions`)."""
        return self.play_captions(url) if self.play_captions else None

    # --- webhooks -------------------------------------------------------------------
    def call_params(self, call: EmulatedCall) -> list[tuple[str, str]]:
        params = [
            ("AccountSid", call.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", call.sid),
            ("CallStatus", call.status),
            ("Called", call.to),
            ("Caller", call.from_),
            ("Direction", call.direction),
            ("From", call.from_),
            ("To", call.to),
        ]
        if call.parent_call_sid:
            params.append(("ParentCallSid", call.parent_call_sid))
        if call.machine_detection and call.answered_by:
            params.append(("AnsweredBy", call.answered_by))
            milliseconds = int(call.persona.detection_seconds() * 1000)
            params.append(("MachineDetectionDuration", str(milliseconds)))
        return params

    def call_webhook(
        self,
        call: EmulatedCall,
        method: str,
        url: str,
        extra: Iterable[tuple[str, str]],
        purpose: str,
    ) -> WebhookResponse | None:
        """Request TwiML (or report an action) the way Twilio does; log it."""
        params = _merge(self.call_params(call), extra)
        response = self._post_signed(method, url, params, self.new_sid(""))
        call.note(
            self.now(),
            "webhook",
            purpose=purpose,
            method=method,
            url=url,
            params=dict(params),
            http_status=response.status if response else None,
            response=response.text[:4000] if response else None,
        )
        return response

    def status_callback(self, call: EmulatedCall, event: str) -> None:
        if not call.status_callback or event not in call.status_callback_events:
            return
        progress = {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress"}
        call_status = progress.get(event, call.status)
        sequence = call.callback_sequence
        call.callback_sequence += 1
        extra = [
            ("CallStatus", call_status),
            ("CallbackSource", "call-progress-events"),
            ("Timestamp", rfc2822(self.now()) or ""),
            ("SequenceNumber", str(sequence)),
        ]
        if event == "completed":
            extra.append(("CallDuration", str(call.duration or 0)))
            extra.append(("SipResponseCode", SIP_RESPONSE_CODES.get(call.status, "200")))
            recording = self.recordings.get(call.recording_sid or "")
            if recording is not None:
                extra += recording.action_params()
        params = _merge(self.call_params(call), extra)
        token = self.new_sid("")  # a retried delivery carries the same idempotency token
        for delivery in range(1, 3 if self.duplicate_status_callbacks else 2):
            response = self._post_signed(
                call.status_callback_method, call.status_callback, params, token
            )
            call.note(
                self.now(),
                "status_callback",
                event=event,
                status=call_status,
                sequence=sequence,
                delivery=delivery,
                url=call.status_callback,
                http_status=response.status if response else None,
            )

    def sign(self, url: str, params: Iterable[tuple[str, str]]) -> str:
        """X-Twilio-Signature for a request to `url` with form `params`."""
        data: dict[str, list[str]] = {}
        for key, value in params:
            data.setdefault(key, []).append(value)
        return self.validator.compute_signature(url, _MultiValues(data))

    def _post_signed(
        self, method: str, url: str, params: list[tuple[str, str]], idempotency_token: str
    ) -> WebhookResponse | None:
        method = method.upper()
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": idempotency_token,
            "X-Home-Region": "us1",
        }
        form: list[tuple[str, str]] | None = params
        if method == "GET":  # parameters go in the query string, which the signature covers
            parts = urlsplit(url)
            url = urlunsplit(
                parts._replace(query="&".join(q for q in (parts.query, urlencode(params)) if q))
            )
            headers["X-Twilio-Signature"] = self.sign(url, [])
            form = None
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
            headers["X-Twilio-Signature"] = self.sign(url, params)
        try:
            return self.transport.request(method, url, form, headers)
        except TransportError as exc:
            log.warning("emulator webhook %s %s failed: %s", method, url, exc)
            return None


class _MultiValues(dict[str, list[str]]):
    """Lets RequestValidator see repeated form keys (it calls getall)."""

    def getall(self, key: str) -> list[str]:
        return self[key]


def _merge(base: list[tuple[str, str]], extra: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    merged = dict(base)
    merged.update(extra)
    return list(merged.items())
