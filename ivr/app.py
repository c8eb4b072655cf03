"""The Flask application factory: webhooks for the carrier, audio, and the console."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, current_app

from ivr.runtime import Runtime, build_runtime


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app. `test_config` holds setting overrides (see ivr.config.SETTINGS)
    plus optional Flask keys (TESTING, ...)."""
    test_config = dict(test_config or {})
    flask_keys = {k: test_config.pop(k) for k in list(test_config) if k.isupper() and k in _FLASK_KEYS}
    runtime = runtime or build_runtime(test_config or None)

    app = Flask("ivr", instance_path=str(runtime.config.instance_path))
    logging.basicConfig(level=runtime.config.get("CORDIAL_LOG_LEVEL"))
    app.config.update(SECRET_KEY=_secret_key(runtime), **flask_keys)
    app.extensions["cordial"] = runtime

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from ivr.messaging.webhooks import register_messaging
    from ivr.voice.webhooks import register_voice

    register_voice(app)
    register_messaging(app)

    return app


_FLASK_KEYS = {"TESTING", "DEBUG", "SERVER_NAME", "WTF_CSRF_ENABLED", "PREFERRED_URL_SCHEME"}


def _secret_key(runtime: Runtime) -> str:
    configured = runtime.config.values.get("SECRET_KEY")
    if configured:
        return configured
    path = runtime.config.instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def runtime_of(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions["cordial"]
