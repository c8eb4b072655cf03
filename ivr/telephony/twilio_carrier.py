"""The Twilio carrier adapter: the carrier interface over the official `twilio` SDK.

Transient failures (HTTP 429, 5xx, connection errors, timeouts) are retried
with capped exponential backoff. A request that may have reached Twilio can
have created the call even though no answer came back, so before every retry
of `place_call` the adapter looks the call up (to the same number, from the
same caller ID, created at or after the claim instant) and returns it if it
exists: one request never yields two calls. Messages get the same treatment.

`api_base_url` points the same SDK code at another server with Twilio's API
(the local carrier emulator): an SDK HTTP client rewrites the SDK's
``https://api.twilio.com`` URLs to that base; nothing else changes.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from ivr.clock import Clock, SystemClock

from .carrier import (
    CallInfo,
    CallRequest,
    CarrierError,
    CarrierOutcomeUnknown,
    MessageInfo,
    MessageRequest,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]


class TwilioCarrierError(CarrierError):
    """Twilio refused a request, or it kept failing. Carries Twilio's HTTP status
    and error code when there was an answer (e.g. 21211: invalid 'To' number)."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TwilioOutcomeUnknown(TwilioCarrierError, CarrierOutcomeUnknown):
    """A request failed in a way that leaves open whether Twilio acted on it (a create
    that kept failing, a redirect that timed out)."""


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending requests meant for ``*.twilio.com`` to
    `api_base_url` instead (scheme, host and port replaced; path kept)."""

    def __init__(self, api_base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(api_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"api_base_url {api_base_url!r} must look like http://127.0.0.1:8080")
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._path_prefix = parts.path.rstrip("/")

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        return urlunsplit(
            parts._replace(
                scheme=self._scheme, netloc=self._netloc, path=self._path_prefix + parts.path
            )
        )

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.rewrite(url), *args, **kwargs)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter: attempt n waits about base * 2**(n-1)."""

    max_attempts: int = 5
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0

    def delay(self, retry_number: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (retry_number - 1))
        return ceiling * (0.5 + 0.5 * rng.random())  # jitter spreads workers retrying together


def mask_number(number: str) -> str:
    """A phone number fit for logs (BR-LGPD): prefix and last two digits only."""
    bare = number.removeprefix("whatsapp:")
    prefix = "whatsapp:" if number.startswith("whatsapp:") else ""
    if len(bare) <= 5:
        return prefix + "***"
    return prefix + bare[:3] + "*" * (len(bare) - 5) + bare[-2:]


def _http_status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    # Page.process_response raises TwilioException("Unable to fetch page", response)
    if isinstance(exc, TwilioException) and len(exc.args) > 1 and isinstance(exc.args[1], Response):
        return exc.args[1].status_code
    return None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: rate limited, a server error, or no answer at all."""
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    status = _http_status(exc)
    return status is not None and (status == 429 or status >= 500)


# A phone number inside a carrier's message ("Invalid 'To' Phone Number: +5511987654321"),
# with or without its plus sign or a whatsapp: prefix.
_NUMBER_IN_TEXT = re.compile(r"(?:whatsapp:)?\+?\d{8,15}")


def _describe(exc: BaseException) -> str:
    """The error's message, fit for logs and contact events: phone numbers masked (BR-LGPD)."""
    message = (
        getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    )
    return _NUMBER_IN_TEXT.sub(lambda m: mask_number(m.group()), str(message or exc))


class TwilioCarrier:
    """The carrier interface on Twilio (or anything serving Twilio's API)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base_url: str | None = None,
        *,
        http_client: HttpClient | None = None,
        http_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        clock_skew_seconds: float = 2.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioCarrier needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if http_client is None:
            http_client = (
                BaseUrlHttpClient(api_base_url, timeout=http_timeout)
                if api_base_url
                else TwilioHttpClient(timeout=http_timeout)
            )
        self.account_sid = account_sid
        self.api_base_url = api_base_url
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        # How far Twilio's clock may be behind ours: lookups reach back this much.
        self.clock_skew = timedelta(seconds=clock_skew_seconds)

    # --- calls --------------------------------------------------------------
    def place_call(self, request: CallRequest) -> CallInfo:
        lookup = replace(request, not_before=request.not_before or self._clock.now())
        params: dict[str, Any] = {
            "to": request.to,
            "from_": request.from_,
            "url": request.url,
            "method": "POST",
            "status_callback": request.status_callback,
            "status_callback_event": STATUS_CALLBACK_EVENTS,
            "status_callback_method": "POST",
            "timeout": request.timeout_seconds,
        }
        if request.machine_detection:
            # Answered when the machine's greeting ends (machine_end_beep, ...), not as soon as
            # a machine is heard: a voicemail left at once would be spoken over the greeting.
            # A person is reported as soon as with "Enable".
            params["machine_detection"] = "DetectMessageEnd"
        if request.record:
            params["record"] = True
        what = f"place call {request.idempotency_key} to {mask_number(request.to)}"
        return self._create_without_duplicates(
            what,
            create=lambda: self._call_info(self.client.calls.create(**params)),
            lookup=lambda: self._find_call_once(lookup),
            deadline=request.place_by,
        )

    def find_call(self, request: CallRequest) -> CallInfo | None:
        if request.not_before is None:
            raise ValueError("find_call needs request.not_before (the claim instant)")
        return self._with_retries(
            f"look up call {request.idempotency_key}", lambda: self._find_call_once(request)
        )

    def _find_call_once(self, request: CallRequest) -> CallInfo | None:
        """The earliest call to request.to from request.from_ created at or after
        request.not_before, less the allowed clock skew (Twilio stamps calls with
        its own clock, in whole seconds), that is not one of the calls already known
        to belong to other attempts. The Calls list filters start times by whole
        UTC days and a queued call has no start time yet, so both lists are read
        and the instant is checked here."""
        assert request.not_before is not None
        not_before = (request.not_before - self.clock_skew).replace(microsecond=0)
        day = not_before.astimezone(UTC).date().isoformat()
        calls = self.client.calls
        started = calls.list(to=request.to, from_=request.from_, start_time_after=day, page_size=50)
        queued = calls.list(to=request.to, from_=request.from_, status="queued", page_size=50)
        found = {
            c.sid: c
            for c in [*started, *queued]
            if c.date_created is not None
            and c.date_created >= not_before
            and c.sid not in request.known_call_sids
        }
        if not found:
            return None
        first = min(found.values(), key=lambda c: (c.date_created, c.sid))
        return self._call_info(first)

    def fetch_call(self, sid: str) -> CallInfo:
        return self._with_retries(
            f"fetch call {sid}", lambda: self._call_info(self.client.calls(sid).fetch())
        )

    def end_call(self, sid: str) -> CallInfo:
        # Idempotent: ending an ended call changes nothing.
        return self._with_retries(
            f"end call {sid}",
            lambda: self._call_info(self.client.calls(sid).update(status="completed")),
        )

    def redirect_call(self, sid: str, url: str) -> CallInfo:
        # Not idempotent (a second redirect restarts the new TwiML): retried only
        # when the request surely did not reach Twilio.
        return self._with_retries(
            f"redirect call {sid}",
            lambda: self._call_info(self.client.calls(sid).update(url=url, method="POST")),
            retry_if=_surely_not_applied,
        )

    # --- messages -------------------------------------------------------------
    def send_message(self, request: MessageRequest) -> MessageInfo:
        to, from_ = request.to, request.from_
        if request.channel == "whatsapp":
            to = to if to.startswith("whatsapp:") else f"whatsapp:{to}"
            from_ = from_ if from_.startswith("whatsapp:") else f"whatsapp:{from_}"
        elif request.channel != "sms":
            raise ValueError(f"message channel {request.channel!r} is not sms or whatsapp")
        params: dict[str, Any] = {"to": to, "from_": from_}
        if request.content_sid:
            # A template: Twilio renders the approved text; a Body beside it is not allowed.
            params["content_sid"] = request.content_sid
            if request.content_variables:
                params["content_variables"] = json.dumps(
                    dict(request.content_variables), ensure_ascii=False
                )
        elif request.content_variables:
            raise ValueError("content_variables need a content_sid")
        else:
            params["body"] = request.body
        if request.status_callback:
            params["status_callback"] = request.status_callback
        not_before = self._clock.now()
        key = f" {request.idempotency_key}" if request.idempotency_key else ""
        # A template's rendered text is Twilio's (the approved one may differ from Cordial's
        # copy in a space or an accent): such a message is recognised by sender, recipient and
        # time alone, which at worst takes another second copy sent in the same seconds for it.
        body = None if request.content_sid else request.body
        return self._create_without_duplicates(
            f"send {request.channel}{key} to {mask_number(to)}",
            create=lambda: self._message_info(self.client.messages.create(**params)),
            lookup=lambda: self._find_message_once(to, from_, body, not_before),
            deadline=request.send_by,
        )

    def _find_message_once(
        self, to: str, from_: str, body: str | None, not_before: datetime
    ) -> MessageInfo | None:
        cutoff = (not_before - self.clock_skew).replace(microsecond=0)
        for message in self.client.messages.list(to=to, from_=from_, limit=20):
            if (
                (body is None or message.body == body)
                and message.date_created is not None
                and message.date_created >= cutoff
            ):
                return self._message_info(message)
        return None

    # --- plumbing ---------------------------------------------------------------
    def _create_without_duplicates(
        self,
        what: str,
        create: Callable[[], T],
        lookup: Callable[[], T | None],
        deadline: datetime | None = None,
    ) -> T:
        """Create something, retrying what Twilio did not refuse; before each retry look for
        what an earlier attempt may have created, and never create without looking. No
        create request is sent at or after `deadline`.

        Once a request may have been acted on (a timeout, a 5xx, an answer cut off on the
        way back), every way of giving up raises TwilioOutcomeUnknown: a later refusal, a
        failed lookup or the deadline says nothing about what that request created. A plain
        TwilioCarrierError means surely nothing was created."""
        last_error: BaseException | None = None
        uncertain = False  # an earlier request may have created it

        def give_up(reason: str) -> TwilioCarrierError:
            error = last_error or Exception("no answer")
            if not uncertain:
                return TwilioCarrierError(
                    f"did not {what}: {reason} ({_describe(error)})", status=_http_status(error)
                )
            return TwilioOutcomeUnknown(
                f"stopped trying to {what}: {reason} ({_describe(error)}); it may still have "
                "been created: reconcile before trying again",
                status=_http_status(error),
            )

        for attempt in range(1, self.retry.max_attempts + 1):
            if attempt > 1:
                pause = self.retry.delay(attempt - 1, self._rng)
                if deadline is not None:
                    pause = min(pause, max(0.0, (deadline - self._clock.now()).total_seconds()))
                self._sleep(pause)
                if deadline is not None and self._clock.now() >= deadline:
                    raise give_up(f"its deadline passed after {attempt - 1} attempt(s)")
                try:
                    existing = lookup()
                except Exception as exc:
                    if _refused_by_twilio(exc):
                        last_error = exc
                        if uncertain:
                            raise give_up("the look-up before a retry was refused") from exc
                        raise self._refused(exc, what) from exc
                    last_error = exc
                    log.warning(
                        "%s: lookup before retry %d failed: %s", what, attempt, _describe(exc)
                    )
                    continue
                if existing is not None:
                    log.info("%s: attempt %d found what an earlier attempt created", what, attempt)
                    return existing
            # The look-up and the pause take time too: the deadline once more, just before.
            if deadline is not None and self._clock.now() >= deadline:
                if attempt == 1:
                    raise TwilioCarrierError(f"did not {what}: its deadline had passed")
                raise give_up(f"its deadline passed after {attempt - 1} attempt(s)")
            try:
                return create()
            except Exception as exc:
                last_error = exc
                if _refused_by_twilio(exc):
                    if uncertain:
                        raise give_up("a retry was refused") from exc
                    raise self._refused(exc, what) from exc
                uncertain = uncertain or not _surely_not_applied(exc)
                log.warning("%s: attempt %d failed: %s", what, attempt, _describe(exc))
        raise give_up(f"{self.retry.max_attempts} attempts failed")

    def _with_retries(
        self,
        what: str,
        operation: Callable[[], T],
        retry_if: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return operation()
            except Exception as exc:
                if not retry_if(exc):
                    if is_transient(exc):
                        raise TwilioOutcomeUnknown(
                            f"could not {what}: {_describe(exc)} (not retried: it may have been applied)",
                            status=_http_status(exc),
                        ) from exc
                    raise self._refused(exc, what) from exc
                if attempt == self.retry.max_attempts:
                    raise TwilioCarrierError(
                        f"could not {what} after {attempt} attempts: {_describe(exc)}",
                        status=_http_status(exc),
                    ) from exc
                log.warning("%s: attempt %d failed: %s", what, attempt, _describe(exc))
                self._sleep(self.retry.delay(attempt, self._rng))
        raise AssertionError("unreachable")

    @staticmethod
    def _refused(exc: BaseException, what: str) -> TwilioCarrierError:
        status = _http_status(exc)
        code = getattr(exc, "code", None)
        detail = f" (Twilio error {code}, HTTP {status})" if status else ""
        return TwilioCarrierError(
            f"Twilio refused to {what}: {_describe(exc)}{detail}", status=status, code=code
        )

    @staticmethod
    def _message_info(message: Any) -> MessageInfo:
        return MessageInfo(sid=message.sid or "", status=str(message.status or "queued"))

    @staticmethod
    def _call_info(call: Any) -> CallInfo:
        duration = call.duration
        return CallInfo(
            sid=call.sid,
            status=str(call.status),
            to=call.to,
            from_=call._from,
            answered_by=call.answered_by,
            duration_seconds=int(duration) if duration not in (None, "") else None,
            start_time=call.start_time,
            end_time=call.end_time,
        )


def _refused_by_twilio(exc: BaseException) -> bool:
    """Twilio answered and turned the request down (HTTP 4xx other than 429): nothing
    was done, and asking again the same way gets the same answer."""
    status = _http_status(exc)
    return status is not None and 400 <= status < 500 and status != 429


def _surely_not_applied(exc: BaseException) -> bool:
    """The request never reached Twilio, or Twilio turned it away unprocessed."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, urllib3.exceptions.NewConnectionError)  # refused: never sent
    return _http_status(exc) == 429
