"""The floor for the webhook benchmark: a minimal Flask + twilio app that answers the
same TwiML as Cordial's answer and menu webhooks, with no database and no signature
check, served by the same gunicorn settings.

The TwiML is captured from Cordial's own answers (bench_webhooks writes it to the
JSON file named by $CORDIAL_BENCH_TWIML) and rebuilt with twilio's builder on every
request, as a real webhook would build it.

    CORDIAL_BENCH_TWIML=twiml.json gunicorn 'benchmarks.minimal_app:app_from_environment()'
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from typing import Any

from flask import Flask, Response, request
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

Spec = tuple[str, dict[str, str], str | None, list[Any]]


def _spec(element: ET.Element) -> Spec:
    return (element.tag, dict(element.attrib), element.text, [_spec(child) for child in element])


def load_replies(path: str) -> dict[str, list[Spec]]:
    """{"answer": [verbs], "menu": [verbs]} from {"answer": "<Response>...", ...}."""
    with open(path, encoding="utf-8") as f:
        captured = json.load(f)
    return {
        name: [_spec(verb) for verb in ET.fromstring(twiml)] for name, twiml in captured.items()
    }


def _build(parent: TwiML, verbs: list[Spec]) -> None:
    for tag, attributes, text, children in verbs:
        _build(parent.add_child(tag, text, **attributes), children)


def twiml_for(verbs: list[Spec]) -> str:
    response = VoiceResponse()
    _build(response, verbs)
    return response.to_xml()


def create_minimal_app(replies: dict[str, list[Spec]]) -> Flask:
    app = Flask("minimal")

    def reply(name: str) -> Response:
        request.values.get("CallSid")  # parse the form, as any webhook must
        return Response(twiml_for(replies[name]), status=200, mimetype="text/xml")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/voice/answer")
    def answer() -> Response:
        return reply("answer")

    @app.post("/voice/step/<step>")
    def step(step: str) -> Response:
        return reply("menu")

    return app


def app_from_environment() -> Flask:
    """The gunicorn entry point: `gunicorn 'benchmarks.minimal_app:app_from_environment()'`."""
    return create_minimal_app(load_replies(os.environ["CORDIAL_BENCH_TWIML"]))
