"""From the debtor's voice to the agent's screen, with nothing faked in between.

The local carrier emulator (accelerated real time) calls a US debtor whose persona
confirms their identity (1) and asks for an agent (3). The voice flow enqueues them and
starts a media stream. The agent's browser (chromium) pops the debtor. The emulator
renders "I already paid this bill" with espeak-ng and streams it as 8 kHz mu-law over a
signed WebSocket. The app decodes it and PocketSphinx (a grammar of the en-US playbook's
triggers) recognises it. A `transcript.final` event with the "already paid" objection
is recorded, and the agent's page shows the line and highlights the card, over SSE.
The agent then takes the call and talks until the simulated agent hangs up, and the
stream stops with the call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import select

from agent_console.accounts import create_user
from ivr.app import create_app
from ivr.models import Attempt, ContactEvent
from ivr.runtime import Runtime, build_runtime
from ivr.speech.live import STREAM_PATH
from ivr.telephony.carrier import CallRequest
from ivr.telephony.emulator import CarrierEmulator, Persona
from ivr.voice.urls import answer_url, status_url
from tests.console.browser import LiveServer, launch_chromium, screenshot, sign_in
from tests.console.factories import PASSWORD
from tests.voice.carrier_helpers import PROFILES, Seeded, seed_call

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEBTOR = PROFILES["us"]  # John Smith, New York, en-US
SAYS_ALREADY_PAID = Persona(
    name="says_already_paid",
    description="Confirms identity (1), asks for an agent (3), says the bill was paid.",
    language="en-US",
    ring_seconds=2,
    keys=("1", "3"),
    answers=(("year you were born", "1985"),),
    queue_patience_seconds=900,
    speech="I already paid this bill",
    speech_delay_seconds=1.0,
)
WAIT_MS = 30_000  # generous for a loaded CI machine; the flow takes a few seconds


class AppLater:
    """A WSGI callable for a server that must know its port before the app is built
    (the app's public URL, which signatures cover, names that port)."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def emulator() -> Iterator[tuple[CarrierEmulator, Any]]:
    network = CarrierEmulator(time_scale=0.05)
    network.assign_persona(DEBTOR.number, SAYS_ALREADY_PAID)
    with network.serve() as server:
        yield network, server


@pytest.fixture
def stack(
    sqlite_url: str, tmp_path: Path, emulator: tuple[CarrierEmulator, Any]
) -> Iterator[tuple[Runtime, str]]:
    """The app on a real socket, on the system clock, listening with PocketSphinx."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    late = AppLater()
    server = LiveServer(late)  # type: ignore[arg-type]
    runtime = build_runtime(
        {
            "DATABASE_URL": sqlite_url,
            "CORDIAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "CORDIAL_PUBLIC_BASE_URL": server.url,
            "CORDIAL_ASR_ENGINE": "pocketsphinx",
        },
        env_file=None,
    )
    runtime.extras["carrier"] = emulator[1].carrier()
    late.app = create_app({"TESTING": True}, runtime=runtime)
    late.app.config["CONSOLE_SSE_MAX_SECONDS"] = 120
    server.start()
    try:
        yield runtime, server.url
    finally:
        server.stop()
        runtime.close()


def seed(runtime: Runtime) -> Seeded:
    with runtime.db.session() as session:
        create_user(
            session,
            "bruno",
            role="agent",
            password=PASSWORD,
            now=runtime.clock.now(),
            language="en-US",
            display_name="Bruno Lima",
        )
        seeded = seed_call(session, DEBTOR, now=runtime.clock.now(), transfer_timeout_seconds=900)
        session.get(Attempt, seeded.attempt_id).state = "dialing"
    return seeded


def place_call(runtime: Runtime, seeded: Seeded) -> str:
    info = runtime.extras["carrier"].place_call(
        CallRequest(
            to=DEBTOR.number,
            from_="+12125550100",
            url=answer_url(runtime.config, seeded.attempt_id, DEBTOR.language),
            status_callback=status_url(runtime.config, seeded.attempt_id),
            idempotency_key=f"live-{seeded.attempt_id}",
            machine_detection=True,
        )
    )
    with runtime.db.session() as session:
        session.get(Attempt, seeded.attempt_id).carrier_call_sid = info.sid
    return info.sid


def test_what_the_debtor_says_reaches_the_agent_and_suggests_the_objection(
    browser: Browser,
    stack: tuple[Runtime, str],
    emulator: tuple[CarrierEmulator, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, base_url = stack
    network, _ = emulator
    seeded = seed(runtime)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, base_url, "bruno", PASSWORD)
        page.goto(f"{base_url}/console/debtors/{seeded.debtor_id}")
        expect(page.locator("body.live")).to_be_attached()  # the event stream is open

        with caplog.at_level(logging.WARNING, logger="ivr.speech.live"):
            sid = place_call(runtime, seeded)

            # Pressing 3 pops the right debtor on the agent's page.
            pop = page.locator(f"#screen-pop [data-attempt='{seeded.attempt_id}']")
            expect(pop.locator(".pop-name")).to_have_text(DEBTOR.name, timeout=WAIT_MS)

            # What the debtor said, heard from the audio, and the playbook card it suggests.
            expect(page.locator("#transcript-lines")).to_contain_text(
                "already paid", timeout=WAIT_MS
            )
            expect(page.locator("#objection-already_paid")).to_have_class(
                re.compile(r"\bsuggested\b")
            )
            expect(page.locator("#objection-already_paid .suggested-badge")).to_be_visible()
            screenshot(page, "live-transcript", for_docs=False, full_page=False)

            # The agent takes the call; the simulated agent talks, then hangs up.
            page.keyboard.press("t")
            expect(page.locator("#on-call")).to_be_visible(timeout=WAIT_MS)
            call = network.wait_for_call_end(sid, timeout=WAIT_MS / 1000)
    finally:
        context.close()

    with runtime.db.session() as session:
        logged = list(
            session.scalars(
                select(ContactEvent)
                .where(ContactEvent.attempt_id == seeded.attempt_id)
                .order_by(ContactEvent.id)
            )
        )
    kinds = [e.kind for e in logged]
    assert kinds.index("transfer.requested") < kinds.index("transcript.final")
    assert "transfer.taken" in kinds and "transfer.connecting" in kinds

    [final] = [e for e in logged if e.kind == "transcript.final"]  # one sentence, one final
    assert "already paid" in final.data["text"]
    assert final.data["language"] == "en-US" and final.actor == "asr"
    assert final.data["objections"][0]["key"] == "already_paid"
    assert final.data["call_sid"] == sid and final.debtor_id == seeded.debtor_id
    for partial in (e for e in logged if e.kind == "transcript.partial"):
        assert partial.data["text"] and partial.data["language"] == "en-US"

    # One stream for the whole call, to the public wss/ws URL, stopped with the call.
    notes = [entry.kind for entry in call.log]
    assert notes.count("stream_start") == 1 and notes.count("stream_stop") == 1
    assert "spoke" in notes and "stream_error" not in notes
    [stream] = call.streams
    assert stream.url == base_url.replace("http://", "ws://") + STREAM_PATH
    assert stream.parameters == {"attempt": str(seeded.attempt_id), "language": "en-US"}
    assert not [
        r for r in caplog.records if r.name == "ivr.speech.live" and r.levelno >= logging.WARNING
    ]
