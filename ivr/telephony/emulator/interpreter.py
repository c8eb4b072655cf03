"""What happens on one emulated call, as a timeline process: dialing, ringing,
answering (or not) as the persona says, then fetching and interpreting TwiML
the way Twilio does, verb by verb, with the persona listening and pressing keys.

Interrupts arrive as exceptions thrown where the process sleeps: a REST update
redirects the call (`Redirected`) or hangs it up (`HungUp`, also the persona
hanging up), an agent dequeues it (`Bridged`), the other leg of a bridge hangs
up (`PartnerLeft`).
"""

from __future__ import annotations

import inspect
import xml.etree.ElementTree as ET
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from .records import EmulatedCall
from .timeline import Sleep

if TYPE_CHECKING:
    from .emulator import CarrierEmulator

DIAL_LATENCY_SECONDS = 1.0
KEY_INTERVAL_SECONDS = 0.3
FOREVER_SECONDS = 24 * 3600.0
TWIML_LOOP_FOREVER = 1000  # Twilio's cap for loop="0"
APPLICATION_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    "<Say>We are sorry, an application error has occurred. Goodbye.</Say><Hangup/></Response>"
)

Steps = Generator[Sleep, None, Any]


class CallSignal(Exception):
    """An interrupt thrown into a call's process."""


class HungUp(CallSignal):
    def __init__(self, source: str, status: str = "completed") -> None:
        super().__init__(f"hung up by {source} ({status})")
        self.source = source  # caller | api | twiml | agent | system
        self.status = status


class Redirected(CallSignal):
    def __init__(self, url: str | None, method: str = "POST", twiml: str | None = None) -> None:
        super().__init__(f"redirected to {url or 'inline TwiML'}")
        self.url = url
        self.method = method
        self.twiml = twiml


class Bridged(CallSignal):
    def __init__(self, partner_sid: str) -> None:
        super().__init__(f"bridged with {partner_sid}")
        self.partner_sid = partner_sid


class PartnerLeft(CallSignal):
    def __init__(self, partner_sid: str) -> None:
        super().__init__(f"{partner_sid} left the bridge")
        self.partner_sid = partner_sid


class _LeaveQueue(Exception):
    """<Leave> inside a queue's wait document."""


@dataclass(frozen=True)
class Fetch:
    """The next TwiML document: a URL to request (with extra parameters) or inline TwiML."""

    url: str | None
    method: str = "POST"
    params: tuple[tuple[str, str], ...] = ()
    twiml: str | None = None
    ignore_response: bool = False


@dataclass
class _Context:
    in_queue: bool = False
    queue_params: dict[str, str] = field(default_factory=dict)


def say_seconds(text: str) -> float:
    """Rough speaking time of a sentence (about 155 words a minute)."""
    words = len(text.split())
    return max(0.6, words / 2.6 + 0.3)


def _int_attr(el: ET.Element, name: str, default: int) -> int:
    try:
        return int(float(el.get(name, default)))
    except (ValueError, OverflowError):  # "abc", "inf", "nan", "1e400"
        return default


def _bool_attr(el: ET.Element, name: str, default: bool = False) -> bool:
    value = el.get(name)
    return default if value is None else value.strip().lower() == "true"


def _loops(el: ET.Element) -> int:
    loop = _int_attr(el, "loop", 1)
    return TWIML_LOOP_FOREVER if loop <= 0 else loop


class CallInterpreter:
    """Runs calls for one emulator. Stateless; all state lives on the calls."""

    def __init__(self, emulator: CarrierEmulator) -> None:
        self.emu = emulator

    # --- the whole call ---------------------------------------------------
    def run_call(self, call: EmulatedCall) -> Steps:
        emu = self.emu
        persona = call.persona
        try:
            emu.mark_initiated(call)
            yield Sleep(DIAL_LATENCY_SECONDS)
            if persona.answer == "failed":
                emu.end_call(call, "failed", "system")
                return
            if persona.answer == "busy":
                yield Sleep(persona.ring_seconds)
                emu.end_call(call, "busy", "caller")
                return
            emu.mark_ringing(call)
            if not persona.answers_call or persona.ring_seconds >= call.timeout:
                yield Sleep(call.timeout)
                emu.end_call(call, "no-answer", "system")
                return
            yield Sleep(persona.ring_seconds)
            emu.mark_answered(call)
            if call.machine_detection:
                yield Sleep(persona.detection_seconds())
            call.twiml_started = True
            first = Fetch(call.url, call.method, twiml=call.twiml if not call.url else None)
            yield from self.run_documents(call, first)
            raise HungUp("twiml")  # Twilio hangs up when the TwiML runs out
        except HungUp as hangup:
            emu.end_call(call, hangup.status, hangup.source)

    def run_documents(
        self, call: EmulatedCall, fetch: Fetch | None, context: _Context | None = None
    ) -> Steps:
        """Fetch and run documents until one ends without navigating; a REST
        redirect replaces whatever runs."""
        context = context or _Context()
        while fetch is not None:
            try:
                doc, doc_url = self.fetch_document(call, fetch, context)
                fetch = yield from self.execute(call, doc, doc_url, context)
            except Redirected as redirect:
                call.note(self.emu.now(), "redirected", url=redirect.url, method=redirect.method)
                fetch = Fetch(redirect.url, redirect.method, twiml=redirect.twiml)
        return None

    def fetch_document(
        self, call: EmulatedCall, fetch: Fetch, context: _Context
    ) -> tuple[ET.Element, str]:
        if fetch.url is None:
            return self.parse_twiml(call, fetch.twiml or "<Response/>", "inline"), ""
        params = list(fetch.params) + list(context.queue_params.items())
        response = self.emu.call_webhook(call, fetch.method, fetch.url, params, purpose="twiml")
        body = response.text if response is not None and response.ok else None
        if body is None and call.fallback_url and not context.in_queue:
            fallback = self.emu.call_webhook(
                call, call.fallback_method, call.fallback_url, params, purpose="fallback"
            )
            if fallback is not None and fallback.ok:
                return self.parse_twiml(call, fallback.text, call.fallback_url), call.fallback_url
        if body is None:
            call.note(
                self.emu.now(),
                "application_error",
                url=fetch.url,
                status=None if response is None else response.status,
                reason="webhook failed",
            )
            return ET.fromstring(APPLICATION_ERROR), fetch.url
        return self.parse_twiml(call, body, fetch.url), fetch.url

    def parse_twiml(self, call: EmulatedCall, text: str, source: str) -> ET.Element:
        try:
            root = ET.fromstring(text.strip())
        except ET.ParseError as exc:
            call.note(
                self.emu.now(),
                "application_error",
                url=source,
                reason=f"TwiML parse failure: {exc}",
            )
            return ET.fromstring(APPLICATION_ERROR)
        if root.tag != "Response":
            call.note(
                self.emu.now(),
                "application_error",
                url=source,
                reason=f"root element is <{root.tag}>",
            )
            return ET.fromstring(APPLICATION_ERROR)
        return root

    def execute(
        self, call: EmulatedCall, doc: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        """Run the verbs of one document. Returns the next Fetch, or None at its end."""
        for verb in doc:
            handler = getattr(self, f"verb_{verb.tag.lower()}", None)
            if handler is None:
                call.note(self.emu.now(), "unsupported_verb", verb=verb.tag)
                continue
            result = handler(call, verb, doc_url, context)
            if inspect.isgenerator(result):  # verbs that take time are generators
                result = yield from result
            if isinstance(result, Fetch):
                return result
        return None

    # --- listening --------------------------------------------------------
    def _hear(self, call: EmulatedCall, kind: str, seconds: float, **detail: Any) -> Steps:
        """The persona listens for `seconds`; it may hang up halfway through."""
        call.note(self.emu.now(), kind, seconds=round(seconds, 3), **detail)
        heard = detail.get("text") or detail.get("url") or ""
        call.heard_since_gather.append(heard)
        trigger = call.persona.hang_up_on_hearing
        if trigger and trigger.casefold() in heard.casefold():
            yield Sleep(seconds / 2)
            call.note(self.emu.now(), "persona_hangs_up", reason=f"heard {trigger!r}")
            raise HungUp("caller")
        yield Sleep(seconds)

    def verb_say(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        text = " ".join((el.text or "").split())
        loops = _loops(el)
        yield from self._hear(
            call,
            "say",
            say_seconds(text) * loops,
            text=text,
            voice=el.get("voice"),
            language=el.get("language"),
            loop=loops,
        )

    def verb_play(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        loops = _loops(el)
        digits = el.get("digits")
        if digits:
            call.note(self.emu.now(), "play_digits", digits=digits)
            yield Sleep(0.5 * len(digits))
            return
        if not (el.text or "").strip():
            call.note(self.emu.now(), "play_without_url")
            return
        url = urljoin(doc_url, (el.text or "").strip())
        seconds = self.emu.media_seconds(url)
        caption = self.emu.caption_for(url)
        detail: dict[str, Any] = {"url": url, "loop": loops}
        if caption:
            detail["text"] = caption
        yield from self._hear(call, "play", seconds * loops, **detail)

    def verb_pause(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        length = _int_attr(el, "length", 1)
        call.note(self.emu.now(), "pause", seconds=length)
        yield Sleep(length)

    # --- keys ---------------------------------------------------------------
    def verb_gather(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        emu = self.emu
        action = urljoin(doc_url, el.get("action") or doc_url)
        method = el.get("method", "POST").upper()
        timeout = _int_attr(el, "timeout", 5)
        num_digits = _int_attr(el, "numDigits", 0)
        finish_on_key = el.get("finishOnKey", "#")
        inputs = el.get("input", "dtmf").lower().split()
        call.note(
            emu.now(),
            "gather",
            action=action,
            timeout=timeout,
            num_digits=num_digits or None,
            finish_on_key=finish_on_key,
            input=" ".join(inputs),
        )
        for child in el:
            if child.tag in ("Say", "Play", "Pause"):
                yield from getattr(self, f"verb_{child.tag.lower()}")(call, child, doc_url, context)
        persona = call.persona
        keys, consumed = persona.keys_for_gather(call.gathers, call.heard_since_gather)
        if consumed:
            call.gathers += 1
        call.heard_since_gather = []
        if "dtmf" not in inputs:
            keys = ""
        if keys and persona.key_delay_seconds >= timeout:
            call.note(emu.now(), "persona_too_slow", keys=keys)
            keys = ""
        digits, finished_on = _collect_digits(keys, num_digits, finish_on_key)
        if digits:
            wait = persona.key_delay_seconds + KEY_INTERVAL_SECONDS * (len(digits) - 1)
            if num_digits and len(digits) < num_digits and not finished_on:
                wait += timeout  # Twilio waits `timeout` after the last key
            yield Sleep(wait)
            call.note(emu.now(), "keys", digits=digits, finished_on_key=finished_on)
            params = [("Digits", digits), ("FinishedOnKey", finished_on), ("msg", "Gather End")]
            return Fetch(action, method, tuple(params))
        yield Sleep(timeout)
        call.note(emu.now(), "gather_timeout", keys_typed=keys or None)
        if _bool_attr(el, "actionOnEmptyResult"):
            return Fetch(action, method, (("Digits", ""), ("msg", "Gather End")))
        return None

    # --- navigation ---------------------------------------------------------
    def verb_redirect(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Fetch | None:
        url = urljoin(doc_url, (el.text or "").strip())
        call.note(self.emu.now(), "redirect", url=url)
        return Fetch(url, el.get("method", "POST").upper())

    def verb_hangup(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Fetch | None:
        call.note(self.emu.now(), "hangup")
        raise HungUp("twiml")

    def verb_reject(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Fetch | None:
        call.note(self.emu.now(), "reject", reason=el.get("reason", "rejected"))
        raise HungUp("twiml")

    def verb_leave(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Fetch | None:
        call.note(self.emu.now(), "leave")
        if context.in_queue:
            raise _LeaveQueue()
        return None

    # --- transfers ------------------------------------------------------------
    def verb_dial(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        emu = self.emu
        action = el.get("action")
        action_url = urljoin(doc_url, action) if action else None
        method = el.get("method", "POST").upper()
        timeout = _int_attr(el, "timeout", 30)
        nouns = [c for c in el if c.tag in ("Number", "Sip", "Client", "Queue", "Conference")]
        if nouns:
            kind, target = nouns[0].tag, " ".join((nouns[0].text or "").split())
        else:
            kind, target = "Number", " ".join((el.text or "").split())
        call.note(emu.now(), "dial", noun=kind, target=target, timeout=timeout, action=action_url)
        started = emu.now()
        try:
            if kind == "Queue":
                status, duration, other_sid = yield from self._dequeue(call, target, timeout)
            elif kind == "Conference":
                call.note(emu.now(), "unsupported_noun", noun=kind)
                status, duration, other_sid = "failed", 0, None
            else:
                status, duration, other_sid = yield from self._dial_agent(
                    call, kind, target, timeout
                )
        except HungUp:
            if action_url:
                bridged = call.bridged_with is not None
                elapsed = int((emu.now() - started).total_seconds())
                params = [
                    ("DialCallStatus", "completed" if bridged else "canceled"),
                    ("DialCallDuration", str(elapsed if bridged else 0)),
                    ("CallStatus", "completed"),
                ]
                if call.dialing:
                    params.append(("DialCallSid", call.dialing))
                emu.call_webhook(
                    call, method, action_url, params, purpose="dial_action_after_hangup"
                )
            raise
        finally:
            emu.switchboard.leave_bridge(call)
            call.dialing = None
        call.note(
            emu.now(), "dial_result", status=status, duration=duration, dial_call_sid=other_sid
        )
        if action_url:
            params = [("DialCallStatus", status), ("DialCallDuration", str(duration))]
            if other_sid:
                params.append(("DialCallSid", other_sid))
            return Fetch(action_url, method, tuple(params))
        return None

    def _dial_agent(self, call: EmulatedCall, kind: str, target: str, timeout: int) -> Steps:
        emu = self.emu
        agent = emu.agent_for(target)
        leg = emu.create_dial_leg(call, kind, target)
        call.dialing = leg.sid
        answered = False
        try:
            if agent.outcome in ("busy", "failed"):
                yield Sleep(1.0)
                emu.finish_dial_leg(leg, agent.outcome)
                return agent.outcome, 0, leg.sid
            if agent.outcome == "no-answer" or agent.answer_after_seconds >= timeout:
                yield Sleep(timeout)
                emu.finish_dial_leg(leg, "no-answer")
                return "no-answer", 0, leg.sid
            yield Sleep(agent.answer_after_seconds)
            answered = True
            emu.answer_dial_leg(leg)
            call.bridged_with = leg.sid
            call.note(emu.now(), "agent_answered", dial_call_sid=leg.sid, target=target)
            yield Sleep(agent.talk_seconds)
            call.note(emu.now(), "agent_hung_up", dial_call_sid=leg.sid)
            emu.finish_dial_leg(leg, "completed")
            return "completed", int(agent.talk_seconds), leg.sid
        except CallSignal:
            emu.finish_dial_leg(leg, "completed" if answered else "canceled")
            raise

    def _dequeue(self, call: EmulatedCall, queue: str, timeout: int) -> Steps:
        """<Dial><Queue>: connect this call (an agent) to the first caller waiting."""
        emu = self.emu
        member = emu.switchboard.take_front(queue, dequeuer=call)
        if member is None:
            emu.switchboard.wait_for_member(queue, call)
            try:
                yield Sleep(timeout)
                emu.switchboard.stop_waiting(queue, call)
                return "no-answer", 0, None
            except Bridged as bridged:
                call.awaiting_queue = None
                member_sid = bridged.partner_sid
            except CallSignal:
                emu.switchboard.stop_waiting(queue, call)
                raise
        else:
            member_sid = member.sid
        call.bridged_with = call.dialing = member_sid
        started = emu.now()
        call.note(started, "bridged", with_call=member_sid, queue=queue)
        try:
            yield Sleep(emu.default_agent.talk_seconds)
            call.note(emu.now(), "agent_hung_up", with_call=member_sid)
            raise HungUp("caller")  # the agent (this call) ends the conversation
        except PartnerLeft:
            duration = int((emu.now() - started).total_seconds())
            return "completed", duration, member_sid

    def verb_enqueue(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        emu = self.emu
        name = " ".join((el.text or "").split()) or "default"
        action = el.get("action")
        action_url = urljoin(doc_url, action) if action else None
        method = el.get("method", "POST").upper()
        wait_url = el.get("waitUrl")
        wait_fetch = (
            Fetch(urljoin(doc_url, wait_url), el.get("waitUrlMethod", "POST").upper())
            if wait_url
            else None
        )
        entry = emu.switchboard.enqueue(call, name)
        call.note(emu.now(), "enqueue", queue=name, wait_url=wait_fetch.url if wait_fetch else None)
        result = "leave"

        def queue_params() -> list[tuple[str, str]]:
            return [
                ("QueueResult", result),
                ("QueueSid", entry.queue_sid),
                ("QueueTime", str(int((emu.now() - entry.entered_at).total_seconds()))),
            ]

        try:
            try:
                if entry.bridged_with is None:
                    yield from self._wait_in_queue(call, entry, wait_fetch)
                else:
                    raise Bridged(entry.bridged_with)
            except Bridged as bridged:
                result = "bridged"
                call.bridged_with = bridged.partner_sid
                call.note(emu.now(), "bridged", with_call=bridged.partner_sid, queue=name)
                try:
                    yield Sleep(FOREVER_SECONDS)
                except PartnerLeft:
                    call.note(emu.now(), "partner_left", with_call=bridged.partner_sid)
                finally:
                    emu.switchboard.leave_bridge(call)
            except _LeaveQueue:
                result = "leave"
        except Redirected:
            emu.switchboard.leave(call, entry)
            emu.switchboard.leave_bridge(call)
            result = "redirected"
            if action_url:
                emu.call_webhook(
                    call, method, action_url, queue_params(), purpose="enqueue_action_ignored"
                )
            raise
        except HungUp:
            emu.switchboard.leave(call, entry)
            result = "bridged" if result == "bridged" else "hangup"
            if action_url:
                emu.call_webhook(
                    call,
                    method,
                    action_url,
                    queue_params() + [("CallStatus", "completed")],
                    purpose="enqueue_action_ignored",
                )
            raise
        emu.switchboard.leave(call, entry)
        call.note(emu.now(), "dequeued", queue=name, result=result)
        if action_url:
            return Fetch(action_url, method, tuple(queue_params()))
        return None

    def _wait_in_queue(self, call: EmulatedCall, entry: Any, wait_fetch: Fetch | None) -> Steps:
        """Play the waitUrl document in a loop, as Twilio does, until something ends the wait."""
        emu = self.emu
        fetch = wait_fetch
        while True:
            if fetch is None:
                call.note(emu.now(), "hold_music")
                yield Sleep(FOREVER_SECONDS)
                continue
            context = _Context(in_queue=True, queue_params=emu.switchboard.wait_parameters(entry))
            started = emu.now()
            doc, doc_url = self.fetch_document(call, fetch, context)
            result = yield from self.execute(call, doc, doc_url, context)
            fetch = result if isinstance(result, Fetch) else wait_fetch
            if emu.now() == started:
                yield Sleep(1.0)  # an empty wait document must not spin

    # --- media ----------------------------------------------------------------
    def verb_start(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Fetch | None:
        for child in el:
            if child.tag == "Stream":
                self.emu.streams.start(call, child, doc_url)
            else:
                call.note(self.emu.now(), "unsupported_noun", noun=child.tag, verb="Start")
        return None

    def verb_stop(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Fetch | None:
        for child in el:
            if child.tag == "Stream":
                self.emu.streams.stop(call, child.get("name"))
        return None

    def verb_connect(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        streams = [c for c in el if c.tag == "Stream"]
        if not streams:
            call.note(self.emu.now(), "unsupported_verb", verb="Connect")
            return None
        self.emu.streams.start(call, streams[0], doc_url)
        yield Sleep(FOREVER_SECONDS)  # a bidirectional stream holds the call until it hangs up
        return None

    def verb_record(
        self, call: EmulatedCall, el: ET.Element, doc_url: str, context: _Context
    ) -> Steps:
        emu = self.emu
        action = urljoin(doc_url, el.get("action") or doc_url)
        method = el.get("method", "POST").upper()
        timeout = _int_attr(el, "timeout", 5)
        max_length = _int_attr(el, "maxLength", 3600) or 3600
        call.note(emu.now(), "record", action=action, timeout=timeout, max_length=max_length)
        if _bool_attr(el, "playBeep", True):
            yield Sleep(0.5)
        speech = call.persona.speech
        if not speech:
            yield Sleep(timeout)
            call.note(emu.now(), "record_empty")
            return None  # no audio: Twilio goes on with the next verb
        talk = min(say_seconds(speech), float(max_length))
        started = emu.now()
        try:
            yield Sleep(talk)
            call.note(emu.now(), "spoke", text=speech, seconds=round(talk, 3))
            yield Sleep(min(timeout, max_length - talk))
        except HungUp:
            elapsed = (emu.now() - started).total_seconds()
            recording = emu.create_recording(call, max(1, round(min(elapsed, talk))))
            params = recording.action_params() + [("Digits", "hangup"), ("CallStatus", "completed")]
            emu.call_webhook(call, method, action, params, purpose="record_action_after_hangup")
            raise
        recording = emu.create_recording(call, max(1, round(talk)))
        call.note(emu.now(), "recorded", recording_sid=recording.sid, seconds=recording.duration)
        return Fetch(action, method, tuple(recording.action_params()))


def _collect_digits(keys: str, num_digits: int, finish_on_key: str) -> tuple[str, str]:
    """Twilio's Gather: stop at a finishOnKey key (not included) or at numDigits."""
    digits = ""
    for key in keys:
        if finish_on_key and key in finish_on_key:
            return digits, key
        digits += key
        if num_digits and len(digits) >= num_digits:
            break
    return digits, ""
