"""Wake-ups for the console's live streams: "the contact log may have grown".

The contact log in the database is the only source of truth; a stream always
reads what to send from it (ids above the last one it sent). The hub only
decides *when* to look, without one polling loop per open browser:

- in this process, a commit that added contact events wakes every waiting
  stream at once, so a screen pop costs one query and one render after the
  transfer is committed: through the runtime's sessions (the console's actions,
  SQLAlchemy `after_commit`), or written by a voice webhook straight through the
  driver (`Database.contact_events_listeners`);
- events written by other processes (other web workers, dialers) are noticed
  by one watcher thread per process that reads `max(contact_event.id)` every
  POLL_SECONDS while at least one stream is open. One cheap primary-key lookup
  per process, whatever the number of agents; the price is a cross-process
  latency of at most POLL_SECONDS (0.2 s by default).

On PostgreSQL, LISTEN/NOTIFY fed by a trigger could replace the watcher's
polling; it would need a migration, and the watcher would still be the fallback.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ivr.models import ContactEvent
from ivr.runtime import Runtime

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
_HUB_KEY = "console_event_hub"
_FLAG = "console_contact_event_added"
_create_lock = threading.Lock()


class EventHub:
    def __init__(self, runtime: Runtime, poll_seconds: float = POLL_SECONDS) -> None:
        self._runtime = runtime
        self.poll_seconds = poll_seconds
        self._changed = threading.Condition()
        self._generation = 0
        self._latest_id = 0
        self._watchers = 0
        self._thread: threading.Thread | None = None
        self._poke = threading.Event()

    # -- for streams ---------------------------------------------------------

    @property
    def generation(self) -> int:
        """Grows by one whenever the log may have grown."""
        with self._changed:
            return self._generation

    def wait(self, generation: int, timeout: float) -> int:
        """Block until the generation moves past `generation` (or `timeout` seconds)."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation, timeout)
            return self._generation

    def watch(self) -> _Watching:
        return _Watching(self)

    # -- for writers ---------------------------------------------------------

    def notify(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    # -- the watcher thread ---------------------------------------------------

    def _attach(self) -> None:
        with self._changed:
            self._watchers += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._watch_database, name="console-event-hub", daemon=True
                )
                self._thread.start()

    def _detach(self) -> None:
        with self._changed:
            self._watchers -= 1
            if self._watchers <= 0:
                self._poke.set()  # let the watcher see it has nobody left to serve

    def _watch_database(self) -> None:
        while True:
            with self._changed:
                if self._watchers <= 0:
                    self._thread = None
                    return
            try:
                with self._runtime.db.session() as session:
                    latest = session.scalar(select(func.max(ContactEvent.id))) or 0
            except Exception:  # a database hiccup must not end live updates
                log.warning("console event hub: could not read the contact log", exc_info=True)
                latest = self._latest_id
            if latest != self._latest_id:
                self._latest_id = latest
                self.notify()
            self._poke.wait(self.poll_seconds)
            self._poke.clear()


class _Watching:
    def __init__(self, hub: EventHub) -> None:
        self._hub = hub

    def __enter__(self) -> EventHub:
        self._hub._attach()
        return self._hub

    def __exit__(self, *exc: Any) -> None:
        self._hub._detach()


def hub_for(runtime: Runtime) -> EventHub:
    """The process's hub for this runtime, hooked to its sessions on first use."""
    hub = runtime.extras.get(_HUB_KEY)
    if hub is not None:
        return hub
    with _create_lock:
        hub = runtime.extras.get(_HUB_KEY)
        if hub is None:
            hub = EventHub(runtime)
            _hook_sessions(runtime, hub)
            runtime.extras[_HUB_KEY] = hub
    return hub


def _hook_sessions(runtime: Runtime, hub: EventHub) -> None:
    runtime.db.contact_events_listeners.append(hub.notify)
    factory = runtime.db.sessions

    @event.listens_for(factory, "after_flush")
    def _mark(session: Session, _context: Any) -> None:
        if any(isinstance(obj, ContactEvent) for obj in session.new):
            session.info[_FLAG] = True

    @event.listens_for(factory, "after_commit")
    def _wake(session: Session) -> None:
        if session.info.pop(_FLAG, False):
            hub.notify()

    @event.listens_for(factory, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(_FLAG, None)


__all__ = ["POLL_SECONDS", "EventHub", "hub_for"]
