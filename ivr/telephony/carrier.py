"""The carrier interface: the four things Cordial asks of a phone network.

The dialer, the voice flow and the console use only this; adapters (Twilio,
the local carrier emulator reached through the same Twilio SDK) implement it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class CarrierError(RuntimeError):
    """The carrier refused or failed a request after retries."""


class CarrierOutcomeUnknown(CarrierError):
    """A create request kept failing in a way that leaves open whether the carrier acted on
    it: the call (or message) may exist. Look it up before anything else; never count it as
    not placed, never send it again blind."""


@dataclass(frozen=True)
class CallRequest:
    to: str  # E.164
    from_: str  # the campaign's caller ID, E.164
    url: str  # answer webhook (absolute, public URL)
    status_callback: str  # status webhook (absolute, public URL)
    idempotency_key: str  # the attempt's key; a retried request never creates a second call
    machine_detection: bool = True
    record: bool = False
    timeout_seconds: int = 30  # ring time before no-answer
    not_before: datetime | None = None  # the claim instant: a lookup before retrying ignores older calls
    # Calls to this number already recorded on other attempts: a lookup never takes one of
    # them for this request's call (a re-call can come within the lookup's clock-skew reach).
    known_call_sids: frozenset[str] = frozenset()
    # No create request is sent at or after this instant: the checks that allowed the call
    # (its window above all) hold only until then. Retries stop there.
    place_by: datetime | None = None


@dataclass(frozen=True)
class CallInfo:
    sid: str
    status: str  # queued | ringing | in-progress | completed | busy | no-answer | failed | canceled
    to: str
    from_: str
    answered_by: str | None = None  # human | machine_start | ... (Twilio's AnsweredBy)
    duration_seconds: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True)
class MessageRequest:
    to: str
    from_: str
    # The text the recipient reads. With a content template it is not sent (the carrier
    # renders the approved template); it is what Cordial expects that rendering to be.
    body: str
    channel: str = "sms"  # sms | whatsapp
    status_callback: str | None = None
    idempotency_key: str | None = None
    # No send request at or after this instant (a caller waiting on the line): retries stop.
    send_by: datetime | None = None
    # An approved template (Twilio Content API, HX...) and its variables ({"1": ...}):
    # what WhatsApp requires of a message the business starts.
    content_sid: str | None = None
    content_variables: Mapping[str, str] | None = None


@dataclass(frozen=True)
class MessageInfo:
    sid: str
    status: str


class Carrier(Protocol):
    def place_call(self, request: CallRequest) -> CallInfo:
        """Create an outbound call. Retries transient errors, looking the call up
        first, so that one request never yields two calls."""
        ...

    def fetch_call(self, sid: str) -> CallInfo: ...

    def find_call(self, request: CallRequest) -> CallInfo | None:
        """The call this request already created, if any (to the same number, from the
        same caller ID, created at or after request.not_before, not one of
        request.known_call_sids)."""
        ...

    def end_call(self, sid: str) -> CallInfo: ...

    def redirect_call(self, sid: str, url: str) -> CallInfo:
        """Move a live call to new TwiML (e.g. take it out of the queue to an agent)."""
        ...

    def send_message(self, request: MessageRequest) -> MessageInfo: ...
