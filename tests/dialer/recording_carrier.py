"""An in-process carrier that records what the dialer asks of it.

Used only where the test is about the dialer's own decisions (claims, leases,
pacing); the end-to-end tests use the local carrier emulator through the real SDK.
"""

from __future__ import annotations

import itertools
import threading

from ivr.telephony.carrier import CallInfo, CallRequest, CarrierError, MessageInfo, MessageRequest


class RecordingCarrier:
    def __init__(self) -> None:
        self.calls: dict[str, CallRequest] = {}
        self.status: dict[str, str] = {}
        self.messages: list[MessageRequest] = []
        self.fail_next = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _info(self, sid: str) -> CallInfo:
        req = self.calls[sid]
        return CallInfo(sid=sid, status=self.status[sid], to=req.to, from_=req.from_)

    def place_call(self, request: CallRequest) -> CallInfo:
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                raise CarrierError("carrier said no (test)")
            sid = f"CA{next(self._ids):032d}"
            self.calls[sid] = request
            self.status[sid] = "queued"
            return self._info(sid)

    def find_call(self, request: CallRequest) -> CallInfo | None:
        for sid, req in self.calls.items():
            if req.idempotency_key == request.idempotency_key:
                return self._info(sid)
        return None

    def fetch_call(self, sid: str) -> CallInfo:
        return self._info(sid)

    def end_call(self, sid: str) -> CallInfo:
        self.status[sid] = "completed"
        return self._info(sid)

    def redirect_call(self, sid: str, url: str) -> CallInfo:
        return self._info(sid)

    def send_message(self, request: MessageRequest) -> MessageInfo:
        self.messages.append(request)
        return MessageInfo(sid=f"SM{len(self.messages):032d}", status="queued")

    def numbers_called(self) -> list[str]:
        return [r.to for r in self.calls.values()]
