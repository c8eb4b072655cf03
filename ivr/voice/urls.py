"""The public URLs of the voice webhooks, as the carrier must call them.

Every URL is absolute on CORDIAL_PUBLIC_BASE_URL (what Twilio sees, behind a
proxy or tunnel) and names the attempt, so each webhook needs no session
state. The dialer uses `answer_url` and `status_url` when placing a call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ivr.config import Config


def public_base_url(config: Config) -> str:
    return config.get("CORDIAL_PUBLIC_BASE_URL").rstrip("/")


def _url(config: Config, path: str, query: dict[str, Any]) -> str:
    params = {k: str(v) for k, v in query.items() if v is not None}
    return f"{public_base_url(config)}{path}?{urlencode(params)}"


def answer_url(config: Config, attempt_id: int, language: str | None = None) -> str:
    """Fetched by the carrier when the callee answers (after machine detection)."""
    return _url(config, "/voice/answer", {"attempt": attempt_id, "lang": language})


def status_url(config: Config, attempt_id: int) -> str:
    """Receives the call's status callbacks (queued, ringing, ..., completed)."""
    return _url(config, "/voice/status", {"attempt": attempt_id})


def step_url(config: Config, step: str, attempt_id: int, language: str, **extra: Any) -> str:
    """Where a <Gather> (or a no-answer <Redirect>) of `step` posts."""
    return _url(config, f"/voice/step/{step}", {"attempt": attempt_id, "lang": language, **extra})


def queue_wait_url(config: Config, attempt_id: int, language: str, limit_seconds: int) -> str:
    """The hold prompt of the agents' queue; leaves the queue after `limit_seconds`."""
    return _url(
        config,
        "/voice/queue/wait",
        {"attempt": attempt_id, "lang": language, "limit": limit_seconds},
    )


__all__ = ["answer_url", "public_base_url", "queue_wait_url", "status_url", "step_url"]
