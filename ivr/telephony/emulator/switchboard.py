"""Queues callers wait in (<Enqueue>) and bridges that connect two calls
(<Dial><Queue> taking a caller out of a queue, a <Dial> reaching an agent).

Leaving a bridge tells the other side (a `PartnerLeft` interrupt); an agent
dequeuing a caller tells the caller (`Bridged`); a caller's patience in the
queue runs out as a `HungUp`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .interpreter import Bridged, HungUp, PartnerLeft
from .records import EmulatedCall

if TYPE_CHECKING:
    from .emulator import CarrierEmulator

MAX_QUEUE_SIZE = 1000


def _still_waiting_in(call: EmulatedCall, queue: str) -> bool:
    return call.queue == queue and not call.ended


@dataclass
class QueueEntry:
    queue: str
    queue_sid: str
    call_sid: str
    entered_at: datetime
    bridged_with: str | None = None


@dataclass
class CallQueue:
    sid: str
    members: list[QueueEntry] = field(default_factory=list)
    waiting_dequeuers: list[str] = field(default_factory=list)
    total_wait_seconds: float = 0.0
    served: int = 0


class Switchboard:
    def __init__(self, emulator: CarrierEmulator) -> None:
        self.emu = emulator
        self.queues: dict[str, CallQueue] = {}

    def queue(self, name: str) -> CallQueue:
        with self.emu.lock:
            if name not in self.queues:
                self.queues[name] = CallQueue(sid=self.emu.new_sid("QU"))
            return self.queues[name]

    def enqueue(self, call: EmulatedCall, name: str) -> QueueEntry:
        emu = self.emu
        with emu.lock:
            queue = self.queue(name)
            entry = QueueEntry(name, queue.sid, call.sid, emu.now())
            call.queue = name
            if queue.waiting_dequeuers:  # an agent is already dialing this queue
                dequeuer = emu.calls[queue.waiting_dequeuers.pop(0)]
                entry.bridged_with = call.bridged_with = dequeuer.sid
                if dequeuer.process is not None:
                    emu.timeline.interrupt(
                        dequeuer.process,
                        Bridged(call.sid),
                        condition=lambda: dequeuer.awaiting_queue == name and not dequeuer.ended,
                    )
            else:
                queue.members.append(entry)
        patience = call.persona.queue_patience_seconds
        process = call.process

        def out_of_patience() -> None:
            if (
                call.queue != name
                or entry.bridged_with is not None
                or call.ended
                or process is None
            ):
                return
            call.note(emu.now(), "persona_hangs_up", reason=f"waited {patience} s in queue {name}")
            emu.timeline.interrupt(
                process,
                HungUp("caller"),
                condition=lambda: entry.bridged_with is None and not call.ended,
            )

        emu.timeline.after(patience, out_of_patience, f"queue patience {call.sid}")
        emu.timeline.notify()
        return entry

    def leave(self, call: EmulatedCall, entry: QueueEntry) -> None:
        with self.emu.lock:
            queue = self.queues.get(entry.queue)
            if queue is not None:
                if entry in queue.members:
                    queue.members.remove(entry)
                queue.total_wait_seconds += (self.emu.now() - entry.entered_at).total_seconds()
                queue.served += 1
            if call.queue == entry.queue:
                call.queue = None

    def drop(self, call: EmulatedCall) -> None:
        """Forget a call that ended, wherever it waited."""
        with self.emu.lock:
            for queue in self.queues.values():
                queue.members = [m for m in queue.members if m.call_sid != call.sid]
                queue.waiting_dequeuers = [s for s in queue.waiting_dequeuers if s != call.sid]
            call.queue = None

    def wait_parameters(self, entry: QueueEntry) -> dict[str, str]:
        """What Twilio sends to a queue's waitUrl."""
        with self.emu.lock:
            queue = self.queue(entry.queue)
            position = next((i + 1 for i, m in enumerate(queue.members) if m is entry), 0)
            average = int(queue.total_wait_seconds / queue.served) if queue.served else 0
            return {
                "QueueSid": queue.sid,
                "QueuePosition": str(position),
                "QueueTime": str(int((self.emu.now() - entry.entered_at).total_seconds())),
                "AvgQueueTime": str(average),
                "CurrentQueueSize": str(len(queue.members)),
                "MaxQueueSize": str(MAX_QUEUE_SIZE),
            }

    def take_front(self, name: str, dequeuer: EmulatedCall) -> EmulatedCall | None:
        """The first caller still waiting in `name`, now bridged to `dequeuer`."""
        emu = self.emu
        with emu.lock:
            queue = self.queue(name)
            while queue.members:
                entry = queue.members.pop(0)
                member = emu.calls[entry.call_sid]
                if member.ended:
                    continue
                entry.bridged_with = member.bridged_with = dequeuer.sid
                if member.process is not None:
                    emu.timeline.interrupt(
                        member.process,
                        Bridged(dequeuer.sid),
                        condition=functools.partial(_still_waiting_in, member, name),
                    )
                return member
            return None

    def wait_for_member(self, name: str, dequeuer: EmulatedCall) -> None:
        with self.emu.lock:
            self.queue(name).waiting_dequeuers.append(dequeuer.sid)
            dequeuer.awaiting_queue = name

    def stop_waiting(self, name: str, dequeuer: EmulatedCall) -> None:
        with self.emu.lock:
            queue = self.queue(name)
            queue.waiting_dequeuers = [s for s in queue.waiting_dequeuers if s != dequeuer.sid]
            dequeuer.awaiting_queue = None

    def leave_bridge(self, call: EmulatedCall) -> None:
        """`call` is no longer connected to its partner; tell the partner."""
        partner_sid, call.bridged_with = call.bridged_with, None
        partner = self.emu.calls.get(partner_sid or "")
        if partner is None or partner.bridged_with != call.sid or partner.process is None:
            return
        self.emu.timeline.interrupt(
            partner.process,
            PartnerLeft(call.sid),
            condition=lambda: partner.bridged_with == call.sid,
        )
