"""The official `twilio` SDK talking to the emulator in-process: an SDK
`HttpClient` that hands each request to the emulator's WSGI app (no socket),
and `EmulatorCarrier`, the Twilio adapter wired to it."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from twilio.http import HttpClient
from twilio.http.response import Response
from werkzeug.test import Client

from ivr.telephony.twilio_carrier import TwilioCarrier

from .rest_api import IN_PROCESS_ENVIRON_KEY, SIMULATED_TIMEOUT_HEADER
from .transport import split_for_wsgi

if TYPE_CHECKING:
    from .emulator import CarrierEmulator


def _no_sleep(_: float) -> None:
    """Retries in virtual time do not wait on the wall clock."""


class WsgiHttpClient(HttpClient):
    """An SDK HTTP client that calls a WSGI app in-process instead of the network.

    The SDK still builds every request (URLs under https://api.twilio.com, form
    encoding, Basic auth) and parses every response; only the socket is skipped."""

    def __init__(self, wsgi_app: Any, timeout: float | None = None) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self._client = Client(wsgi_app, use_cookies=False)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        parts = urlsplit(url)
        query = [(k, v) for k, v in (params or {}).items() if v is not None]
        full = urlunsplit(
            parts._replace(
                query="&".join(q for q in (parts.query, urlencode(query, doseq=True)) if q)
            )
        )
        body = (
            urlencode([(k, v) for k, v in (data or {}).items() if v is not None], doseq=True)
            if data
            else None
        )
        self.log_request({"method": method, "url": full, "params": None, "headers": headers})
        path, base_url = split_for_wsgi(full)
        response = self._client.open(
            path,
            base_url=base_url,
            method=method.upper(),
            data=body,
            headers=headers,
            environ_overrides={IN_PROCESS_ENVIRON_KEY: True},
        )
        try:
            if response.headers.get(SIMULATED_TIMEOUT_HEADER):
                raise requests.exceptions.ReadTimeout(f"simulated read timeout: {method} {url}")
            result = Response(
                response.status_code, response.get_data(as_text=True), dict(response.headers)
            )
        finally:
            response.close()
        self._test_only_last_response = result
        return result


class EmulatorCarrier(TwilioCarrier):
    """The Twilio adapter, SDK and all, with the emulator as its network (in-process)."""

    def __init__(self, emulator: CarrierEmulator, **kwargs: Any) -> None:
        kwargs.setdefault("sleep", _no_sleep)
        kwargs.setdefault("clock", emulator.clock)
        super().__init__(
            emulator.account_sid,
            emulator.auth_token,
            http_client=WsgiHttpClient(emulator.rest_app),
            **kwargs,
        )
        self.emulator = emulator
