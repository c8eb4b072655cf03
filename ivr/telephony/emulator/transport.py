"""How the emulator's network side reaches the app: webhooks (HTTP) and media
streams (WebSocket).

`HttpTransport` talks over real sockets (real-time mode, or any app reachable
by URL). `WsgiTransport` calls WSGI apps in-process through Werkzeug's test
client, for virtual-time simulations; requests to origins it does not serve go
to a fallback transport (HTTP by default).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests

FormData = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: bytes
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class StreamConnection(Protocol):
    def send(self, message: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    def request(
        self, method: str, url: str, form: FormData | None, headers: Mapping[str, str]
    ) -> WebhookResponse:
        """Send a webhook; `form` is the urlencoded body of a POST (None for GET)."""
        ...

    def open_stream(self, url: str, headers: Mapping[str, str]) -> StreamConnection: ...


class TransportError(RuntimeError):
    """The app could not be reached (connection refused, timeout, ...)."""


class _WebSocketStream:
    def __init__(self, url: str, headers: Mapping[str, str], timeout: float) -> None:
        import websocket  # websocket-client

        try:
            self._ws = websocket.create_connection(
                url, header=[f"{k}: {v}" for k, v in headers.items()], timeout=timeout
            )
        except Exception as exc:
            raise TransportError(f"cannot open media stream {url}: {exc}") from exc

    def send(self, message: Mapping[str, Any]) -> None:
        try:
            self._ws.send(json.dumps(message))
        except Exception as exc:
            raise TransportError(f"media stream send failed: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the app may already have closed it
            self._ws.close()


class HttpTransport:
    """Webhooks over real HTTP with `requests`; streams with `websocket-client`."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout  # Twilio waits 15 s for a webhook response
        self._session = requests.Session()

    def request(
        self, method: str, url: str, form: FormData | None, headers: Mapping[str, str]
    ) -> WebhookResponse:
        try:
            response = self._session.request(
                method,
                url,
                data=urlencode(list(form)) if form is not None else None,
                headers=dict(headers),
                timeout=self.timeout,
                allow_redirects=True,
            )
        except requests.RequestException as exc:
            raise TransportError(f"{method} {url}: {exc}") from exc
        return WebhookResponse(
            response.status_code, response.content, response.headers.get("Content-Type", "")
        )

    def open_stream(self, url: str, headers: Mapping[str, str]) -> StreamConnection:
        return _WebSocketStream(url, headers, self.timeout)


def split_for_wsgi(url: str) -> tuple[str, str]:
    """(path?query, scheme://host/) -- Werkzeug's test client needs them apart to
    present the exact URL (host and port included) to the app."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return (f"{path}?{parts.query}" if parts.query else path), f"{parts.scheme}://{parts.netloc}/"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class WsgiTransport:
    """Webhooks delivered to WSGI apps in-process (no socket).

    `app` serves every URL; `apps` maps an origin (``"http://127.0.0.1:5000"``)
    to the app that serves it. Anything else goes to `fallback`. Media streams
    always go to `fallback` (a WebSocket needs a real server)."""

    def __init__(
        self,
        app: Any = None,
        *,
        apps: Mapping[str, Any] | None = None,
        fallback: Transport | None = None,
    ) -> None:
        from werkzeug.test import Client

        self._clients = {
            origin.rstrip("/").lower(): Client(a, use_cookies=False)
            for origin, a in (apps or {}).items()
        }
        self._default = Client(app, use_cookies=False) if app is not None else None
        self.fallback = fallback or HttpTransport()

    def request(
        self, method: str, url: str, form: FormData | None, headers: Mapping[str, str]
    ) -> WebhookResponse:
        client = self._clients.get(origin_of(url), self._default)
        if client is None:
            return self.fallback.request(method, url, form, headers)
        body = urlencode(list(form)).encode() if form is not None else None
        path, base_url = split_for_wsgi(url)
        response = client.open(
            path,
            base_url=base_url,
            method=method,
            data=body,
            headers=dict(headers),
            follow_redirects=True,
        )
        try:
            return WebhookResponse(
                response.status_code, response.get_data(), response.headers.get("Content-Type", "")
            )
        finally:
            response.close()

    def open_stream(self, url: str, headers: Mapping[str, str]) -> StreamConnection:
        return self.fallback.open_stream(url, headers)
