"""The gunicorn worker for the voice webhook pool: gunicorn's `sync` worker, woken one at a
time.

    gunicorn -w 2 -k ivr.webhook_worker.WebhookWorker -b 127.0.0.1:5001 'ivr:create_app()'

gunicorn's `sync` workers all wait in select() on the one listening socket, so every new
connection wakes every idle worker: one accepts it, the others find nothing and sleep again.
This worker waits with epoll and EPOLLEXCLUSIVE (Linux 4.5 and later), so the kernel wakes
one idle worker per connection, the first in its queue. Under light load that is the same
worker again and again, whose caches (and whose database connection's server process) are
still warm from the last request; the others are woken only when it is busy. On 2 cores at
200 requests/s that took 7 % off the webhooks' CPU per request and 16 % off the minimal
Flask app's (README, "Scaling out").

A request that found the worker idle (it had to wait for the connection) may poll for
PostgreSQL's answers instead of sleeping through each of them, for up to
CORDIAL_WEBHOOK_POLL_MICROSECONDS (ivr.libpq.poll_for_answers): the core would be idle
anyway, and on a virtual machine every sleep costs a wake-up. A request served straight
after another, when connections are queueing, sleeps at once: there the CPU is wanted.

Everything else (parsing, the request itself, timeouts, signals, graceful shutdown) is the
`sync` worker's own. Without EPOLLEXCLUSIVE, or with more than one listening socket, it is
the `sync` worker unchanged.
"""

from __future__ import annotations

import errno
import os
import select
from typing import Any

from gunicorn.workers.sync import SyncWorker

from ivr import libpq

# What accept() raises when the connection it was woken for is gone (another process took
# it, or the client gave up): wait again.
_NOTHING_TO_ACCEPT = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)


def exclusive_wakeups_available() -> bool:
    return hasattr(select, "epoll") and hasattr(select, "EPOLLEXCLUSIVE")


class WebhookWorker(SyncWorker):
    """gunicorn's sync worker that waits for connections with EPOLLEXCLUSIVE."""

    # An idle worker also looks for connections this often without being woken: on kernels
    # before 6.0 a wakeup meant for it could go to a worker already woken (and so busy), and
    # the connection would wait for that worker's request, or for this, not longer.
    longest_sleep_seconds = 1.0

    def run_for_one(self, timeout: float) -> None:
        listener = self.sockets[0]
        wakeup = self.PIPE[0]  # gunicorn writes a byte there on every signal
        waiting = _exclusive_waiting(listener.fileno(), wakeup)
        if waiting is None:
            super().run_for_one(timeout)
            return
        poll_seconds = idle_poll_seconds(self.wsgi)
        waited = True  # for the first connection: the worker has just started
        with waiting:
            while self.alive:
                self.notify()
                try:
                    # Serve every connection already waiting before sleeping again.
                    libpq.poll_for_answers(poll_seconds if waited else 0.0)
                    self.accept(listener)
                    waited = False
                    continue
                except OSError as e:
                    if e.errno not in _NOTHING_TO_ACCEPT:
                        raise
                if not self.is_parent_alive():
                    return
                waited = True
                for fd, _events in waiting.poll(min(timeout, self.longest_sleep_seconds)):
                    if fd == wakeup:
                        _drain(wakeup)


def idle_poll_seconds(app: Any) -> float:
    """How long a request that found the worker idle polls for each database answer: the
    app's CORDIAL_WEBHOOK_POLL_MICROSECONDS on PostgreSQL; 0 for SQLite (in-process, no
    answer to wait for) and for an app that is not Cordial's."""
    runtime = getattr(app, "extensions", {}).get("cordial")
    if runtime is None or not runtime.db.is_postgres:
        return 0.0
    return runtime.config.get_int("CORDIAL_WEBHOOK_POLL_MICROSECONDS") / 1_000_000


def _exclusive_waiting(listener: int, wakeup: int) -> select.epoll | None:
    """An epoll set with the listening socket in exclusive mode and gunicorn's signal pipe;
    None where exclusive wakeups are missing (not Linux) or the kernel refuses the flag
    (EINVAL). A kernel older than 4.5 ignores it: every idle worker wakes, as with the sync
    worker."""
    if not exclusive_wakeups_available():
        return None
    waiting = select.epoll()
    try:
        waiting.register(listener, select.EPOLLIN | select.EPOLLEXCLUSIVE)
        waiting.register(wakeup, select.EPOLLIN)
    except OSError:
        waiting.close()
        return None
    return waiting


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 64):
            pass
    except BlockingIOError:  # the pipe is non-blocking: empty now
        pass


__all__ = ["WebhookWorker", "exclusive_wakeups_available", "idle_poll_seconds"]
