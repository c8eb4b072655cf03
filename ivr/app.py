"""The Flask application factory: webhooks for the carrier, audio, and the console."""

from __future__ import annotations

import gc
import logging
from typing import Any

from flask import Flask, current_app

from ivr.runtime import Runtime, build_runtime, instance_secret
from ivr.telephony.factory import carrier_for


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app. `test_config` holds setting overrides (see ivr.config.SETTINGS)
    plus optional Flask keys (TESTING, ...)."""
    test_config = dict(test_config or {})
    flask_keys = {k: test_config.pop(k) for k in list(test_config) if k.isupper() and k in _FLASK_KEYS}
    runtime = runtime or build_runtime(test_config or None)

    app = Flask("ivr", instance_path=str(runtime.config.instance_path))
    logging.basicConfig(level=runtime.config.get("CORDIAL_LOG_LEVEL"))
    app.config.update(SECRET_KEY=instance_secret(runtime), **flask_keys)
    app.extensions["cordial"] = runtime
    carrier_for(runtime)  # webhooks and the console send SMS and redirect calls through it

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from ivr.messaging.webhooks import register_messaging
    from ivr.speech.live import register_live_transcript
    from ivr.speech.web import register_audio
    from ivr.voice.webhooks import register_voice

    register_voice(app)
    register_messaging(app)
    register_audio(app)
    register_live_transcript(app)

    from agent_console.web import register_console

    register_console(app)

    # What start-up built lives as long as the process: keep it out of the collector's
    # generations, so that a collection during a webhook scans only what requests made
    # (a full collection over the start-up objects pauses a worker for milliseconds).
    gc.freeze()
    return app


_FLASK_KEYS = {"TESTING", "DEBUG", "SERVER_NAME", "WTF_CSRF_ENABLED", "PREFERRED_URL_SCHEME"}


def runtime_of(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions["cordial"]
