"""The local carrier emulator: Twilio's REST API and phone network on loopback
or in-process, for `cordial demo`, the tests and `cordial simulate`.

It is a developer tool, not a mock: the app under test talks to it with the
real `twilio` SDK and receives the same webhooks Twilio sends (same form
fields, ``X-Twilio-Signature`` computed with the auth token, status callbacks
with ``SequenceNumber``), and scripted debtor *personas* answer the calls.

Two modes, one logic (a discrete-event timeline, see ``timeline.py``)
-------------------------------------------------------------------------
Real time (demo, browser tests, the SDK over HTTP)::

    emulator = CarrierEmulator()                     # SystemClock, HttpTransport
    with emulator.serve() as server:                 # 127.0.0.1, a free port
        carrier = server.carrier()                   # TwilioCarrier(api_base_url=server.base_url)
        info = carrier.place_call(request)
        emulator.wait_for_call_end(info.sid, timeout=30)

Virtual time (simulations, fast tests)::

    clock = VirtualClock(start)
    emulator = CarrierEmulator(clock=clock, transport=WsgiTransport(flask_app))
    carrier = emulator.carrier()                     # EmulatorCarrier: the SDK, in-process
    info = carrier.place_call(request)
    emulator.run_until_idle()                        # or run_until(instant) / run_for(seconds)

In virtual time the emulator moves the clock from event to event (it must
have ``set``, like ``ivr.clock.VirtualClock``); webhooks go in-process through
``WsgiTransport`` (Werkzeug's test client) and media streams over real
WebSockets. ``serve(realtime=False)`` serves the REST API over a socket while
the test still drives the network with ``run_until``. In real time,
``time_scale=0.02`` makes every emulated second last 20 ms of wall clock
(for tests; timestamps and durations shrink with it).

The network side of a call is a process on the timeline (``interpreter.py``:
dialing, ringing, answering, then TwiML verb by verb); queues and bridges are
in ``switchboard.py``, media streams in ``streams.py``, the REST API in
``rest_api.py``, the SDK's in-process HTTP client in ``sdk_client.py``.

Personas
--------
Each called number is answered by a persona: a YAML file in
``ivr/telephony/personas/`` (format in ``personas.py``: answer kind, ring time,
keys per Gather, answers to phrases, hang-up rules, queue patience, a sentence
to speak, language, weight). Choose them with ``PersonaChooser``:
``emulator.assign_persona("+5511999990001", "asks_sms")`` for tests, or the
weighted, deterministic distribution of the persona files' ``weight`` for
demos and simulations (``PersonaChooser.default(seed=..., weights=...)``).
The far end of a ``<Dial>`` (an agent) is an ``AgentSimulation``.

Inspecting
----------
``emulator.calls[sid]`` is an ``EmulatedCall`` with a log of everything that
happened (status changes, webhooks and their TwiML, verbs, what the persona
heard, keys pressed, status callbacks, stream frames); ``transcript``,
``keys_pressed`` and ``status_callbacks`` summarise it, ``audit_log()`` and
``write_audit_log(path)`` export it all. ``emulator.messages`` likewise.

Faults and retries
------------------
``emulator.faults.fail_next("calls.create", count=2, status=429)``,
``fail_next(..., status=500, after_effect=True)`` (the call is created, the
client is told 500) and ``time_out_next("calls.create")`` (created, then no
answer in time). ``duplicate_status_callbacks=True`` delivers every status
callback twice, as Twilio's retries may.

Supported TwiML: Say, Play, Pause, Gather (dtmf), Redirect, Hangup, Reject,
Dial (Number, Sip, Client, Queue), Enqueue (waitUrl loop, action,
QueueResult), Leave, Start/Stop Stream, Connect Stream, Record.
"""

from .emulator import ApiError, CarrierEmulator, Recording
from .faults import FaultPlan
from .media import MediaStream, SpeechRenderer
from .personas import AgentSimulation, Persona, PersonaChooser, PersonaError, load_personas
from .records import EmulatedCall, EmulatedMessage, LogEntry
from .sdk_client import EmulatorCarrier, WsgiHttpClient
from .server import EmulatorServer
from .switchboard import QueueEntry, Switchboard
from .transport import HttpTransport, Transport, TransportError, WebhookResponse, WsgiTransport

__all__ = [
    "AgentSimulation",
    "ApiError",
    "CarrierEmulator",
    "EmulatedCall",
    "EmulatedMessage",
    "EmulatorCarrier",
    "EmulatorServer",
    "FaultPlan",
    "HttpTransport",
    "LogEntry",
    "MediaStream",
    "Persona",
    "PersonaChooser",
    "PersonaError",
    "QueueEntry",
    "Recording",
    "SpeechRenderer",
    "Switchboard",
    "Transport",
    "TransportError",
    "WebhookResponse",
    "WsgiHttpClient",
    "WsgiTransport",
    "load_personas",
]
