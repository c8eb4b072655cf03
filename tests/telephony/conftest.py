"""Fixtures for the telephony tests: the tiny TwiML app and the emulator in
virtual time (in-process) or real time (loopback sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from ivr.clock import VirtualClock
from ivr.telephony.carrier import CallRequest
from ivr.telephony.emulator import CarrierEmulator, HttpTransport, WsgiTransport
from ivr.telephony.twilio_carrier import TwilioCarrier

from .twiml_app import Received, create_twiml_app, serve_app

START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
APP_ORIGIN = "http://cordial.test"
CALLER_ID = "+551140000000"


class RecordingSleep:
    """An injectable sleep that only remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class VirtualWorld:
    clock: VirtualClock
    emulator: CarrierEmulator
    app: Flask
    carrier: TwilioCarrier
    sleeps: RecordingSleep
    origin: str

    @property
    def received(self) -> Received:
        return self.app.extensions["received"]

    def call_request(self, to: str, path: str = "/voice", **kwargs: Any) -> CallRequest:
        kwargs.setdefault("not_before", self.clock.now())
        kwargs.setdefault("idempotency_key", f"attempt-{to}")
        return CallRequest(
            to=to,
            from_=CALLER_ID,
            url=f"{self.origin}{path}",
            status_callback=f"{self.origin}/status",
            **kwargs,
        )

    def place(self, to: str, persona: Any, path: str = "/voice", **kwargs: Any) -> str:
        self.emulator.assign_persona(to, persona)
        return self.carrier.place_call(self.call_request(to, path, **kwargs)).sid


def make_virtual_world(stream_url: str | None = None, **emulator_options: Any) -> VirtualWorld:
    clock = VirtualClock(START)
    from ivr.telephony.dev_credentials import EMULATOR_AUTH_TOKEN

    app = create_twiml_app(EMULATOR_AUTH_TOKEN, stream_url=stream_url)
    emulator = CarrierEmulator(
        clock=clock, transport=WsgiTransport(apps={APP_ORIGIN: app}), **emulator_options
    )
    sleeps = RecordingSleep()
    carrier = emulator.carrier(sleep=sleeps)
    app.config["CARRIER"] = carrier
    return VirtualWorld(clock, emulator, app, carrier, sleeps, APP_ORIGIN)


@pytest.fixture
def world() -> VirtualWorld:
    """Virtual time; webhooks and the SDK reach their WSGI apps in-process."""
    return make_virtual_world()


@dataclass
class RealTimeWorld:
    emulator: CarrierEmulator
    app: Flask
    carrier: TwilioCarrier
    origin: str
    emulator_url: str

    @property
    def received(self) -> Received:
        return self.app.extensions["received"]

    def call_request(self, to: str, path: str = "/voice", **kwargs: Any) -> CallRequest:
        kwargs.setdefault("idempotency_key", f"attempt-{to}")
        return CallRequest(
            to=to,
            from_=CALLER_ID,
            url=f"{self.origin}{path}",
            status_callback=f"{self.origin}/status",
            **kwargs,
        )


@pytest.fixture
def realtime_world() -> Iterator[RealTimeWorld]:
    """Real time; the app, the emulator's REST API and the SDK all over loopback HTTP.
    The network runs 50 times faster than the wall clock (time_scale) so a call
    of half a minute takes well under a second."""
    from ivr.telephony.dev_credentials import EMULATOR_AUTH_TOKEN

    app = create_twiml_app(EMULATOR_AUTH_TOKEN)
    emulator = CarrierEmulator(transport=HttpTransport(timeout=10), time_scale=0.02)
    with serve_app(app) as origin, emulator.serve() as server:
        app.config["STREAM_URL"] = None
        carrier = server.carrier(sleep=RecordingSleep(), http_timeout=5)
        app.config["CARRIER"] = carrier
        yield RealTimeWorld(emulator, app, carrier, origin, server.base_url)
