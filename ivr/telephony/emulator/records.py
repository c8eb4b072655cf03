"""What the emulator knows and observed: calls, messages and their logs.

Every call and message keeps an append-only log of what happened to it
(status changes, webhooks and their answers, verbs interpreted, prompts the
persona heard, keys pressed, status callbacks, media frames sent). Tests read
it; ``CarrierEmulator.audit_log()`` exports all of it for an independent audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .personas import Persona
    from .timeline import Process

TERMINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    kind: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, **self.detail}


@dataclass
class EmulatedCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    persona: Persona
    date_created: datetime
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})
    machine_detection: str | None = None
    record: bool = False
    timeout: int = 60
    direction: str = "outbound-api"
    parent_call_sid: str | None = None
    status: str = "queued"
    date_updated: datetime | None = None
    start_time: datetime | None = None
    answered_at: datetime | None = None
    end_time: datetime | None = None
    answered_by: str | None = None
    hangup_source: str | None = None
    finalized: bool = False  # end_call has run (status callback sent, streams closed)
    callback_sequence: int = 0
    gathers: int = 0
    heard_since_gather: list[str] = field(default_factory=list)
    queue: str | None = None
    bridged_with: str | None = None
    dialing: str | None = None  # the other leg of the current <Dial>
    awaiting_queue: str | None = None  # a <Dial><Queue> waiting for a caller
    twiml_started: bool = False  # the first TwiML document was requested
    recording_sid: str | None = None
    process: Process | None = None
    streams: list[Any] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_CALL_STATUSES

    @property
    def live(self) -> bool:
        return self.status == "in-progress"

    @property
    def duration(self) -> int | None:
        if not self.ended:
            return None
        if self.answered_at is None or self.end_time is None:
            return 0
        return int((self.end_time - self.answered_at).total_seconds())

    def note(self, at: datetime, kind: str, **detail: Any) -> None:
        self.log.append(LogEntry(at, kind, detail))

    def entries(self, kind: str) -> list[LogEntry]:
        return [e for e in self.log if e.kind == kind]

    @property
    def transcript(self) -> list[str]:
        """What the persona heard, in order: Say texts and Play URLs."""
        return [
            e.detail.get("text") or e.detail["url"] for e in self.log if e.kind in ("say", "play")
        ]

    @property
    def keys_pressed(self) -> list[str]:
        return [e.detail["digits"] for e in self.log if e.kind == "keys"]

    @property
    def status_callbacks(self) -> list[dict[str, Any]]:
        return [e.detail for e in self.log if e.kind == "status_callback"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "persona": self.persona.name,
            "status": self.status,
            "answered_by": self.answered_by,
            "date_created": self.date_created.isoformat(),
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "duration": self.duration,
            "parent_call_sid": self.parent_call_sid,
            "log": [e.to_dict() for e in self.log],
        }


@dataclass
class EmulatedMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str  # with a content template, the template's text with the variables filled in
    date_created: datetime
    status_callback: str | None = None
    status: str = "queued"
    date_updated: datetime | None = None
    date_sent: datetime | None = None
    content_sid: str | None = None  # the template it was sent with (Content API, HX...)
    content_variables: dict[str, str] | None = None
    error_code: int | None = None  # why it failed or was undelivered (Twilio's code)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def channel(self) -> str:
        return "whatsapp" if self.to.startswith("whatsapp:") else "sms"

    def note(self, at: datetime, kind: str, **detail: Any) -> None:
        self.log.append(LogEntry(at, kind, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "content_sid": self.content_sid,
            "content_variables": self.content_variables,
            "status": self.status,
            "error_code": self.error_code,
            "date_created": self.date_created.isoformat(),
            "log": [e.to_dict() for e in self.log],
        }
