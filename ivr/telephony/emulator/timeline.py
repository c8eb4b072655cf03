"""The emulator's discrete-event core: a priority queue of timed events and
generator "processes" that sleep on it.

The same timeline runs in virtual time (``run_until`` / ``run_until_idle``
move an injected clock from event to event) or in real time (a thread sleeps
until the next event is due). Processes are generators that ``yield
Sleep(seconds)``; an interrupt is an exception thrown into the generator at
the point where it sleeps, always from the timeline's own loop, never from
the thread that asked for it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ivr.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sleep:
    seconds: float


ProcessBody = Generator[Sleep, None, Any]


@dataclass
class Process:
    name: str
    body: ProcessBody
    on_exit: Callable[[BaseException | None], None] | None = None
    token: int = 0
    running: bool = False
    finished: bool = False


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)
    label: str = field(compare=False, default="")


class Timeline:
    """Timed events and the processes that wait on them. Thread-safe."""

    def __init__(self, clock: Clock, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.clock = clock
        # Clock seconds per emulated second: below 1 a real-time run goes faster
        # (tests); virtual-time runs keep 1.
        self.time_scale = time_scale
        self.lock = threading.RLock()
        self.progress = threading.Condition(self.lock)
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self._driving = False
        self.events_processed = 0
        self.errors: list[BaseException] = []

    # --- scheduling -----------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, instant: datetime, action: Callable[[], None], label: str = "") -> None:
        with self.lock:
            heapq.heappush(self._events, _Event(instant, next(self._seq), action, label))
            self.progress.notify_all()

    def after(self, seconds: float, action: Callable[[], None], label: str = "") -> None:
        self.at(self.now() + timedelta(seconds=max(0.0, seconds) * self.time_scale), action, label)

    def spawn(
        self,
        name: str,
        body: ProcessBody,
        on_exit: Callable[[BaseException | None], None] | None = None,
        delay: float = 0.0,
    ) -> Process:
        process = Process(name, body, on_exit)
        token = process.token
        self.after(delay, lambda: self._step(process, token, None), f"start {name}")
        return process

    def interrupt(
        self, process: Process, exc: BaseException, condition: Callable[[], bool] | None = None
    ) -> None:
        """Throw `exc` into `process` where it sleeps, as the next event now; if a
        `condition` is given, only if it still holds then."""

        def deliver() -> None:
            if condition is None or condition():
                self._deliver(process, exc)

        self.after(0, deliver, f"interrupt {process.name}")

    def notify(self) -> None:
        """Wake whoever waits in `wait_for` (state changed outside an event)."""
        with self.lock:
            self.progress.notify_all()

    def next_event_at(self) -> datetime | None:
        with self.lock:
            return self._events[0].at if self._events else None

    def pending(self) -> int:
        with self.lock:
            return len(self._events)

    # --- processes ------------------------------------------------------
    def _step(self, process: Process, token: int, exc: BaseException | None) -> None:
        if process.finished or process.token != token:
            return  # a timer superseded by an interrupt, or a finished process
        self._resume(process, exc)

    def _deliver(self, process: Process, exc: BaseException) -> None:
        if process.finished:
            return
        self._resume(process, exc)

    def _resume(self, process: Process, exc: BaseException | None) -> None:
        process.token += 1
        process.running = True
        try:
            request = process.body.send(None) if exc is None else process.body.throw(exc)
        except StopIteration:
            self._finish(process, None)
            return
        except Exception as error:  # a bug in a process must not stop the timeline
            log.exception("emulator process %s failed", process.name)
            self._finish(process, error)
            return
        finally:
            process.running = False
        if not isinstance(request, Sleep):
            self._finish(process, TypeError(f"process {process.name} yielded {request!r}"))
            return
        token = process.token
        self.after(request.seconds, lambda: self._step(process, token, None), process.name)

    def _finish(self, process: Process, error: BaseException | None) -> None:
        process.finished = True
        if process.on_exit is not None:
            process.on_exit(error)

    # --- driving ----------------------------------------------------------
    def _pop_due(self, limit: datetime) -> _Event | None:
        with self.lock:
            if self._events and self._events[0].at <= limit:
                return heapq.heappop(self._events)
            return None

    def _run(self, event: _Event) -> None:
        try:
            event.action()
        except Exception as error:  # keep the network running; tests inspect `errors`
            log.exception("emulator event %s failed", event.label)
            self.errors.append(error)
        with self.lock:
            self.events_processed += 1
            self.progress.notify_all()

    def _advance_clock(self, instant: datetime) -> None:
        setter = getattr(self.clock, "set", None)
        if setter is None:
            raise TypeError(
                "virtual-time runs need a clock with set(instant), e.g. ivr.clock.VirtualClock"
            )
        if instant > self.clock.now():
            setter(instant)

    def run_until(self, instant: datetime, max_events: int | None = None) -> int:
        """Process every event due at or before `instant`, moving the clock to each
        event, then to `instant`. Returns the number of events processed."""
        count = 0
        self._enter()
        try:
            while (event := self._pop_due(instant)) is not None:
                self._advance_clock(event.at)
                self._run(event)
                count += 1
                if max_events is not None and count >= max_events:
                    raise RuntimeError(f"emulator still busy after {count} events")
            self._advance_clock(instant)
        finally:
            self._driving = False
        return count

    def run_until_idle(self, max_events: int = 1_000_000) -> int:
        """Process events until none is left, moving the clock along."""
        count = 0
        self._enter()
        try:
            while (at := self.next_event_at()) is not None:
                event = self._pop_due(at)
                if event is None:
                    continue
                self._advance_clock(event.at)
                self._run(event)
                count += 1
                if count >= max_events:
                    raise RuntimeError(
                        f"emulator still busy after {count} events (a call that never ends?)"
                    )
        finally:
            self._driving = False
        return count

    def run_due(self) -> int:
        """Process the events due at the clock's current instant (for a clock moved
        by someone else)."""
        count = 0
        while (event := self._pop_due(self.now())) is not None:
            self._run(event)
            count += 1
        return count

    def run_forever(self, stop: threading.Event) -> None:
        """Real time: sleep until the next event is due, run it; until `stop` is set."""
        self._enter()
        try:
            self._run_forever(stop)
        finally:
            self._driving = False

    def _run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.lock:
                at = self._events[0].at if self._events else None
                wait = None if at is None else (at - self.now()).total_seconds()
                if wait is None or wait > 0:
                    self.progress.wait(timeout=0.5 if wait is None else min(wait, 0.5))
                    continue
            event = self._pop_due(self.now())
            if event is not None:
                self._run(event)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Real time: block until `predicate()` holds (re-checked after every event)."""
        with self.progress:
            return self.progress.wait_for(predicate, timeout=timeout)

    def _enter(self) -> None:
        with self.lock:
            if self._driving:
                raise RuntimeError(
                    "the emulator's timeline is already being driven (re-entrant run?)"
                )
            self._driving = True
