"""Fault injection for the emulator's REST API: prove that clients retry well.

Each fault applies to the next N requests of one operation
(``calls.create``, ``calls.list``, ``calls.fetch``, ``calls.update``,
``messages.create``, ``messages.list``, ``messages.fetch``):

- an HTTP error status (429, 500, 503, ...), either instead of doing the work
  or *after* doing it (``after_effect=True``: the call is created, the client
  is told 500);
- a timeout after doing the work: over a real socket the response is held
  until the client gives up; in-process the SDK's HTTP client raises
  ``requests.exceptions.ReadTimeout``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

OPERATIONS = frozenset(
    {
        "calls.create",
        "calls.list",
        "calls.fetch",
        "calls.update",
        "messages.create",
        "messages.list",
        "messages.fetch",
    }
)


@dataclass(frozen=True)
class Fault:
    kind: str  # "status" | "timeout"
    status: int = 503
    after_effect: bool = False
    hold_seconds: float = 30.0


class FaultPlan:
    """Faults waiting for the next requests of each operation. Thread-safe."""

    def __init__(self) -> None:
        self._pending: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self.injected: list[tuple[str, Fault]] = []

    def fail_next(
        self,
        operation: str = "calls.create",
        count: int = 1,
        status: int = 503,
        after_effect: bool = False,
    ) -> None:
        """The next `count` requests of `operation` answer `status`."""
        if status < 400:
            raise ValueError(f"a failure status must be 4xx or 5xx, not {status}")
        self._add(operation, count, Fault("status", status=status, after_effect=after_effect))

    def time_out_next(
        self, operation: str = "calls.create", count: int = 1, hold_seconds: float = 30.0
    ) -> None:
        """The next `count` requests of `operation` do their work, then never answer in time."""
        self._add(operation, count, Fault("timeout", after_effect=True, hold_seconds=hold_seconds))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, operation: str) -> Fault | None:
        with self._lock:
            queue = self._pending.get(operation)
            if not queue:
                return None
            fault = queue.pop(0)
            self.injected.append((operation, fault))
            return fault

    def _add(self, operation: str, count: int, fault: Fault) -> None:
        if operation not in OPERATIONS:
            raise ValueError(
                f"unknown operation {operation!r}; expected one of {', '.join(sorted(OPERATIONS))}"
            )
        with self._lock:
            self._pending.setdefault(operation, []).extend([fault] * count)
